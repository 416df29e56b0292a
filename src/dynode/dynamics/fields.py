"""Vector fields dz/dtau = f(tau, z), chosen by name from ``FIELDS``.

All fields act on normalised coordinates z (D,) or (B, D) and normalised time tau, a scalar
or one time per row (B, 1).

- ``mlp`` (default): autonomous MLP whose output scale, the speed in latent space, is learned.
- ``mlp_t``: the same MLP also fed tau, for motion that changes over the video.
- ``paper``: the DynODE authors' field, output divided by its norm (fixed speed); reproduction.
- ``cde``: a neural controlled differential equation dz = (E + g(z)) dX(tau) driven by the
  video's own observed path X = (tau, z_obs) through a natural cubic spline (torchcde); E
  passes the path through, so it starts as that spline and learns corrections. It has no
  control past the observations: it holds still when extrapolating.
"""

from __future__ import annotations

import torch
import torchcde
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


class CDEField(nn.Module):
    """Neural CDE as an ODE: dz/dtau = (E + g(z)) @ dX/dtau, X the observed path (tau, z_obs).

    E = [0 | I] passes the path's own increments through, so with the learned g near zero at
    the start the solution is the natural cubic spline of the observations, and training
    learns corrections to it.

    Args:
        dim: state size. hidden: MLP width.
        path: (tau (T,), z (T, dim)) the observations that drive the equation.
    """

    time_dependent = True

    def __init__(self, dim: int, hidden: int, path: tuple[torch.Tensor, torch.Tensor]):
        super().__init__()
        tau, z = path
        self.dim = dim
        self.net = _mlp(dim, hidden, dim * (dim + 1))
        self.register_buffer("passthrough", torch.cat([torch.zeros(dim, 1), torch.eye(dim)], 1), persistent=False)
        control = torch.cat([tau[:, None].float(), z.float()], -1)
        self.spline = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(control, t=tau.float()), t=tau.float())

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        t = t.to(z)
        # No control outside the observed span (ends excluded, so a solve started there holds still).
        inside = ((t > 0) & (t < 1)).to(z)
        dx = self.spline.derivative(t.clamp(0, 1).reshape(-1)) * inside.reshape(-1, 1)
        g = self.net(z).reshape(*z.shape[:-1], self.dim, self.dim + 1) + self.passthrough
        if t.dim() == 0:
            dx = dx[0]
        return (g @ dx.unsqueeze(-1)).squeeze(-1)


FIELDS = {
    "mlp": lambda dim, hidden, path: LearnedSpeedField(dim, hidden, time_dependent=False),
    "mlp_t": lambda dim, hidden, path: LearnedSpeedField(dim, hidden, time_dependent=True),
    "paper": lambda dim, hidden, path: PaperField(dim, hidden),
    "cde": CDEField,
}


def make_field(name: str, dim: int, hidden: int,
               path: tuple[torch.Tensor, torch.Tensor] | None = None) -> nn.Module:
    """Build a field by name.

    Args:
        path: (tau (T,), z (T, dim)) observed path; needed by ``cde`` only.

    Raises:
        InputError: unknown name (the message lists the valid ones), or ``cde`` without a path.
    """
    if name not in FIELDS:
        raise InputError(f"unknown vector field {name!r}; valid fields are {sorted(FIELDS)}")
    if name == "cde" and path is None:
        raise InputError("the cde field needs the observed path it is driven by")
    return FIELDS[name](dim, hidden, path)
