"""Solving the fitted ODE: one solve, the batched per-segment solve, and the exact-endpoint path."""

from __future__ import annotations

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from dynode.config import SolverConfig
from dynode.errors import FitError
from dynode.types import bracket


class _Counted(nn.Module):
    """Counts function evaluations of a field (reported in fit stats and errors)."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return self.field(t, z)


class Segments(nn.Module):
    """A field seen in each row's own segment time s in [0, 1]: row b covers tau = start_b + s * gap_b.

    Solving it from each row's code solves every segment between observations in one batch.
    """

    def __init__(self, field: nn.Module, start: torch.Tensor, gap: torch.Tensor):
        super().__init__()
        self.field = field
        self.start, self.gap = start[:, None], gap[:, None]

    def forward(self, s, z):
        return self.gap * self.field(self.start + s * self.gap, z)


def solve(field: nn.Module, z0: torch.Tensor, taus: torch.Tensor, solver: SolverConfig = SolverConfig(),
          adjoint: bool = False) -> torch.Tensor:
    """Solve dz/dtau = field(tau, z) from z0 at taus[0] through the increasing (or decreasing) taus.

    ``adjoint`` back-propagates by solving the adjoint equation backwards instead of through the
    solver's steps: memory does not grow with the number of steps, at about twice the time.
    Returns (len(taus), *z0.shape). Raises FitError on solver failure or non-finite states,
    naming the time reached and the number of function evaluations.
    """
    counted = _Counted(field)
    options = {"step_size": solver.step_size} if solver.method == "rk4" else {}
    integrate = odeint_adjoint if adjoint else odeint
    try:
        out = integrate(counted, z0, taus.to(z0), method=solver.method, rtol=solver.rtol, atol=solver.atol,
                        options=options)
    except AssertionError as e:  # torchdiffeq reports step-size underflow with a bare assert
        raise FitError(f"ODE solver {solver.method} failed between tau={taus[0].item():.4f} and "
                       f"{taus[-1].item():.4f} after {counted.nfe} function evaluations ({e}); try solver rk4 or "
                       "fewer iterations with a lower learning rate") from e
    finite = torch.isfinite(out.reshape(len(taus), -1)).all(1)
    if not finite.all():
        first = int((~finite).nonzero()[0])
        raise FitError(f"ODE state became NaN/inf at tau={taus[first].item():.4f} (last finite tau "
                       f"{taus[max(first - 1, 0)].item():.4f}) after {counted.nfe} function evaluations; "
                       "lower the learning rate or use solver rk4")
    return out


def smoothstep(s: torch.Tensor) -> torch.Tensor:
    """3s^2 - 2s^3: 0 at s=0, 1 at s=1, zero slope at both ends."""
    return s * s * (3 - 2 * s)


def through_observations(field: nn.Module, z_obs: torch.Tensor, tau_obs: torch.Tensor, tau: torch.Tensor,
                         solver: SolverConfig = SolverConfig()) -> torch.Tensor:
    """The exact-endpoint path at times inside the observed span.

    On each segment [tau_i, tau_i+1] the ODE is solved forwards from z_i and backwards from
    z_i+1, and the two are blended with the smooth weight b = smoothstep(s), s the fraction of
    the segment: z(tau) = (1 - b) F_i(tau) + b B_i(tau). The path equals each observation at
    its time and its slope there is the field's (b has zero slope at both ends), so it is C1
    across observations; between them it follows the learned flow, its defect (how far a
    one-segment solve misses the next code) spread smoothly over the segment. All segments are
    solved in one batch, once forwards and once backwards.

    Args:
        z_obs: (T, k) observed coordinates at tau_obs (T,), increasing.
        tau: (N,) query times inside [tau_obs[0], tau_obs[-1]].

    Returns:
        z (N, k).
    """
    lo, hi, frac = bracket(tau_obs, tau)
    # float32 before the unique: the solver's grid must stay strictly increasing once cast.
    frac = frac.float()
    segs, seg_of = torch.unique(lo, return_inverse=True)
    fracs = torch.unique(frac, sorted=True)
    inner = fracs[(fracs > 0) & (fracs < 1)]
    z = z_obs[lo].clone()
    if len(inner):
        seg_field = Segments(field, tau_obs[segs].float(), (tau_obs[segs + 1] - tau_obs[segs]).float())
        grid = torch.cat([torch.zeros(1), inner, torch.ones(1)])
        fwd = field.project(solve(seg_field, field.lift(z_obs[segs], tau_obs[segs]), grid, solver)[1:-1])
        bwd = field.project(solve(seg_field, field.lift(z_obs[segs + 1], tau_obs[segs + 1]), grid.flip(0),
                                  solver).flip(0)[1:-1])
        rows = torch.searchsorted(inner, frac).clamp(max=len(inner) - 1)
        mid = (frac > 0) & (frac < 1)
        b = smoothstep(frac[mid])[:, None]
        z[mid] = (1 - b) * fwd[rows[mid], seg_of[mid]] + b * bwd[rows[mid], seg_of[mid]]
    ends = frac >= 1
    z[ends] = z_obs[hi[ends]]
    return z


def solve_at(field: nn.Module, z0: torch.Tensor, tau0: float, tau: torch.Tensor,
             solver: SolverConfig = SolverConfig()) -> torch.Tensor:
    """z at times tau (N,) on either side of tau0, solved from each row of z0 (B, k) at tau0 (lifted to the
    field's state there, see :class:`dynode.dynamics.fields.Field`): -> (N, B, k)."""
    out = torch.empty(len(tau), *z0.shape)
    s0 = field.lift(z0, torch.full((len(z0),), float(tau0)))
    for mask in (tau >= tau0, tau < tau0):
        if not mask.any():
            continue
        uniq, inverse = torch.unique(tau[mask], sorted=True, return_inverse=True)
        backward = bool(uniq[0] < tau0)
        targets = uniq.flip(0) if backward else uniq[uniq > tau0]
        z = z0[None]
        if len(targets):
            grid = torch.cat([torch.tensor([tau0], dtype=torch.float64), targets]).float()
            z = field.project(solve(field, s0, grid, solver)[1:])
        if backward:
            z = z.flip(0)
        elif uniq[0] == tau0 and len(targets):
            z = torch.cat([z0[None], z])
        out[mask] = z[inverse]
    return out
