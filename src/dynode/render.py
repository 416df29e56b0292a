"""Rendering codes to pixels in chunks, so long or high-frame-rate outputs stay within memory."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from dynode.errors import InputError
from dynode.types import Generator
from dynode.io.images import to_uint8


def check_latents(generator: Generator, latents: torch.Tensor) -> None:
    """Raise InputError unless latents are (T, num_ws, w_dim) for this generator."""
    want = (generator.num_ws, generator.w_dim)
    if latents.dim() != 3 or tuple(latents.shape[1:]) != want:
        raise InputError(f"latents of shape {tuple(latents.shape)} do not fit this generator, which needs "
                         f"(T, {want[0]}, {want[1]}); were they made with another generator?")


def render_chunk(generator: Generator) -> int:
    """Frames to render at a time: 32 on the CPU; on a GPU as many as half its free memory holds
    (about 40 bytes of activations per pixel per frame at StyleGAN2's widths), 1 to 256."""
    if generator.device.type != "cuda":
        return 32
    free, _ = torch.cuda.mem_get_info(generator.device)
    return int(max(1, min(256, free // 2 // (40 * generator.resolution ** 2 * 32))))


@torch.no_grad()
def iter_render(generator: Generator, latents: torch.Tensor, chunk: int = 32,
                progress: Callable[[int, int], None] | None = None) -> Iterator[torch.Tensor]:
    """Yield float images (n, 3, R, R) in [-1, 1] for consecutive chunks of codes (T, num_ws, w_dim)."""
    check_latents(generator, latents)
    device = generator.device
    for i in range(0, len(latents), chunk):
        yield generator.synthesis(latents[i:i + chunk].to(device)).cpu()
        if progress is not None:
            progress(min(i + chunk, len(latents)), len(latents))


def drawn(generator: Generator, codes: torch.Tensor, base: Generator | None = None,
          unedited: torch.Tensor | None = None, chunk: int = 32) -> Iterator[np.ndarray]:
    """uint8 chunks (n, R, R, 3) of ``codes`` (N, num_ws, w_dim) rendered by ``generator``; with ``base`` (the
    generator before a tuning), the tuned render of the ``unedited`` codes plus ``base``'s change from
    them to ``codes`` (how an edit made for ``base`` is drawn on a tuned generator; the ``unedited`` codes
    themselves are the tuned render alone)."""
    if base is None or codes is unedited:
        return (to_uint8(c) for c in iter_render(generator, codes, chunk))
    return (to_uint8(own + edited - plain) for own, edited, plain in
            zip(iter_render(generator, unedited, chunk), iter_render(base, codes, chunk),
                iter_render(base, unedited, chunk)))


def render_images(generator: Generator, latents: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """Codes (T, num_ws, w_dim) -> float images (T, 3, R, R) in [-1, 1], rendered in chunks."""
    return torch.cat(list(iter_render(generator, latents, chunk)))


def render_pixels(generator: Generator, latents: torch.Tensor, chunk: int = 32,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Codes (T, num_ws, w_dim) -> uint8 video pixels (T, R, R, 3)."""
    return np.concatenate([to_uint8(x) for x in iter_render(generator, latents, chunk, progress)])


@torch.no_grad()
def direction_strip(generator: Generator, directions: list, strengths: list[float], start: torch.Tensor | None = None,
                    seed: int = 0) -> torch.Tensor:
    """Images of ``start`` (num_ws, w_dim; default: a random face, truncation 0.7, from ``seed``)
    edited along each direction at each strength: one row per direction,
    (len(directions) * len(strengths), 3, R, R) in [-1, 1]."""
    if start is None:
        z = torch.randn(1, generator.w_dim, generator=torch.Generator().manual_seed(seed)).to(generator.device)
        start = generator.mapping(z, truncation=0.7)[0].cpu().expand(generator.num_ws, -1)
    codes = torch.stack([start + d.offset(a, generator.num_ws) for d in directions for a in strengths])
    return render_images(generator, codes)
