"""A video as a list of spans: one trajectory per shot or face track, faceless frames passed through.

Every video is a list of spans (see :mod:`dynode.io.shots`); a video of one shot is the
length-one case. A fitted span is a :class:`Part`: its codes and its trajectory. A clip over the
video is made on one time grid, shared among the spans by :func:`assign` and put together by
:func:`compose`: a time belongs to the span that started last at or before it. In a fitted span it
is rendered from that span's part, held at the span's last frame up to the next span (so nothing
morphs across a cut); times before the first span or after the last go to a fitted end span as
they are (solved backwards, or extrapolated). In a passed-through span the source's own frames
are shown (cropped as the inverted frames were, or whole with ``full_frame``), interpolated by
optical flow between the frames around a new time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np
import torch

from dynode.align.paste import paste_stream
from dynode.dynamics import Trajectory
from dynode.errors import InputError
from dynode.flow import flow_stream
from dynode.io.crops import crop, matrices
from dynode.io.video import VideoReader, frame_pairs, square
from dynode.pipelines.clip import Clip, chunked, concat, repeat
from dynode.types import Frames, LatentSequence, Source, Span


@dataclass(frozen=True, eq=False)
class Part:
    """One fitted span of a video (what is computed from it once lives in the renderer's cache,
    :class:`dynode.pipelines.renderer.Cache`).

    Attributes:
        span: where it lies among the video's kept frames.
        sequence: its inverted codes (None when built from a trajectory artifact).
        trajectory: its fitted dynamics (None when not fitted).
    """

    span: Span
    sequence: LatentSequence | None = None
    trajectory: Trajectory | None = None

    def observed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The observed codes (T, num_ws, w_dim) and their times (T,)."""
        if self.sequence is not None:
            return self.sequence.latents, self.sequence.times
        return self.trajectory.observed, self.trajectory.observed_times


def layout(source: Source | None, times: torch.Tensor) -> tuple[Span, ...]:
    """The spans of a video whose kept (or observed) frames are at ``times``: those its source
    records, or one fitted span over them all."""
    if source is not None and source.spans:
        return source.spans
    return (Span("fit", 0, len(times), float(times[0]), float(times[-1])),)


def split(sequence: LatentSequence, spans: tuple[Span, ...]) -> list[LatentSequence]:
    """The codes of each fitted span."""
    parts = []
    for span in spans:
        if span.kind == "fit":
            inside = (sequence.times >= span.first - 1e-6) & (sequence.times <= span.last + 1e-6)
            parts.append(sequence.select(torch.nonzero(inside).flatten()))
    return parts


def select_frames(frames: Frames, times: torch.Tensor) -> Frames:
    """The frames at ``times`` (seconds) among ``frames``.

    Raises:
        InputError: no frame at one of the times (the source video changed since the codes were made).
    """
    gap = (frames.times[:, None] - times[None]).abs()
    missing = gap.min(0).values > 1e-3
    if missing.any():
        raise InputError(f"the source video has no frame at t={times[missing][0].item():.4f} s, where the "
                         "codes were inverted; was it changed since?")
    return frames.select(gap.argmin(0))


def kept_times(spans: tuple[Span, ...], parts: list[Part]) -> torch.Tensor:
    """Every kept frame's time: the fitted spans' observed times, the passed-through spans' spread evenly."""
    fits = iter(parts)
    return torch.cat([next(fits).observed()[1] if span.kind == "fit" else
                      torch.linspace(span.first, span.last, len(span), dtype=torch.float64) for span in spans])


def span_frames(path, source: Source, span: Span) -> Iterator[tuple[np.ndarray, float]]:
    """(uint8 full frame, seconds) of ``span``'s kept frames, decoded from the source video at ``path``."""
    return itertools.islice(frame_pairs(VideoReader(path), source.every), span.start, span.stop)


def aligned_video(source: Source | None, purpose: str):
    """The path of the source video of aligned codes, for ``purpose``.

    Raises:
        InputError: a source that was not aligned (remedy "align"), or whose video is gone.
    """
    if source is None or source.alignment is None:
        raise InputError(f"{purpose} needs the codes of a video whose faces were aligned", "align")
    return source.require(purpose)


def passthrough(source: Source, span: Span, times: torch.Tensor, resolution: int) -> Clip:
    """The source's own frames of ``span`` at ``times`` (inside it), cropped or resized as the inverted
    frames were, read from the source video as the clip is read."""
    path = source.require("the faceless frames and one-frame shots (passed through from the source)")
    maps = matrices(source.alignment) if source.alignment is not None else None

    def shape(k: int, frame: np.ndarray) -> np.ndarray:
        if maps is not None:
            return crop(source.alignment, frame, k, maps)
        return square(frame, resolution) if frame.shape[:2] != (resolution, resolution) else frame

    def chunks() -> Iterator[np.ndarray]:
        pairs = span_frames(path, source, span)
        return chunked(flow_stream(((shape(k, f), t) for k, (f, t) in enumerate(pairs, span.start)), times.numpy()))
    return Clip(times, 0.0, chunks)


