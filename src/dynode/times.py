"""Time grids for rendering (by frame-rate factor, target fps, explicit times, or a future span, in seconds of
video), and a stopwatch for the stages of a run (wall time)."""

from __future__ import annotations

import time

import torch

from dynode.errors import InputError
from dynode.types import check_times


def render_times(observed: torch.Tensor, factor: int | None = None, fps: float | None = None,
                 times: list[float] | None = None) -> torch.Tensor:
    """Times (seconds, float64) at which to render over the observed span.

    Exactly one of: ``factor`` (k times the observed frame rate: k-1 new frames between each
    pair), ``fps`` (a uniform grid at that rate), ``times`` (explicit, strictly increasing).

    Raises:
        InputError: none or several given, a factor < 1, a non-positive fps, or bad times.
    """
    given = sum(x is not None for x in (factor, fps, times))
    if given != 1:
        raise InputError(f"give exactly one of factor, fps or times (got {given})")
    t0, t1 = float(observed[0]), float(observed[-1])
    if factor is not None:
        if factor < 1:
            raise InputError(f"factor must be >= 1, got {factor}")
        steps = torch.arange(factor, dtype=torch.float64) / factor
        gaps = observed[1:] - observed[:-1]
        grid = (observed[:-1, None] + gaps[:, None] * steps[None]).reshape(-1)
        return torch.cat([grid, observed[-1:].double()])
    if fps is not None:
        if not fps > 0:
            raise InputError(f"fps must be positive, got {fps}")
        return future_times(t0, t1 - t0, fps, include_start=True)
    return check_times(times, "times")


def frame_times(seconds: float, fps: float) -> torch.Tensor:
    """The frame times k / fps (seconds, float64) of a video ``seconds`` long at ``fps``: round(seconds * fps) frames."""
    return torch.arange(int(round(seconds * fps)), dtype=torch.float64) / fps


def future_times(start: float, seconds: float, fps: float, include_start: bool = False) -> torch.Tensor:
    """A uniform grid start + k/fps covering ``seconds`` (k >= 1, or >= 0 with include_start)."""
    if not fps > 0 or not seconds >= 0:
        raise InputError(f"need fps > 0 and seconds >= 0, got fps={fps}, seconds={seconds}")
    n = int(round(seconds * fps + 1e-6))
    k = torch.arange(0 if include_start else 1, n + 1, dtype=torch.float64)
    return start + k / fps


class Stopwatch:
    """Wall time of consecutive stages: :meth:`lap` records the seconds since the last lap (or the start)."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> float:
        """Record stage ``name`` as ending now; returns its seconds."""
        now = time.perf_counter()
        self.seconds[name], self.last = now - self.last, now
        return self.seconds[name]

    @property
    def total(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start
