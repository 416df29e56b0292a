"""Differentiable augmentation for GAN training (the DiffAugment recipe of Zhao et al., 2020).

The same random transform family is applied to real and generated images before the
discriminator sees them, in both the discriminator and the generator step, so gradients reach
the generator through the transform and the generator is not pushed to reproduce augmented
images. Each policy draws its own random parameters per image from ``generator``.

Images are float (B, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dynode.errors import InputError


def _per_image(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One uniform [0, 1) number per image, shaped (B, 1, 1, 1) to broadcast over it."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=g).to(x)


def _color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    x = x + (_per_image(x, g) - 0.5)  # brightness
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (_per_image(x, g) * 2) + mean  # saturation
    mean = x.mean([1, 2, 3], keepdim=True)
    return (x - mean) * (_per_image(x, g) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (b,), generator=g).to(x.device)
    tx = torch.randint(-sx, sx + 1, (b,), generator=g).to(x.device)
    # Shift by gathering from a zero-padded copy (padding = background black, as in DiffAugment).
    rows = (torch.arange(h, device=x.device)[None] - ty[:, None] + 1).clamp(0, h + 1)  # (B, H)
    cols = (torch.arange(w, device=x.device)[None] - tx[:, None] + 1).clamp(0, w + 1)  # (B, W)
    padded = F.pad(x, (1, 1, 1, 1))
    idx = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b,), generator=g).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b,), generator=g).to(x.device)
    ys = torch.arange(h, device=x.device)[None] - (cy[:, None] - ch // 2)
    xs = torch.arange(w, device=x.device)[None] - (cx[:, None] - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]
    return x * (~inside)[:, None].to(x)


POLICIES = {"color": _color, "translation": _translation, "cutout": _cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """Split a comma-separated policy ("color,translation") and check every name.

    Raises:
        InputError: an unknown policy name.
    """
    names = tuple(p for p in policy.replace(" ", "").split(",") if p)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise InputError(f"unknown augmentation {unknown}; valid names are {sorted(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """Apply the named differentiable augmentations in order.

    Args:
        x: (B, 3, H, W) images.
        policy: comma-separated names from ``POLICIES``; "" returns ``x`` unchanged.
        generator: CPU random generator for the per-image parameters.
    """
    for name in parse_policy(policy):
        x = POLICIES[name](x, generator)
    return x
