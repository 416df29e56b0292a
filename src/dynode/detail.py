"""High-fidelity rendering: the video's own detail carried along the latent path.

A render G(w(t)) is capped by what the generator can draw. What it cannot draw is known at the
observed frames: the residual r_k = x_k - G(w_k). :class:`Detail` carries those residuals to any
time t, edited or not, inside or past the observed span:

1. the geometry at t is the unedited render u_t = G(w(t)); DIS optical flow between u_t and the
   neighbouring observations' renders G(w_k), G(w_k+1) says where each pixel of u_t was in them
   (the latent path decides the motion, so flow exists for new, edited and extrapolated times);
2. each neighbour's residual is warped into u_t's geometry and weighted by time (1 - s, s) and by
   a confidence: how closely the neighbour's render, warped the same way, draws u_t (both are
   the generator's clean renders, so a wrong flow or an occlusion shows as a difference, and one
   flow per neighbour is enough); where neither neighbour agrees the residual fades out and the
   pure render shows;
3. the residual is added to the target render (u_t itself, or the edited render G(w'(t))). Where
   an edit changes the picture strongly (|G(w'_t) - u_t| above ``edit_threshold``) only the
   residual's high frequencies are kept, so the detail does not undo the edit there.

Past the observed span the residual fades with the distance (``DetailConfig.horizon``). At an
observed time on the exact path the output is the observed frame itself.

With ``DetailConfig.real_flow``, an unedited render between two observations is fused with the
optical-flow interpolation of the two real frames: per pixel, the flow's picture where the flow
between the real frames is consistent forwards and backwards, the latent path's (with its
carried detail) where it is not (occlusion, far-apart frames, new content). Everything is
uint8 (H, W, 3) at the generator's resolution (face crops for aligned videos, pasted back after).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from dynode.config import DetailConfig
from dynode.errors import InputError
from dynode.flow import DISFlow, between, confidence, warp
from dynode.types import bracket, check_times


class Detail:
    """The residuals of observed frames, carried to any time (see the module).

    Args:
        frames: uint8 (T, R, R, 3) observed frames at ``times`` (T,) seconds, increasing.
        renders: uint8 (T, R, R, 3) the generator's renders of their codes.

    Raises:
        InputError: frames and renders of different shapes, fewer than 1 frame, or bad times.
    """

    def __init__(self, frames: np.ndarray, renders: np.ndarray, times, config: DetailConfig = DetailConfig()):
        if frames.shape != renders.shape or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
            raise InputError(f"Detail: frames {frames.shape} and renders {renders.shape} must both be (T, R, R, 3)")
        self.times = check_times(times, "Detail times")
        if len(self.times) != len(frames):
            raise InputError(f"Detail: {len(frames)} frames but {len(self.times)} times")
        self.renders, self.frames = np.ascontiguousarray(renders), np.ascontiguousarray(frames)
        self.residual = frames.astype(np.float32) - renders.astype(np.float32)
        self._real: dict[int, tuple[np.ndarray, ...]] = {}
        self._stacks: dict[int, np.ndarray] = {}
        self.config = config
        self._gap = float((self.times[1:] - self.times[:-1]).median()) if len(self.times) > 1 else 1.0
        self._seconds = self.times.tolist()
        self._dis = DISFlow()

    def _stack(self, k: int) -> np.ndarray:
        """Observation k's residual and render, float32 (H, W, 6), kept for the last few observations read
        (the frames between two observations read the same two)."""
        if k not in self._stacks:
            if len(self._stacks) >= 4:
                del self._stacks[next(iter(self._stacks))]
            self._stacks[k] = np.concatenate([self.residual[k], self.renders[k].astype(np.float32)], -1)
        return self._stacks[k]

    def _carried(self, k: int, geometry: np.ndarray, drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observation k's residual warped into ``geometry``'s frame, and its confidence (H, W, 1): how
        closely observation k's render, warped the same way, draws ``drawn`` (the geometry, float32)."""
        forward = self._dis(geometry, self.renders[k])  # geometry(x) ~ render_k(x + forward(x))
        moved = warp(self._stack(k), forward)
        difference = cv2.absdiff(drawn, np.ascontiguousarray(moved[..., 3:]))
        mean = cv2.transform(difference, np.full((1, 3), 1 / 3, np.float32))  # over the channels
        return moved[..., :3], confidence(mean, self.config.consistency)[..., None]

    def residual_at(self, t: float, geometry: np.ndarray) -> np.ndarray:
        """The carried residual (H, W, 3) float32 at time ``t`` (seconds) for the unedited render
        ``geometry``; times outside the observed span take the nearest observation's."""
        (lo,), (hi,), (s,) = self._bracket(torch.tensor([float(t)], dtype=torch.float64))
        return self._residual(lo, hi, s, float(t), geometry)

    def _bracket(self, t: torch.Tensor) -> tuple[list[int], list[int], list[float]]:
        """The observations around each time (N,) and the fraction of the way between them (one
        observation: itself, at 0)."""
        if len(self.times) == 1:
            return [0] * len(t), [0] * len(t), [0.0] * len(t)
        lo, hi, frac = bracket(self.times, t)
        return lo.tolist(), hi.tolist(), frac.tolist()

    def _residual(self, lo: int, hi: int, s: float, t: float, geometry: np.ndarray) -> np.ndarray:
        """:meth:`residual_at` between observations ``lo`` and ``hi``, a fraction ``s`` of the way."""
        for k in (lo, hi):  # an observation at its own time and geometry: its residual exactly
            if abs(t - self._seconds[k]) < 1e-9 and np.array_equal(geometry, self.renders[k]):
                return self.residual[k]
        total = np.zeros_like(self.residual[0])
        weight = np.zeros((*geometry.shape[:2], 1), np.float32)
        reach = np.zeros_like(weight)
        drawn = geometry.astype(np.float32)
        for k, w in ((lo, 1.0 - s), (hi, s)):
            if w <= 0:
                continue
            carried, confidence = self._carried(k, geometry, drawn)
            total += w * confidence * carried
            weight += w * confidence
            reach += confidence
        # Renormalised over the consistent neighbours; faded out where neither is (occlusion), and
        # with the distance from the observed span (extrapolation).
        outside = max(0.0, t - self._seconds[-1], self._seconds[0] - t)
        fade = np.exp(-outside / (self.config.horizon * self._gap)) if outside > 0 else 1.0
        return total / np.maximum(weight, 1e-6) * np.clip(reach, 0.0, 1.0) * fade

    def real_flow(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """The real frames' flow interpolation at ``t`` (float32 (H, W, 3)) and its consistency
        (H, W, 1) in [0, 1], or None outside the observed span or at an observation."""
        if len(self.times) < 2:
            return None
        lo_t, _, frac = bracket(self.times, torch.tensor([float(t)], dtype=torch.float64))
        k, s = int(lo_t), float(frac)
        if not 0 < s < 1:
            return None
        if k not in self._real:
            f01, f10 = self._dis(self.frames[k], self.frames[k + 1]), self._dis(self.frames[k + 1], self.frames[k])
            e0 = np.linalg.norm(f01 + warp(f10, f01), axis=-1)  # on frame k's grid
            e1 = np.linalg.norm(f10 + warp(f01, f10), axis=-1)  # on frame k+1's grid
            self._real[k] = (f01, f10, e0, e1)
        f01, f10, e0, e1 = self._real[k]
        picture, f_t0, f_t1 = between(self.frames[k], self.frames[k + 1], f01, f10, s)
        error = np.maximum(warp(e0, f_t0), warp(e1, f_t1))
        return picture, confidence(error, self.config.real_consistency)[..., None]

    def apply(self, times, geometry: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        """Renders with the carried detail added.

        Args:
            times: (N,) seconds. geometry: uint8 (N, R, R, 3) unedited renders at those times.
            targets: uint8 (N, R, R, 3) the renders to add detail to (e.g. edited); default ``geometry``.

        Returns:
            uint8 (N, R, R, 3).
        """
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        targets = geometry if targets is None else targets
        if geometry.shape != targets.shape or len(t) != len(geometry):
            raise InputError(f"Detail.apply: {len(t)} times, geometry {geometry.shape}, targets {targets.shape}")
        out = np.empty_like(targets)
        lo, hi, frac = self._bracket(t)
        for n in range(len(t)):
            residual = self._residual(lo[n], hi[n], frac[n], float(t[n]), geometry[n])
            real = self.real_flow(float(t[n])) if self.config.real_flow and targets is geometry else None
            if real is not None:
                picture, trust = real
                fused = trust * picture + (1 - trust) * (geometry[n].astype(np.float32) + residual)
                out[n] = np.clip(np.rint(fused), 0, 255).astype(np.uint8)
                continue
            if targets is not geometry:
                change = cv2.GaussianBlur(np.abs(targets[n].astype(np.float32) - geometry[n]).mean(-1), (0, 0), 2.0)
                edited = np.clip(change / self.config.edit_threshold, 0.0, 1.0)[..., None]
                high = residual - cv2.GaussianBlur(residual, (0, 0), self.config.highpass_sigma)
                residual = (1 - edited) * residual + edited * high
            out[n] = np.clip(np.rint(targets[n].astype(np.float32) + residual), 0, 255).astype(np.uint8)
        return out
