"""Per-image PSNR and SSIM on dynode images (float (N, 3, H, W) in [-1, 1])."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dynode.errors import InputError


def _check(a: torch.Tensor, b: torch.Tensor, name: str) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise InputError(f"{name}(): expected two (N, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, (N,); the peak is the [-1, 1] range."""
    _check(a, b, "psnr")
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp(min=1e-10))


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Structural similarity per image, (N,), Gaussian window (sigma 1.5), on [0, 1] intensities.

    Differentiable, so it also serves as a loss term. Windows larger than the image shrink to fit.
    """
    _check(a, b, "ssim")
    a, b = (a.float() + 1) / 2, (b.float() + 1) / 2
    window = min(window, a.shape[2], a.shape[3])
    g = _gauss(window).to(a)
    c = a.shape[1]
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x):
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)
