"""Latent-space baselines: linear, slerp and cubic-spline interpolation; constant-velocity extrapolation.

Each takes the observed times (T,) in seconds, the observed codes (T, ...) and query times
(N,) and returns codes (N, ...). The interpolators hold the first/last code outside the
observed span.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from dynode.config import LATENT_BASELINES
from dynode.errors import InputError
from dynode.types import bracket, check_times


def _checked(observed_times, latents: torch.Tensor, times) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated observed times (T,) and query times (N,), both float64."""
    t_obs = check_times(observed_times, "observed_times")
    if len(t_obs) != len(latents) or len(t_obs) < 2:
        raise InputError(f"need >= 2 observed codes with one time each, got {len(latents)} codes and "
                         f"{len(t_obs)} times")
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(t).all():
        raise InputError(f"times contains NaN or infinite values: {t.tolist()[:8]}")
    return t_obs, t


def _bracket(observed_times, latents: torch.Tensor, times):
    """Indices of the observations around each query time and the fraction between them, shaped
    to broadcast over a code."""
    lo, hi, frac = bracket(*_checked(observed_times, latents, times))
    return lo, hi, frac.float().view(-1, *[1] * (latents.dim() - 1))


def linear(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Piecewise-linear interpolation of the codes."""
    lo, hi, frac = _bracket(observed_times, latents, times)
    return latents[lo] * (1 - frac) + latents[hi] * frac


def slerp(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Spherical interpolation of each code row (each W+ layer's vector) between neighbours.

    The direction moves along the great circle and the norm linearly; rows that are (nearly)
    parallel fall back to linear interpolation.
    """
    lo, hi, frac = _bracket(observed_times, latents, times)
    a, b = latents[lo].float(), latents[hi].float()
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp(min=1e-12), b / nb.clamp(min=1e-12)
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    small = omega < 1e-4
    so = torch.where(small, torch.ones_like(omega), torch.sin(omega))
    wa = torch.where(small, 1 - frac, torch.sin((1 - frac) * omega) / so)
    wb = torch.where(small, frac, torch.sin(frac * omega) / so)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return direction * (na * (1 - frac) + nb * frac)


def spline(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Natural cubic spline through the codes (C2 in time; needs no fitting)."""
    t_obs, t = (x.numpy() for x in _checked(observed_times, latents, times))
    t = np.clip(t, t_obs[0], t_obs[-1])
    values = latents.reshape(len(latents), -1).double().numpy()
    out = CubicSpline(t_obs, values, axis=0, bc_type="natural")(t)
    return torch.from_numpy(out).float().reshape(len(t), *latents.shape[1:])


def constant_velocity(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Extrapolate from the last code with the velocity of the last two observations."""
    t_obs = check_times(observed_times, "observed_times")
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    velocity = (latents[-1] - latents[-2]) / float(t_obs[-1] - t_obs[-2])
    dt = (t - t_obs[-1]).float().view(-1, *[1] * (latents.dim() - 1))
    return latents[-1][None] + dt * velocity[None]


LATENT_INTERPOLATORS = dict(zip(LATENT_BASELINES, (linear, slerp, spline)))
