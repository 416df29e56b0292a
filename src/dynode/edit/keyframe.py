"""Keyframe edits: the look of the edit made on a keyframe, held on every frame along the video's motion.

The latent edit carried from the first code (``first-frame`` propagation) draws the right shapes on
every frame but not the same look: the generator's answer to one offset changes with the face, so
on ``make demo`` the hair that an edit turns red-orange on the first frame is tan-blond five seconds
later (a mean colour drift of 15 Delta-E in CIELAB where the unedited hair drifts by 1). Carrying
the keyframe's change to the picture along optical flow keeps its colour but draws ghost edges
wherever the flow errs. A keyframe edit takes the shapes from the one and the look from the other:

    D_k = G(w'_k) - G(w_k)                 the edit's change on the keyframe k (nearest in time)
    L_t = G(w'_t) - G(w_t)                 the latent edit's change on frame t
    C_t(x) = D_k(x + F_t(x))               D_k carried into frame t along the unedited renders' flow
    E_t = L_t + B(v (C_t - L_t)) / B(v)    the latent change, its low frequencies set to the carried one
    out_t = G(w_t) + R_t E_t

F_t is DIS flow from the unedited render of frame t to the keyframe's, v where it holds (the
forward and backward flows agree and the two renders agree under it: not at occlusions or new
content, where the latent change stays as it is), B a Gaussian blur of ``colour_sigma`` pixels (at
64 px; scaled with the resolution). R_t is the edit's region: where the keyframe's change exceeds
``threshold`` levels, carried along the flow (and the latent change's own region where the flow
fails), feathered, so that outside it the unedited frame is kept and nothing leaks into the
background. On the keyframe itself the output is the latent edit inside its region.

Frames stream through one at a time against the keyframes' renders, so a long clip is never held
whole; the flow to the keyframe is direct (no drift from chaining), and a user names more
keyframes where the motion takes the face far from the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Iterable, Iterator

import cv2
import numpy as np

from dynode.errors import InputError
from dynode.flow import DISFlow, check_flow, warp

# Measured on make demo and bench-edit (docs/editing.md): the keyframe's change is taken where the
# round trip of the flows errs by less than about MISMATCH pixels and the renders agree within about
# DIFFERENCE levels (Gaussian weights); the colour is carried at frequencies below a blur of
# COLOUR_SIGMA pixels; REGION_THRESHOLD levels of mean change mark the edit's region.
MISMATCH = 2.0
DIFFERENCE = 20.0
COLOUR_SIGMA = 1.0
REGION_THRESHOLD = 10.0
REFERENCE_SIZE = 64


@dataclass(frozen=True)
class Keyframes:
    """The keyframes of a keyframe edit: their times (K,) seconds and their unedited and edited
    renders, uint8 (K, H, W, 3)."""

    times: np.ndarray
    plain: np.ndarray
    edited: np.ndarray

    def __post_init__(self):
        if not len(self.times) or self.plain.shape != self.edited.shape or len(self.plain) != len(self.times):
            raise InputError(f"keyframes: {len(self.times)} times, plain {self.plain.shape} and edited "
                             f"{self.edited.shape} renders must match")


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)


def region(change: np.ndarray, threshold: float = REGION_THRESHOLD, sigma: float = 1.0) -> np.ndarray:
    """Where a change (H, W, 3) float32 to a picture exceeds ``threshold`` levels (mean over colours),
    feathered by a blur of ``sigma`` pixels: float32 (H, W) in [0, 1]."""
    return _blur(np.abs(change).mean(-1) > threshold, sigma)


def hold(plain: Iterable[np.ndarray], edited: Iterable[np.ndarray], times: Iterable[np.ndarray], keys: Keyframes,
         weights: Iterable[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """The latent edit's frames with the keyframes' look held along the motion (see the module).

    Args:
        plain: the unedited renders, uint8 chunks (n, H, W, 3).
        edited: the latent-edited renders of the same times, chunked alike.
        times: each chunk's times (n,) seconds; a frame takes the keyframe nearest in time.
        keys: the keyframes' times and renders (the edit at full strength).
        weights: each chunk's edit weight (n,) (a schedule's), scaling the keyframe's change (default 1).

    Yields:
        uint8 chunks (n, H, W, 3).
    """
    dis = DISFlow()
    scale = keys.plain.shape[1] / REFERENCE_SIZE
    sigma, colour = max(scale, 0.5), COLOUR_SIGMA * max(scale, 0.5)
    key_plain = keys.plain.astype(np.float32)
    key_change = keys.edited.astype(np.float32) - key_plain
    key_region = [region(c, sigma=sigma) for c in key_change]
    weights = repeat(None) if weights is None else weights
    for p_chunk, e_chunk, t_chunk, w_chunk in zip(plain, edited, times, weights):
        if p_chunk.shape != e_chunk.shape:
            raise InputError(f"keyframe edit: plain {p_chunk.shape} and edited {e_chunk.shape} chunks differ")
        out = np.empty_like(p_chunk)
        for n, (p, e, t) in enumerate(zip(p_chunk, e_chunk, np.asarray(t_chunk, np.float64))):
            k = int(np.abs(keys.times - t).argmin())
            w = 1.0 if w_chunk is None else float(w_chunk[n])
            out[n] = _held(dis, p, e, keys.plain[k], key_plain[k], w * key_change[k], key_region[k],
                           np.isclose(keys.times[k], t), scale, sigma, colour)
        yield out


def _held(dis: DISFlow, p: np.ndarray, e: np.ndarray, kp: np.ndarray, kp_float: np.ndarray, key_change: np.ndarray,
          key_region: np.ndarray, on_key: bool, scale: float, sigma: float, colour: float) -> np.ndarray:
    """One frame: its unedited render ``p`` plus the latent change with the keyframe's look, in the region."""
    base = p.astype(np.float32)
    latent = e.astype(np.float32) - base
    if on_key:
        change, where = latent, key_region
    else:
        to_key, back = dis(p, kp), dis(kp, p)
        check = check_flow(to_key, back, p, kp_float)
        holds = check.soft(MISMATCH * scale, DIFFERENCE)
        v = _blur(np.where(check.hard(None, DIFFERENCE), holds, 0.0), sigma)  # new content: the latent change alone
        carried = warp(key_change, to_key)
        num, den = _blur(v[..., None] * (carried - latent), colour), _blur(v, colour)
        change = latent + num / np.maximum(den, 1e-3)[..., None] * np.clip(den / 0.2, 0, 1)[..., None]
        own = region(latent, sigma=sigma)
        moved = warp(key_region, to_key)
        where = v * moved + (1 - v) * np.maximum(moved, own)
    return np.clip(base + where[..., None] * change, 0, 255).round().astype(np.uint8)

