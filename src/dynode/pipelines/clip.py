"""A rendered clip: frames at times, produced chunk by chunk only when read or written."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from dynode.errors import InputError
from dynode.io.video import write_frames


def playback_rate(times: torch.Tensor) -> float:
    """The frame rate that plays frames at ``times`` (seconds) over their real duration."""
    return (len(times) - 1) / max(float(times[-1] - times[0]), 1e-9)


def side_by_side(*frames: np.ndarray, gap: int = 0) -> np.ndarray:
    """Frames (..., H, W, 3) of the same height left to right, ``gap`` white columns between them."""
    if not gap:
        return np.concatenate(frames, axis=-2)
    sep = np.full((*frames[0].shape[:-2], gap, 3), 255, np.uint8)
    return np.concatenate([part for f in frames for part in (f, sep)][:-1], axis=-2)


@dataclass(frozen=True)
class Clip:
    """Frames rendered at ``times``, produced when iterated (uint8 chunks (n, H, W, 3)).

    Attributes:
        times: float64 (N,) seconds of the frames. fps: playback rate of a written file.
        chunks: returns a fresh iterator over the frame chunks (each iteration renders anew).
        audio: the video whose audio track goes with the frames (None: silent).
        audio_stretch: how many times longer the audio plays than in its video, its pitch kept
            (a clip slowed down 4x: 4).
        reports: what the method that made it measured, per edit and span (a locked edit's
            :class:`~dynode.edit.lock.LockReport`, the default's :class:`~dynode.edit.modes.Raise`); each has a
            one-line ``summary()`` and says whether it is a ``warning``.
        opacity: float (N,) how much of the face each crop covers when pasted into a full frame (0.5: the
            mean with the background's flow, ``auto``'s blend); None: 1 for every frame.
        fine: float (N,) how much of the background's detail finer than the crop each pasted crop keeps
            (see :func:`dynode.align.paste`); None: 0 for every frame.
    """

    times: torch.Tensor
    fps: float
    chunks: Callable[[], Iterator[np.ndarray]]
    audio: Path | None = None
    reports: tuple = ()
    audio_stretch: float = 1.0
    opacity: np.ndarray | None = None
    fine: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.chunks()

    def frames(self) -> Iterator[np.ndarray]:
        """The frames one at a time, uint8 (H, W, 3)."""
        return (frame for chunk in self.chunks() for frame in chunk)

    def numpy(self) -> np.ndarray:
        """All frames, uint8 (N, H, W, 3) (held in memory: for short clips)."""
        return np.concatenate(list(self.chunks()))

    def write(self, path: str | Path) -> int:
        """Write the clip as mp4 or gif, atomically, frame chunks as they come; returns the frame count."""
        return write_frames(path, self.frames(), self.fps, self.audio, audio_stretch=self.audio_stretch)

    def at_rate(self, fps: float) -> "Clip":
        """The same frames played at another rate; the audio stretched to fit, its pitch kept."""
        if not fps > 0:
            raise InputError(f"playback rate must be positive, got {fps}")
        return replace(self, fps=fps, audio_stretch=self.audio_stretch * self.fps / fps)

    def tiled(self, tiles: int) -> "Clip":
        """This clip ``tiles`` times side by side (itself for 1)."""
        return self.beside(*[self] * (tiles - 1)) if tiles > 1 else self

    def beside(self, *others: "Clip") -> "Clip":
        """This clip and ``others`` (same times) side by side, left to right; their reports gathered in order."""
        clips = (self, *others)

        def chunks():
            for frames in zip(*(c.frames() for c in clips)):
                yield side_by_side(*frames)[None]
        return replace(self, chunks=chunks, reports=tuple(report for c in clips for report in c.reports))


def chunked(frames: Iterator[np.ndarray], size: int = 16) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) as they come, regrouped into chunks (n <= size, H, W, 3)."""
    while chunk := list(itertools.islice(frames, size)):
        yield np.stack(chunk)


def concat(clips: Sequence[Clip], fps: float, audio: Path | None = None) -> Clip:
    """Clips one after the other (same frame size), played at ``fps``; their reports gathered in order."""
    times = torch.cat([c.times for c in clips])

    def chunks():
        return itertools.chain.from_iterable(c.chunks() for c in clips)
    return Clip(times, fps, chunks, audio, tuple(report for c in clips for report in c.reports))


def repeat(clip: Clip, counts: torch.Tensor, times: torch.Tensor) -> Clip:
    """Each frame of ``clip`` shown ``counts`` times, at ``times`` (as many as the counts' sum)."""
    counts = [int(c) for c in counts]

    def chunks():
        frames = clip.frames()
        for c in counts:
            yield np.repeat(next(frames)[None], c, 0)
    return replace(clip, times=times, chunks=chunks)
