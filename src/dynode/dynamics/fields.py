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
- ``second_order``: d2z/dtau2 = f(z, dz/dtau), on the state (z, v) (Norcliffe et al. 2020). A
  first-order autonomous field cannot pass twice through one point with two velocities (a head
  that turns and turns back); this one can. A solve started at an observation starts with the
  velocity of the natural cubic spline of the observations there; the acceleration starts near
  zero, so an untrained path leaves each code along the spline's tangent.
- ``augmented``: the learned-speed MLP on z and extra coordinates that start at zero at every
  solve (Augmented Neural ODEs, Dupont et al. 2019): the path may cross itself in z.

A field's state may be larger than the coordinates z: ``lift(z, tau)`` makes the state a solve
starts from at times tau, and ``project(state)`` gives z back. Solvers and fitting lift and
project every solve (:mod:`dynode.dynamics.solve`), so every path, extrapolation, SDE futures
and edits work the same with every field.
"""

from __future__ import annotations

import math

import torch
import torchcde
import torchsde
from torch import nn

from dynode.config import check_choice
from dynode.errors import InputError
from dynode.types import bracket


class Field(nn.Module):
    """A vector field on a state of ``dim`` coordinates and ``extra`` more (0 for plain fields);
    ``velocity``: the extra state is the coordinates' velocity (it moves with them under a change
    of coordinates); ``state_free``: the drift depends on time alone."""

    extra = 0
    velocity = False
    # The drift does not depend on the state (a motion prior's): every start moves alike, so a solve from
    # any start is the observed path shifted by the start's offset from the first code.
    state_free = False

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def lift(self, z: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """The state (B, dim + extra) a solve starts from at coordinates z (B, dim) and times tau (B,)."""
        return z

    def project(self, state: torch.Tensor) -> torch.Tensor:
        """The coordinates (..., dim) of states (..., dim + extra)."""
        return state[..., :self.dim]

    def record(self) -> dict:
        """What rebuilding this field needs beyond its name, width and weights (saved in a trajectory's header)."""
        return {}

    def futures(self, last: torch.Tensor, tau: torch.Tensor, tau_last: float, samples: int, seed: int,
                diffusion: torch.Tensor, step: float | None) -> torch.Tensor:
        """Futures (N, samples, dim) at tau (N,) (clamped to ``tau_last``) from the last observed coordinates
        ``last`` (1, dim) at ``tau_last``: the field as the drift of an Ito SDE with diagonal noise ``diffusion``
        (dim,), solved by Euler-Maruyama (``step``: the solver's step, None: the grid's), the Brownian
        motion seeded by ``seed``."""
        uniq, inverse = torch.unique(tau.clamp(min=tau_last), sorted=True, return_inverse=True)
        grid = torch.cat([torch.tensor([tau_last], dtype=torch.float64), uniq[uniq > tau_last]]).float()
        z0 = self.lift(last, torch.tensor([tau_last])).expand(samples, -1).contiguous()
        if len(grid) > 1:
            bm = torchsde.BrownianInterval(float(grid[0]), float(grid[-1]), size=z0.shape, entropy=seed)
            z = torchsde.sdeint(_SDE(self, diffusion), z0, grid, bm=bm, method="euler", dt=step)
        else:
            z = z0[None]
        if uniq[0] > tau_last:
            z = z[1:]
        return self.project(z[inverse])


class _SDE(nn.Module):
    """Ito SDE dz = f(tau, z) dtau + diag(sigma) dW for torchsde."""

    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, field: Field, sigma: torch.Tensor):
        super().__init__()
        # The noise drives the coordinates; a larger state's other parts follow through the drift.
        self.field, self.sigma = field, torch.cat([sigma, sigma.new_zeros(field.extra)])

    def f(self, t, z):
        return self.field(t, z)

    def g(self, t, z):
        return self.sigma.expand_as(z)


def _linear(in_dim: int, out_dim: int, generator: torch.Generator) -> nn.Linear:
    """A linear layer initialised as torch's default does, its draws from ``generator`` (not torch's own)."""
    layer = nn.utils.skip_init(nn.Linear, in_dim, out_dim)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    nn.init.uniform_(layer.bias, -1 / math.sqrt(in_dim), 1 / math.sqrt(in_dim), generator=generator)
    return layer


def _mlp(in_dim: int, hidden: int, out_dim: int, generator: torch.Generator) -> nn.Sequential:
    net = nn.Sequential(_linear(in_dim, hidden, generator), nn.SiLU(), _linear(hidden, hidden, generator), nn.SiLU(),
                        _linear(hidden, out_dim, generator))
    # Start near the zero field so early solves are cheap and stable.
    nn.init.zeros_(net[-1].bias)
    net[-1].weight.data.mul_(0.1)
    return net


