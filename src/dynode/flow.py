"""Optical flow shared by the pixel baseline, paste-back and the consistency metrics: DIS flow, warping,
and frame interpolation along flow."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np
import torch

from dynode.errors import InputError
from dynode.types import bracket, check_times


def check_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 (T >= 2, H, W, 3) frames, contiguous; InputError otherwise."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise InputError(f"frames must be uint8 (T>=2, H, W, 3), got {frames.dtype} {frames.shape}")
    return np.ascontiguousarray(frames)


class DISFlow:
    """OpenCV's DIS optical flow (medium preset) on RGB uint8 frames.

    ``flow(a, b)`` returns (H, W, 2) with a(x) ~ b(x + flow(x)).
    """

    def __init__(self):
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dis.calc(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, edges replicated."""
    gx, gy = _grid(*flow.shape[:2])
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def round_trip_error(flow: np.ndarray, back: np.ndarray) -> np.ndarray:
    """How far (pixels, (H, W)) a pixel lands from where it started after following ``flow`` and
    then ``back``, the flow the other way: small where the two flows agree, large at occlusions."""
    return np.linalg.norm(flow + warp(back, flow), axis=-1)


def confidence(error: np.ndarray, tolerance: float) -> np.ndarray:
    """A Gaussian weight of an error: 1 at 0, exp(-1) at ``tolerance``."""
    return np.exp(-(error / tolerance) ** 2)


@dataclass(frozen=True)
class FlowCheck:
    """Where a flow from frame a into frame b holds (the one test of it that detail, edits and the
    consistency metrics share; see :func:`check_flow`).

    Attributes:
        round_trip: (H, W) pixels a pixel lands from where it started after the flow and the one back.
        difference: (H, W) levels between frame a and frame b warped along the flow (None: not measured).
    """

    round_trip: np.ndarray
    difference: np.ndarray | None = None

    def hard(self, tolerance: float | None, difference: float | None = None) -> np.ndarray:
        """bool (H, W): the round trip within ``tolerance`` pixels (None: not tested) and the frames within
        ``difference`` levels (None: not tested)."""
        out = np.ones(self.round_trip.shape, bool) if tolerance is None else self.round_trip <= tolerance
        return out if difference is None else out & (self.difference <= difference)

    def soft(self, tolerance: float, difference: float | None = None) -> np.ndarray:
        """(H, W) weights in [0, 1]: :func:`confidence` of the round trip at ``tolerance``, times that of the
        frames' difference at ``difference`` (None: not weighed)."""
        out = confidence(self.round_trip, tolerance)
        return out if difference is None else out * confidence(self.difference, difference)


def check_flow(flow: np.ndarray, back: np.ndarray, a: np.ndarray | None = None,
               b: np.ndarray | None = None) -> FlowCheck:
    """How well ``flow`` (a(x) ~ b(x + flow(x))) holds given ``back``, the flow the other way, and, with the
    frames ``a`` and ``b`` (``b`` warped as it is: uint8 rounds, float does not), how far they disagree under it."""
    difference = None if a is None else \
        np.abs(a.astype(np.float32) - warp(b, flow).astype(np.float32)).mean(-1)
    return FlowCheck(round_trip_error(flow, back), difference)


def between(a: np.ndarray, b: np.ndarray, f01: np.ndarray, f10: np.ndarray, s: float) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame a fraction ``s`` of the way from ``a`` to ``b`` along their DIS flows (``f01 = flow(a, b)``,
    ``f10 = flow(b, a)``): float32 (H, W, 3), and the flows from it into a and into b (H, W, 2)."""
    f_t0 = -(1 - s) * s * f01 + s * s * f10
    f_t1 = (1 - s) ** 2 * f01 - s * (1 - s) * f10
    return (1 - s) * warp(a, f_t0).astype(np.float32) + s * warp(b, f_t1).astype(np.float32), f_t0, f_t1


def flow_interpolate(frames: np.ndarray, observed_times, times) -> np.ndarray:
    """Optical-flow interpolation of the observed frames at any times inside their span.

    Args:
        frames: uint8 (T, H, W, 3) at ``observed_times`` (T,) seconds, any spacing.
        times: (N,) seconds; times outside the span take the first/last frame.

    Returns:
        uint8 (N, H, W, 3).
    """
    frames = check_frames(frames)
    t_obs = check_times(observed_times, "observed_times")
    if len(t_obs) != len(frames):
        raise InputError(f"got {len(frames)} frames but {len(t_obs)} observed times")
    lo, _, frac = bracket(t_obs, torch.as_tensor(times, dtype=torch.float64).reshape(-1))
    dis = DISFlow()
    flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = np.empty((len(lo), *frames.shape[1:]), np.uint8)
    for n, (i, s) in enumerate(zip(lo.tolist(), frac.tolist())):
        if s <= 0 or s >= 1:
            out[n] = frames[i if s <= 0 else i + 1]
            continue
        if i not in flows:
            # DIS flow from a to b: a(x) ~ b(x + flow(x)).
            flows[i] = (dis(frames[i], frames[i + 1]), dis(frames[i + 1], frames[i]))
        blend, _, _ = between(frames[i], frames[i + 1], *flows[i], s)
        out[n] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out


def flow_stream(pairs: Iterable[tuple[np.ndarray, float]], times) -> Iterator[np.ndarray]:
    """Frames at increasing ``times`` from a stream of (uint8 frame, seconds) pairs, walked once, two
    frames at a time: a frame itself at its own time, the optical-flow interpolation of the two
    around it between (times before the first or after the last take that frame).

    Raises:
        InputError: times that decrease, or an empty stream.
    """
    t = np.asarray(times, np.float64).reshape(-1)
    if len(t) > 1 and np.any(np.diff(t) < 0):
        raise InputError("flow_stream(): times must be increasing")
    pairs = iter(pairs)
    prev = next(pairs, None)
    if prev is None:
        raise InputError("flow_stream(): no frames")
    nxt = next(pairs, None)
    i = 0
    while i < len(t):
        while nxt is not None and t[i] > nxt[1]:
            prev, nxt = nxt, next(pairs, None)
        j = i  # the times up to the next frame share its flow
        while j < len(t) and (nxt is None or t[j] <= nxt[1]):
            j += 1
        if nxt is None:
            yield from (prev[0] for _ in range(i, j))
        else:
            yield from flow_interpolate(np.stack([prev[0], nxt[0]]), [prev[1], nxt[1]], np.maximum(t[i:j], prev[1]))
        i = j