@dataclass(frozen=True)
class Piece:
    """The times of a clip that one span renders.

    Attributes:
        span: the span. part: its fitted part (None: passed through). times: the clip's times it takes.
        held: those times held inside the span (the same for a fitted span at either end of the video).
        distinct: the distinct held times, each rendered once; counts: how many clip times each one fills.
        last: the video's last span.
    """

    span: Span
    part: Part | None
    times: torch.Tensor
    held: torch.Tensor
    distinct: torch.Tensor
    counts: torch.Tensor
    last: bool


def assign(spans: tuple[Span, ...], parts: list[Part], times: torch.Tensor,
           extrapolating: bool = False) -> list[Piece]:
    """The clip's ``times`` shared among the spans (see the module): a time belongs to the span that
    started last at or before it; a fitted span renders the times beyond it at either end of the video,
    every other span holds its end frames.

    Args:
        spans: the video's spans (see :func:`layout`); parts: its fitted spans' parts, in order.
        extrapolating: the clip runs past the video's end (refused when it ends passed through).

    Raises:
        InputError: extrapolation past a span that is passed through.
    """
    which = np.searchsorted(np.array([span.first for span in spans[1:]]), times.numpy(), side="right")
    fits = iter(parts)
    pieces = []
    for i, span in enumerate(spans):
        part = next(fits) if span.kind == "fit" else None
        index = torch.as_tensor(np.flatnonzero(which == i))
        if not len(index):
            continue
        t = times[index]
        last = i == len(spans) - 1
        if last and extrapolating and part is None:
            raise InputError(f"the video ends with frames passed through ({span.first:.2f}-{span.last:.2f} s: "
                             "faceless or a one-frame shot); there is no motion to extrapolate from")
        fitted = part is not None
        low, high = None if fitted and i == 0 else span.first, None if fitted and last else span.last
        held = t if low is None and high is None else t.clamp(low, high)
        distinct, counts = torch.unique_consecutive(held, return_counts=True)
        pieces.append(Piece(span, part, t, held, distinct, counts, last))
    return pieces


def compose(source: Source | None, pieces: list[Piece], clips: list[Clip | None], resolution: int, full_frame: bool,
            fps: float, audio=None, tiles: int = 1, feather: float = 4.0) -> Clip:
    """One clip over every piece (see :func:`assign`), from each fitted piece's crops at its distinct times.

    Args:
        clips: one per piece: a fitted span's crops, or None (passed through: the source's own frames,
            interpolated by optical flow at new times; in full frames, a fitted span may pass through too).
        full_frame: paste the crops into the source's frames and pass the other spans' frames
            through whole, in one walk of the source video for the whole clip (``feather``: the
            paste's soft edge, pixels).
        tiles: passed-through frames are repeated this many times side by side (to match fitted
            spans rendered as several tiles).

    Raises:
        InputError: full-frame output of a video that was not aligned (remedy "align").
    """
    if not full_frame:
        clips = [passthrough(source, piece.span, piece.distinct, resolution).tiled(tiles) if clip is None else clip
                 for piece, clip in zip(pieces, clips)]
        return concat([replace(clip, times=piece.times) if len(piece.counts) == len(piece.times)
                       else repeat(clip, piece.counts, piece.times) for piece, clip in zip(pieces, clips)], fps, audio)

    def faces() -> Iterator[np.ndarray | None]:
        for piece, clip in zip(pieces, clips):
            if clip is None:
                yield from (None for _ in piece.times)
            else:
                for face, count in zip(clip.frames(), piece.counts.tolist()):
                    yield from (face for _ in range(count))

    def each(name: str, default: float) -> np.ndarray:  # a per-frame paste setting of the clips, at every time
        return np.concatenate([np.full(len(piece.times), default) if clip is None or getattr(clip, name) is None
                               else np.repeat(getattr(clip, name), piece.counts.numpy())
                               for piece, clip in zip(pieces, clips)])
    return pasted(source, faces, torch.cat([p.times for p in pieces]), torch.cat([p.held for p in pieces]), fps,
                  audio, tuple(report for clip in clips if clip is not None for report in clip.reports), feather,
                  each("opacity", 1.0), each("fine", 0.0))


def pasted(source: Source | None, faces: Callable[[], Iterator[np.ndarray | None]], times: torch.Tensor,
           held: torch.Tensor, fps: float, audio=None, reports: tuple = (), feather: float = 4.0,
           opacity: np.ndarray | None = None, fine: np.ndarray | None = None) -> Clip:
    """Full frames at ``times``: the faces (None: the source's frame passed through) pasted into the
    source video at ``held`` times (its background at new times interpolated by optical flow), each at
    its ``opacity`` (N,) (default 1) keeping ``fine`` (N,) of the background's detail finer than the
    crop (default 0), in one walk of the source as the clip is read.

    Raises:
        InputError: a source that was not aligned (remedy "align"), or whose video is gone.
    """
    video = aligned_video(source, "full-frame output")

    def chunks() -> Iterator[np.ndarray]:
        return chunked(paste_stream(VideoReader(video), faces(), source.alignment, held.numpy(), feather, source.every,
                                    opacity, fine))
    return Clip(times, fps, chunks, audio, reports)
