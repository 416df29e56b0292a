"""Applying a direction: to the start of a trajectory (DynODE) or to every frame (baseline)."""

from __future__ import annotations

import torch

from dynode.errors import InputError


def _offset(direction: torch.Tensor, strength: float, num_ws: int, layers: list[int] | None) -> torch.Tensor:
    d = direction[None].expand(num_ws, -1) if direction.dim() == 1 else direction
    d = d * float(strength)
    if layers is not None:
        bad = [i for i in layers if not 0 <= i < num_ws]
        if bad:
            raise InputError(f"edit layers {bad} out of range 0..{num_ws - 1}")
        mask = torch.zeros(num_ws, 1)
        mask[layers] = 1
        d = d * mask
    return d


def edit_start(start: torch.Tensor, direction: torch.Tensor, strength: float,
               layers: list[int] | None = None) -> torch.Tensor:
    """The edited first code w0 + a*d; solving the trajectory from it propagates the edit.

    Args:
        start: (num_ws, w_dim). direction: (w_dim,) or (num_ws, w_dim). strength: a.
        layers: W+ layers to edit (default all).
    """
    return start + _offset(direction, strength, start.shape[0], layers)


def edit_per_frame(latents: torch.Tensor, direction: torch.Tensor, strength: float,
                   layers: list[int] | None = None) -> torch.Tensor:
    """Baseline: add a*d to every frame's code, (T, num_ws, w_dim) -> same."""
    return latents + _offset(direction, strength, latents.shape[1], layers)[None]
