"""Stochastic futures of a fitted trajectory: its field as the drift of a neural SDE (torchsde)."""

from __future__ import annotations

import torch
import torchsde
from torch import nn

from dynode.dynamics.prior import PriorField
from dynode.dynamics.trajectory import Trajectory
from dynode.errors import InputError


class _SDE(nn.Module):
    """Ito SDE dz = f(tau, z) dtau + diag(sigma) dW for torchsde."""

    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, field: nn.Module, sigma: torch.Tensor):
        super().__init__()
        # The noise drives the coordinates; a larger state's other parts follow through the drift.
        self.field, self.sigma = field, torch.cat([sigma, sigma.new_zeros(field.extra)])

    def f(self, t, z):
        return self.field(t, z)

    def g(self, t, z):
        return self.sigma.expand_as(z)


@torch.no_grad()
def sample_future(trajectory: Trajectory, times, samples: int = 8, seed: int = 0) -> torch.Tensor:
    """Plausible futures from the last observed code: the fitted field as the drift of an SDE
    with diagonal noise ``trajectory.diffusion`` (Euler-Maruyama), so the spread grows with
    the horizon. A trajectory driven by a motion prior draws its futures from the prior's exact
    posterior given the whole video instead (:meth:`dynode.dynamics.prior.PriorField.sample_future`).

    Args:
        times: (N,) seconds, all at or after the last observed time.
        samples: number of futures. seed: seeds the Brownian motion (same seed, same futures).

    Returns:
        float32 (samples, N, num_ws, w_dim).

    Raises:
        InputError: a time before the last observation, or samples < 1.
    """
    tau = trajectory.tau(times)
    tau_last = float(trajectory.tau(trajectory.observed_times[-1:])[0])
    if samples < 1 or not (tau >= tau_last - 1e-9).all():
        raise InputError(f"sample_future(): need samples >= 1 and times at or after the last observed time "
                         f"{float(trajectory.observed_times[-1]):.4f} s")
    field = trajectory.field
    if isinstance(field, PriorField):
        z = field.sample_future(tau.clamp(min=tau_last), samples, seed).transpose(0, 1)
    else:
        z = _euler_maruyama(trajectory, tau, tau_last, samples, seed)
    codes = trajectory.decode(z.reshape(-1, z.shape[-1])).reshape(len(tau), samples, *trajectory.latent_shape)
    return (codes + trajectory.residual_at(times)[:, None]).transpose(0, 1).contiguous()


def _euler_maruyama(trajectory: Trajectory, tau: torch.Tensor, tau_last: float, samples: int, seed: int) -> torch.Tensor:
    """(N, samples, k) futures at tau of the field as drift with diagonal noise, from the last observed code."""
    field = trajectory.field
    uniq, inverse = torch.unique(tau.clamp(min=tau_last), sorted=True, return_inverse=True)
    grid = torch.cat([torch.tensor([tau_last], dtype=torch.float64), uniq[uniq > tau_last]]).float()
    z0 = field.lift(trajectory.encode(trajectory.observed[-1:]), torch.tensor([tau_last])).expand(samples, -1).contiguous()
    if len(grid) > 1:
        bm = torchsde.BrownianInterval(float(grid[0]), float(grid[-1]), size=z0.shape, entropy=seed)
        z = torchsde.sdeint(_SDE(field, trajectory.diffusion), z0, grid, bm=bm, method="euler",
                            dt=trajectory.solver.step_size)
    else:
        z = z0[None]
    if uniq[0] > tau_last:
        z = z[1:]
    return field.project(z[inverse])
