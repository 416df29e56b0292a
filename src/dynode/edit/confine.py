"""Confined edits: a shape edit kept to where it changes the frame, the rest of the frame unedited.

A learned offset moves its attribute, and a little of everything else: a faint tint of the
background, a shift of the shirt's shade. Latent Transformer and STIT paste the edited face back
into the frame through a mask; here the mask is the edit's own change on each frame: the pixels
it moves by more than ``threshold`` levels (mean over colours), grown by ``reach`` pixels so that
the faint edges of a shape change (a smile's corners) stay with it, and feathered by a blur of
``sigma`` pixels so that no seam shows:

    out_t = G(w_t) + M_t (G(w'_t) - G(w_t)),   M_t = blur(dilate(|G(w'_t) - G(w_t)| > threshold))

A faint change far from any clear one is the only thing left out. Sizes are for a 64-pixel
frame and scale with the frame.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from dynode.errors import InputError

# Chosen on bench-edit (docs/results/editing.md): the learned shape edits keep their success, and most
# of their faint change far from the edit is left out.
THRESHOLD, REACH, SIGMA, REFERENCE_SIZE = 8.0, 6.0, 2.0, 64


def mask(change: np.ndarray, threshold: float = THRESHOLD, reach: float = REACH, sigma: float = SIGMA) -> np.ndarray:
    """Where a change (H, W, 3) to a frame is kept: float32 (H, W) in [0, 1] (see the module; sizes for a
    64-pixel frame, scaled to this one)."""
    scale = change.shape[0] / REFERENCE_SIZE
    radius = max(1, round(reach * scale))
    seed = (np.abs(change).mean(-1) > threshold).astype(np.uint8)
    grown = cv2.dilate(seed, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return cv2.GaussianBlur(grown.astype(np.float32), (0, 0), max(sigma * scale, 0.5))


def confine(plain: Iterable[np.ndarray], edited: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The edited frames with each frame's change kept inside its :func:`mask`.

    Args:
        plain, edited: the unedited and edited renders of the same times, uint8 chunks (n, H, W, 3)
            of the same sizes.

    Yields:
        uint8 chunks (n, H, W, 3).
    """
    for p_chunk, e_chunk in zip(plain, edited):
        if p_chunk.shape != e_chunk.shape:
            raise InputError(f"confined edit: plain {p_chunk.shape} and edited {e_chunk.shape} chunks differ")
        base = p_chunk.astype(np.float32)
        change = e_chunk.astype(np.float32) - base
        kept = np.stack([mask(c) for c in change])
        yield np.clip(base + kept[..., None] * change, 0, 255).round().astype(np.uint8)