class LearnedSpeedField(Field):
    """MLP field whose output scale (the speed in latent space) is learned.

    Args:
        dim: coordinates. hidden: MLP width. time_dependent: also feed tau to the MLP.
        extra: more state coordinates, zero at the start of every solve (the augmented field).
    """

    def __init__(self, dim: int, hidden: int = 128, time_dependent: bool = False, extra: int = 0,
                 generator: torch.Generator | None = None):
        super().__init__(dim)
        self.time_dependent, self.extra = time_dependent, extra
        self.net = _mlp(dim + extra + int(time_dependent), hidden, dim + extra, _draws(generator))

    def lift(self, z: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, z.new_zeros(*z.shape[:-1], self.extra)], -1) if self.extra else z

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.time_dependent:
            tt = t.to(z).expand(*z.shape[:-1], 1)
            z = torch.cat([z, tt], -1)
        return self.net(z)


class PaperField(Field):
    """Reproduction of the DynODE authors' field: autonomous, output normalised to unit length.

    The released code divides the MLP output by its norm, which fixes the speed of the path in
    latent space whatever the video does; kept only to reproduce the paper's behaviour.
    """

    def __init__(self, dim: int, hidden: int = 128, generator: torch.Generator | None = None):
        super().__init__(dim)
        self.net = _mlp(dim, hidden, dim, _draws(generator))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return out / out.norm(dim=-1, keepdim=True).clamp(min=1e-8)


class CDEField(Field):
    """Neural CDE as an ODE: dz/dtau = (E + g(z)) @ dX/dtau, X the observed path (tau, z_obs).

    E = [0 | I] passes the path's own increments through, so with the learned g near zero at
    the start the solution is the natural cubic spline of the observations, and training
    learns corrections to it.

    Args:
        dim: state size. hidden: MLP width.
        path: (tau (T,), z (T, dim)) the observations that drive the equation.
    """

    def __init__(self, dim: int, hidden: int, path: tuple[torch.Tensor, torch.Tensor],
                 generator: torch.Generator | None = None):
        super().__init__(dim)
        tau, z = path
        self.net = _mlp(dim, hidden, dim * (dim + 1), _draws(generator))
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


class SecondOrderField(Field):
    """d2z/dtau2 = f(z, dz/dtau) as a first-order field on the state (z, v).

    Args:
        dim: coordinates. hidden: MLP width.
        path: (tau (T,), z (T, dim)) the observations: a solve started at time tau starts with the
            velocity of their natural cubic spline there (held constant outside their span).
    """

    def __init__(self, dim: int, hidden: int, path: tuple[torch.Tensor, torch.Tensor],
                 generator: torch.Generator | None = None):
        super().__init__(dim)
        self.extra, self.velocity = dim, True
        tau, z = path
        self.net = _mlp(2 * dim, hidden, dim, _draws(generator))
        spline = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(z.float(), t=tau.float()), t=tau.float())
        self.register_buffer("tau_obs", tau.float(), persistent=False)
        self.register_buffer("v_obs", spline.derivative(tau.float()).detach(), persistent=False)

    def lift(self, z: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        lo, hi, frac = bracket(self.tau_obs, tau.to(self.tau_obs).reshape(-1).clamp(self.tau_obs[0], self.tau_obs[-1]))
        v = self.v_obs[lo] + frac[:, None] * (self.v_obs[hi] - self.v_obs[lo])
        return torch.cat([z, v.to(z).expand(*z.shape[:-1], self.dim)], -1)

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return torch.cat([state[..., self.dim:], self.net(state)], -1)


def _draws(generator: torch.Generator | None) -> torch.Generator:
    """Where a field's initial weights are drawn from: ``generator``, or a fixed seed (never torch's own)."""
    return generator if generator is not None else torch.Generator().manual_seed(0)


FIELDS = {
    "mlp": lambda dim, hidden, path, g: LearnedSpeedField(dim, hidden, time_dependent=False, generator=g),
    "mlp_t": lambda dim, hidden, path, g: LearnedSpeedField(dim, hidden, time_dependent=True, generator=g),
    "paper": lambda dim, hidden, path, g: PaperField(dim, hidden, generator=g),
    "cde": CDEField,
    "second_order": SecondOrderField,
    "augmented": lambda dim, hidden, path, g: LearnedSpeedField(dim, hidden, extra=dim, generator=g),
}


def make_field(name: str, dim: int, hidden: int, path: tuple[torch.Tensor, torch.Tensor] | None = None,
               generator: torch.Generator | None = None) -> Field:
    """Build a field by name, its initial weights drawn from ``generator`` (default: a fixed seed).

    Args:
        path: (tau (T,), z (T, dim)) observed path; needed by ``cde`` and ``second_order``.

    Raises:
        InputError: unknown name (the message lists the valid ones), or ``cde`` without a path.
    """
    check_choice("vector field", name, tuple(sorted(FIELDS)))
    if name in ("cde", "second_order") and path is None:
        raise InputError(f"the {name} field needs the observed path")
    return FIELDS[name](dim, hidden, path, generator)
