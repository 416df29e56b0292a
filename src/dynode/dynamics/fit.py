"""Fitting a neural ODE to a video's latent sequence (DynODE, with learned speed)."""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from dynode.config import FitConfig
from dynode.dynamics.fields import make_field
from dynode.dynamics.trajectory import Trajectory, solve
from dynode.errors import FitError, InputError
from dynode.types import LatentSequence


def _full_loss(field, z, tau, cfg) -> float:
    with torch.no_grad():
        pred = solve(field, z[0], tau, cfg.solver, cfg.rtol, cfg.atol, cfg.step_size)
        return (pred - z).pow(2).mean().item()


def _windows_loss(field, z, tau, times, starts, length, cfg, it) -> torch.Tensor:
    """Mean squared error of runs of ``length`` observations, each solved from its own first code.

    Autonomous fields on windows that share one relative time grid (any uniformly sampled
    video) are solved as one batch; otherwise window by window.
    """
    grids = torch.stack([tau[s:s + length] - tau[s] for s in starts.tolist()])
    targets = torch.stack([z[s:s + length] for s in starts.tolist()])
    batched = not getattr(field, "time_dependent", False) and torch.allclose(grids, grids[:1], atol=1e-6)
    groups = [(grids[0], starts.tolist())] if batched else [(tau[s:s + length], [s]) for s in starts.tolist()]
    preds = []
    for grid, group in groups:
        try:
            preds.append(solve(field, z[group], grid, cfg.solver, cfg.rtol, cfg.atol, cfg.step_size).transpose(0, 1))
        except FitError as e:
            raise FitError(f"fit(): iteration {it}, window of {length} observations from t="
                           f"{times[group[0]].item():.3f} s: {e}") from e
    pred = torch.cat(preds)
    return (pred[:, 1:] - targets[:, 1:]).pow(2).mean()


def fit(sequence: LatentSequence, config: FitConfig = FitConfig(),
        progress: Callable[[int, int, float], None] | None = None) -> Trajectory:
    """Fit dz/dt = f(z, t) to the observed codes and return the trajectory started at the first code.

    Codes are projected on the top ``subspace_dim`` principal components of the video's own
    latents (scaled to unit spread) and time is normalised to [0, 1] over the observations.
    Each iteration solves ``windows`` random runs of consecutive observations, each started at
    its observed first code (multiple shooting); the longest run grows from 2 observations to
    the whole video over the first half of training, so that the final model is trained to
    reach the last frame from the first. The parameters with the lowest whole-video loss seen at
    the checkpoints (every 25 iterations) are kept.

    Args:
        sequence: observed codes (T >= 2) and their times in seconds.
        config: fitting settings.
        progress: called as progress(iteration, iterations, loss).

    Returns:
        Trajectory; its ``stats`` hold the iterations, losses, best iteration and seconds.

    Raises:
        InputError: fewer than 2 observations. FitError: NaN loss or solver failure, with the
            iteration and the time window reached.
    """
    threads = torch.get_num_threads()
    # The field is a small MLP: thread hand-offs cost more than they save (measured ~4x on 2 cores).
    torch.set_num_threads(1)
    try:
        return _fit(sequence, config, progress)
    finally:
        torch.set_num_threads(threads)


def _fit(sequence: LatentSequence, config: FitConfig, progress) -> Trajectory:
    T = len(sequence)
    if T < 2:
        raise InputError(f"fit(): need at least 2 observed frames, got {T}")
    start = time.time()
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    x = sequence.latents.reshape(T, -1).float()
    mean = x.mean(0)
    basis = None
    coords = x - mean
    if config.subspace_dim:
        k = min(config.subspace_dim, T - 1, x.shape[1]) if T > 1 else 1
        basis = torch.linalg.svd(coords, full_matrices=False).Vh[:max(k, 1)].contiguous()
        coords = coords @ basis.T
    scale = float(coords.std().clamp(min=1e-6))
    z = coords / scale
    times = sequence.times
    t0, t_scale = float(times[0]), float(times[-1] - times[0])
    tau = ((times - t0) / t_scale).float()
    field = make_field(config.field, z.shape[1], config.hidden)
    opt = torch.optim.Adam(field.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.iters, eta_min=config.lr * 0.05)
    best = (float("inf"), copy.deepcopy(field.state_dict()), 0)
    loss_value = float("nan")
    for it in range(config.iters):
        longest = 2 + round((T - 2) * min(1.0, it / max(1, config.iters // 2)))
        length = int(torch.randint(2, longest + 1, (), generator=rng))
        starts = torch.randint(0, T - length + 1, (config.windows,), generator=rng)
        loss = _windows_loss(field, z, tau, times, starts, length, config, it)
        if not torch.isfinite(loss):
            raise FitError(f"fit(): loss became NaN at iteration {it} (windows of {length} observations "
                           f"starting at t={times[starts].tolist()} s); lower lr (now {config.lr}) or use solver='rk4'")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(field.parameters(), 10.0)
        opt.step()
        sched.step()
        loss_value = loss.item()
        if progress is not None:
            progress(it + 1, config.iters, loss_value)
        if longest == T and ((it + 1) % 25 == 0 or it + 1 == config.iters):
            full = _full_loss(field, z, tau, config)
            if full < best[0]:
                best = (full, copy.deepcopy(field.state_dict()), it + 1)
    field.load_state_dict(best[1])
    field.eval()
    stats = {"config": config.to_dict(), "iterations": config.iters, "last_window_loss": loss_value,
             "full_loss": best[0], "best_iteration": best[2], "subspace_dim": z.shape[1],
             "seconds": time.time() - start}
    return Trajectory(field, config.field, config.hidden, sequence.latents[0].clone().float(), mean, basis, scale,
                      t0, t_scale, times.clone(), config.solver, config.rtol, config.atol, config.step_size,
                      sequence.generator, stats)
