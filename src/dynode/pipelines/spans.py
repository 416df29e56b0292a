"""Videos of several spans: one trajectory per shot or face track, faceless frames passed through.

A video whose :class:`~dynode.types.Source` records spans (see :mod:`dynode.io.shots`) is
rendered span by span on one time grid: a time belongs to the span that started last at or
before it. In a fitted span it is rendered from that span's own pipeline, held at the span's
last frame up to the next span (so nothing morphs across a cut). In a passed-through span the
source's own frames are shown (cropped as the inverted frames were, or whole with
``full_frame``), interpolated by optical flow between the frames around a new time.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Callable, Iterator

import numpy as np
import torch

from dynode.align.paste import paste_stream
from dynode.errors import InputError
from dynode.flow import flow_stream
from dynode.io.video import VideoReader, frame_pairs, square
from dynode.pipelines.clip import Clip, concat, repeat
from dynode.types import LatentSequence, Source, Span


def fitted(source: Source) -> list[Span]:
    """The spans that get a trajectory."""
    return [span for span in source.spans if span.kind == "fit"]


def split(sequence: LatentSequence) -> list[LatentSequence]:
    """The codes of each fitted span of the sequence's source."""
    parts = []
    for span in fitted(sequence.source):
        inside = (sequence.times >= span.first - 1e-6) & (sequence.times <= span.last + 1e-6)
        parts.append(sequence.select(torch.nonzero(inside).flatten()))
    return parts


def kept_times(source: Source, parts: list) -> torch.Tensor:
    """Every kept frame's time: the fitted spans' observed times, the passed-through spans' spread evenly."""
    fits = iter(parts)
    return torch.cat([next(fits)._observed()[1] if span.kind == "fit" else
                      torch.linspace(span.first, span.last, len(span), dtype=torch.float64)
                      for span in source.spans])


def passthrough(source: Source, span: Span, times: torch.Tensor, resolution: int) -> Clip:
    """The source's own frames of ``span`` at ``times`` (inside it), cropped or resized as the inverted
    frames were, read from the source video as the clip is read."""
    path = source.require("the faceless frames and one-frame shots (passed through from the source)")
    matrices = source.alignment.matrices() if source.alignment is not None else None

    def shape(k: int, frame: np.ndarray) -> np.ndarray:
        if matrices is not None:
            return source.alignment.crop(frame, k, matrices)
        return square(frame, resolution) if frame.shape[:2] != (resolution, resolution) else frame

    def chunks() -> Iterator[np.ndarray]:
        pairs = itertools.islice(frame_pairs(VideoReader(path), source.every), span.start, span.stop)
        frames = flow_stream(((shape(k, f), t) for k, (f, t) in enumerate(pairs, span.start)), times.numpy())
        while chunk := list(itertools.islice(frames, 16)):
            yield np.stack(chunk)
    return Clip(times, 0.0, chunks)


def compose(source: Source, parts: list, times: torch.Tensor, render: Callable[[object, torch.Tensor, bool], Clip],
            resolution: int, full_frame: bool, fps: float, audio=None, extend_last: bool = False,
            tiles: int = 1) -> Clip:
    """One clip at ``times`` over every span of ``source``.

    Args:
        parts: the fitted spans' pipelines, in order.
        render: render(part, times, is_last_span) -> the fitted span's crops at those (distinct) times.
        full_frame: paste the crops into the source's frames and pass the other spans' frames
            through whole, in one walk of the source video for the whole clip.
        extend_last: times past the last span's end go to its pipeline as they are (extrapolation);
            otherwise every time is held inside its span.
        tiles: passed-through frames are repeated this many times side by side (to match fitted
            spans rendered as several tiles).

    Raises:
        InputError: extrapolation past a span that is passed through, or full-frame output of a
            video that was not aligned.
    """
    if full_frame and source.alignment is None:
        raise InputError("full-frame output needs codes of an aligned video: invert it with --align")
    spans = source.spans
    which = np.searchsorted(np.array([span.first for span in spans[1:]]), times.numpy(), side="right")
    fits = iter(parts)
    pieces = []  # (clip or None (passed through whole), counts of each distinct time, times, held times)
    for i, span in enumerate(spans):
        part = next(fits) if span.kind == "fit" else None
        index = torch.as_tensor(np.flatnonzero(which == i))
        if not len(index):
            continue
        t = times[index]
        last = extend_last and i == len(spans) - 1
        if last and part is None:
            raise InputError(f"the video ends with frames passed through ({span.first:.2f}-{span.last:.2f} s: "
                             "faceless or a one-frame shot); there is no motion to extrapolate from")
        held = t.clamp(span.first, None if last else span.last)
        distinct, counts = torch.unique_consecutive(held, return_counts=True)
        if part is not None:
            clip = render(part, distinct, i == len(spans) - 1)
        elif full_frame:
            clip = None
        else:
            clip = passthrough(source, span, distinct, resolution)
            clip = clip.beside(*[clip] * (tiles - 1)) if tiles > 1 else clip
        pieces.append((clip, counts, t, held))
    if not full_frame:
        return concat([replace(clip, times=t) if len(counts) == len(t) else repeat(clip, counts, t)
                       for clip, counts, t, _ in pieces], fps, audio)
    video = source.require("full-frame output")
    held = torch.cat([p[3] for p in pieces])

    def faces() -> Iterator[np.ndarray | None]:
        for clip, counts, t, _ in pieces:
            if clip is None:
                yield from (None for _ in t)
            else:
                for face, count in zip(clip.frames(), counts.tolist()):
                    yield from (face for _ in range(count))

    def chunks() -> Iterator[np.ndarray]:
        frames = paste_stream(VideoReader(video), faces(), source.alignment, held.numpy(), every=source.every)
        while chunk := list(itertools.islice(frames, 16)):
            yield np.stack(chunk)
    return Clip(torch.cat([p[2] for p in pieces]), fps, chunks, audio,
                {"parts": [{} if clip is None else clip.info for clip, *_ in pieces]})
