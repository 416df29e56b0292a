"""Vector fields dz/dt = f(z, t), chosen by name from ``FIELDS``.

All fields act on normalised coordinates z (D,) or (B, D) and normalised time tau.
"""

from __future__ import annotations

import torch
from torch import nn

from dynode.errors import InputError


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, out_dim))
    # Start near the zero field so early solves are cheap and stable.
    nn.init.zeros_(net[-1].bias)
    net[-1].weight.data.mul_(0.1)
    return net


class LearnedSpeedField(nn.Module):
    """MLP field whose output scale (the speed in latent space) is learned.

    Args:
        dim: state size. hidden: MLP width. time_dependent: also feed tau to the MLP.
    """

    def __init__(self, dim: int, hidden: int = 128, time_dependent: bool = False):
        super().__init__()
        self.time_dependent = time_dependent
        self.net = _mlp(dim + int(time_dependent), hidden, dim)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.time_dependent:
            tt = t.to(z).expand(*z.shape[:-1], 1)
            z = torch.cat([z, tt], -1)
        return self.net(z)


class PaperField(nn.Module):
    """Reproduction of the DynODE authors' field: autonomous, output normalised to unit length.

    The released code divides the MLP output by its norm, which fixes the speed of the path in
    latent space whatever the video does; kept only to reproduce the paper's behaviour.
    """

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.net = _mlp(dim, hidden, dim)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return out / out.norm(dim=-1, keepdim=True).clamp(min=1e-8)


FIELDS = {
    "mlp": lambda dim, hidden: LearnedSpeedField(dim, hidden, time_dependent=False),
    "mlp_t": lambda dim, hidden: LearnedSpeedField(dim, hidden, time_dependent=True),
    "paper": lambda dim, hidden: PaperField(dim, hidden),
}


def make_field(name: str, dim: int, hidden: int) -> nn.Module:
    """Build a field by name.

    Raises:
        InputError: unknown name (the message lists the valid ones).
    """
    if name not in FIELDS:
        raise InputError(f"unknown vector field {name!r}; valid fields are {sorted(FIELDS)}")
    return FIELDS[name](dim, hidden)
