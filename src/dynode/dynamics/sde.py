"""Stochastic futures of a fitted trajectory, as its field draws them (see :meth:`dynode.dynamics.fields.Field.futures`)."""

from __future__ import annotations

import torch

from dynode.dynamics.trajectory import Trajectory
from dynode.errors import InputError


@torch.no_grad()
def sample_future(trajectory: Trajectory, times, samples: int = 8, seed: int = 0) -> torch.Tensor:
    """Plausible futures from the last observed code: the fitted field as the drift of an SDE
    with diagonal noise ``trajectory.diffusion`` (Euler-Maruyama), so the spread grows with
    the horizon (:meth:`dynode.dynamics.fields.Field.futures`). A trajectory driven by a motion prior draws
    its futures from the prior's exact posterior given the whole video instead
    (:meth:`dynode.dynamics.prior_field.PriorField.futures`).

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
    z = trajectory.field.futures(trajectory.encode(trajectory.observed[-1:]), tau, tau_last, samples, seed,
                                 trajectory.diffusion, trajectory.solver.step_size)
    codes = trajectory.decode(z.reshape(-1, z.shape[-1])).reshape(len(tau), samples, *trajectory.latent_shape)
    return (codes + trajectory.residual_at(times)[:, None]).transpose(0, 1).contiguous()
