"""Conversions between dynode's image tensors and uint8 pixels, and PNG grids."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from dynode.io.checkpoints import atomic_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3)."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def from_uint8(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1


def save_grid(path: str | os.PathLike, images: torch.Tensor, ncol: int = 8, scale: int = 1) -> None:
    """Save (N, 3, H, W) images in [-1, 1] as one PNG grid, ncol images a row."""
    pix = to_uint8(images)
    n, h, w, _ = pix.shape
    nrow = -(-n // ncol)
    grid = np.zeros((nrow * h, min(n, ncol) * w, 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = pix[i]
    img = Image.fromarray(grid)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
