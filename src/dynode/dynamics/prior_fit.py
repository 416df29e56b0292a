"""A video's trajectory driven by the motion prior: conditioned on its codes, refined where that
forecasts better (see :mod:`dynode.dynamics.prior`)."""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from dynode.config import FitConfig
from dynode.dynamics.prior import MotionPrior
from dynode.dynamics.prior_field import PriorField
from dynode.dynamics.trajectory import Clock, Trajectory
from dynode.errors import InputError
from dynode.types import FitStats

# The fewest codes whose last quarter is backtested to choose a refinement for past the end.
_MIN_BACKTEST = 8


def fit_prior(sequence, prior: MotionPrior, config: FitConfig,
              progress: Callable[[int, int, float], None] | None = None):
    """A trajectory of ``sequence`` driven by ``prior``: conditioned on its codes, and with
    ``config.refine`` > 0 refined by that many Adam steps (``config.lr``) of the video's own likelihood,
    starting from the prior's parameters (the prior itself is not changed). Otherwise, with
    ``config.refine_ahead`` > 0 and at least 8 codes, a backtest chooses what moves the path past the
    last code: a copy refined on the first three quarters of the codes and the prior conditioned alone
    each forecast the last quarter, and where the refined one is closer, a copy refined on every code
    drives the path past the end and its futures (their spread from that backtest's refined copy).

    Raises:
        InputError: fewer than 2 observations, or codes of another shape than the prior's.
    """
    start = time.time()
    if len(sequence) < 2:
        raise InputError(f"fit(): need at least 2 observed frames, got {len(sequence)}")
    if tuple(sequence.latents.shape[1:]) != prior.latent_shape:
        raise InputError(f"fit(): the prior moves codes of shape {prior.latent_shape}, these are "
                         f"{tuple(sequence.latents.shape[1:])}")
    chart = prior.chart()
    times = sequence.times
    clock = Clock.over(times)
    z = chart.encode(sequence.latents)
    seconds, u = (times - clock.t0).float(), z / prior.spread
    local, loss = _refined(prior, seconds, u, config.refine, config.lr, progress)
    ahead, cut = None, (3 * len(u)) // 4
    if not config.refine and config.refine_ahead and len(u) >= _MIN_BACKTEST:
        head = _refined(prior, seconds[:cut], u[:cut], config.refine_ahead, config.lr)[0]
        if _forecast_mse(head, seconds, u, cut) < _forecast_mse(local, seconds, u, cut):
            ahead = _refined(prior, seconds, u, config.refine_ahead, config.lr)[0]
    scale = local.forecast_error(seconds, u) if ahead is None else head.forecast_error(seconds, u, first=cut)
    field = PriorField(local, clock.tau(times).float(), z, clock.t_scale, scale, ahead).eval()
    stats = FitStats(config, config.refine, loss, loss, config.refine, "likelihood", len(prior.basis), time.time() - start)
    return Trajectory.fitted(sequence, field, "prior", config.hidden, chart, torch.zeros(chart.dim), config.solver, stats)


def _refined(prior: MotionPrior, seconds: torch.Tensor, u: torch.Tensor, steps: int, lr: float,
             progress: Callable[[int, int, float], None] | None = None) -> tuple[MotionPrior, float]:
    """A copy of ``prior`` refined by ``steps`` Adam steps of the likelihood of codes u (n, K) at times
    (n,) seconds (0: a plain copy), and that likelihood's last value (per value)."""
    local = copy.deepcopy(prior).requires_grad_(True)
    with torch.no_grad():
        loss = float(local.marginal_nll(seconds, u))
    opt = torch.optim.Adam(local.parameters(), lr=lr)
    for it in range(steps):
        nll = local.marginal_nll(seconds, u)
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        loss = nll.item()
        if progress is not None:
            progress(it + 1, steps, loss)
    return local.requires_grad_(False), loss


def _forecast_mse(prior: MotionPrior, seconds: torch.Tensor, u: torch.Tensor, cut: int) -> float:
    """Mean squared error (in the components' own units) of the codes from ``cut`` on, forecast from those
    before it as a trajectory continues past its last code: that code moved as the posterior mean moves."""
    with torch.no_grad():
        mean = prior.predict(seconds[:cut], u[:cut], torch.cat([seconds[cut - 1:cut], seconds[cut:]]))[0]
        forecast = u[cut - 1] + mean[1:] - mean[:1]
        return float(((forecast - u[cut:]) * prior.spread).pow(2).mean())
