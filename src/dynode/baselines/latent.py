"""Latent-space baselines: piecewise-linear interpolation and constant-velocity extrapolation."""

from __future__ import annotations

import torch

from dynode.types import check_times


def linear(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Piecewise-linear interpolation of codes (T, ...) at times (N,); held constant outside the span."""
    t_obs = check_times(observed_times, "observed_times")
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    tc = t.clamp(t_obs[0], t_obs[-1])
    hi = torch.searchsorted(t_obs, tc).clamp(1, len(t_obs) - 1)
    lo = hi - 1
    frac = ((tc - t_obs[lo]) / (t_obs[hi] - t_obs[lo])).float().view(-1, *[1] * (latents.dim() - 1))
    return latents[lo] * (1 - frac) + latents[hi] * frac


def constant_velocity(observed_times, latents: torch.Tensor, times) -> torch.Tensor:
    """Extrapolate from the last code with the velocity of the last two observations."""
    t_obs = check_times(observed_times, "observed_times")
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    velocity = (latents[-1] - latents[-2]) / float(t_obs[-1] - t_obs[-2])
    dt = (t - t_obs[-1]).float().view(-1, *[1] * (latents.dim() - 1))
    return latents[-1][None] + dt * velocity[None]
