"""Frames cut to a video's face alignment (:class:`dynode.types.Alignment`): an affine map per frame."""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from dynode.types import Alignment


def matrices(alignment: Alignment) -> np.ndarray:
    """(T, 2, 3) affine maps from frame pixels to crop pixels."""
    out = np.empty((len(alignment.quads), 2, 3))
    s = float(alignment.size)
    for i, (cx, cy, xx, xy) in enumerate(alignment.quads):
        c, x, y = np.array([cx, cy]), np.array([xx, xy]), np.array([-xy, xx])
        src = np.float32([c - x - y, c - x + y, c + x - y])
        out[i] = cv2.getAffineTransform(src, np.float32([[0, 0], [0, s], [s, 0]]))
    return out


def crops(alignment: Alignment, pixels: Iterable[np.ndarray]) -> np.ndarray:
    """uint8 (T, size, size, 3) crops of T uint8 (H, W, 3) frames (borders reflected)."""
    return np.stack([_warp(alignment, p, m) for p, m in zip(pixels, matrices(alignment))])


def crop(alignment: Alignment, frame: np.ndarray, index: int, maps: np.ndarray | None = None) -> np.ndarray:
    """The crop of one uint8 (H, W, 3) frame, the ``index``-th (``maps``: :func:`matrices`, if at hand)."""
    return _warp(alignment, frame, (matrices(alignment) if maps is None else maps)[index])


def _warp(alignment: Alignment, frame: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(frame, matrix, (alignment.size, alignment.size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REFLECT)
