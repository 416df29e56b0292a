"""Optical flow shared by the pixel baselines and the consistency metrics: DIS flow and warping."""

from __future__ import annotations

import cv2
import numpy as np

from dynode.errors import InputError


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


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, edges replicated."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
