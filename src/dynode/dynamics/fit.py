"""Fitting a neural ODE to a video's latent sequence (DynODE, with learned speed)."""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Callable

import torch

from dynode.config import FitConfig, check_choice
from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import FIELDS, make_field
from dynode.dynamics.prior import MotionPrior
from dynode.dynamics.prior_fit import fit_prior
from dynode.dynamics.solve import Segments, solve, through_observations
from dynode.dynamics.trajectory import Clock, Trajectory
from dynode.errors import FitError, InputError
from dynode.metrics import stlpips
from dynode.types import FitStats, LatentSequence

# Every field fit() takes: those of dynode.dynamics.fields, "prior", a motion prior learned across many
# videos and conditioned on this one (dynode.dynamics.prior), and "auto": the prior when there is one, else mlp.
FIT_FIELDS = ("auto", *FIELDS, "prior")


def field_for(config: FitConfig, prior: MotionPrior | None) -> str:
    """The field fit() uses for ``config``: "auto" resolved by whether there is a motion prior."""
    check_choice("vector field", config.field, FIT_FIELDS)
    if config.field == "auto":
        return "mlp" if prior is None else "prior"
    return config.field


# FitConfig fields that a field ignores: the motion prior is conditioned (and refined), never trained here;
# a per-video field is trained, never refined.
_IGNORED = {"prior": ("subspace_dim", "hidden", "iters", "windows", "adjoint", "holdout", "patience", "image_weight",
                      "image_frames"),
            "ode": ("refine", "refine_ahead")}


def ignored_options(config: FitConfig, field: str) -> tuple[str, ...]:
    """The FitConfig fields set away from their defaults that ``field`` (as resolved) does not use."""
    default = FitConfig()
    return tuple(name for name in _IGNORED["prior" if field == "prior" else "ode"]
                 if getattr(config, name) != getattr(default, name))


def _full_loss(field, z, tau, cfg) -> float:
    """Mean squared error of one solve from the first code through all observations."""
    with torch.no_grad():
        pred = field.project(solve(field, field.lift(z[:1], tau[:1])[0], tau, cfg.solver))
        return (pred - z).pow(2).mean().item()


def _heldout_loss(field, z, tau, keep, held, cfg) -> float:
    """Mean squared error at the held-out observations of the exact-endpoint path through the kept ones."""
    with torch.no_grad():
        pred = through_observations(field, z[keep], tau[keep].double(), tau[held].double(), cfg.solver)
        return (pred - z[held]).pow(2).mean().item()


def _diffusion(field, z, tau, cfg) -> torch.Tensor:
    """Per-coordinate noise scale sigma with one-step residual r_i ~ N(0, sigma^2 gap_i) (Euler-Maruyama
    quasi-likelihood): the spread that the ODE's one-segment predictions leave unexplained."""
    with torch.no_grad():
        gap = tau[1:] - tau[:-1]
        pred = field.project(solve(Segments(field, tau[:-1], gap), field.lift(z[:-1], tau[:-1]), torch.tensor([0.0, 1.0]),
                                   cfg.solver)[-1])
        return ((z[1:] - pred).pow(2) / gap[:, None]).mean(0).sqrt()


def _windows_loss(field, z, tau, times, starts, length, cfg, it) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean squared error of runs of ``length`` observations, each solved from its own first code.

    Returns the loss, the predictions (windows, length - 1, k) and the observations they
    predict (windows, length - 1).

    All windows are solved as one batch, each row on its own clock (a time-dependent field sees
    its absolute time), on the union of their relative time grids; on a uniformly sampled video
    that union is a single window's grid.
    """
    index = starts[:, None] + torch.arange(length)
    grids = tau[index] - tau[starts][:, None]
    union, where = torch.unique(grids, sorted=True, return_inverse=True)
    rows = Segments(field, tau[starts], torch.ones(len(starts)))
    try:
        pred = field.project(solve(rows, field.lift(z[starts], tau[starts]), union, cfg.solver, cfg.adjoint))
    except FitError as e:
        raise FitError(f"fit(): iteration {it}, windows of {length} observations from t="
                       f"{times[starts].tolist()} s: {e}") from e
    pred = pred[where[:, 1:], torch.arange(len(starts))[:, None]]  # (windows, length - 1, k)
    return (pred - z[index[:, 1:]]).pow(2).mean(), pred, index[:, 1:]


class _ImageLoss:
    """ST-LPIPS between rendered predictions and the observed frames (``FitConfig.image_weight``)."""

    def __init__(self, generator, frames: torch.Tensor, sequence: LatentSequence, chart: Chart):
        self.stlpips, self.generator, self.frames, self.chart = stlpips, generator, frames, chart
        self.residual = chart.residual(sequence.latents)

    def __call__(self, z_pred: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """z_pred (B, k) predicted for observations ``observed`` (B,) -> mean distance to their frames."""
        device = self.frames.device
        w = self.chart.decode(z_pred) + self.residual[observed]
        images = self.generator.synthesis(w.to(device))
        return self.stlpips(images, self.frames[observed.to(device)]).mean().cpu()


def fit(sequence: LatentSequence, config: FitConfig = FitConfig(),
        progress: Callable[[int, int, float], None] | None = None, generator=None,
        frames: torch.Tensor | None = None, prior: MotionPrior | None = None) -> Trajectory:
    """Fit dz/dt = f(z, t) to the observed codes and return the trajectory started at the first code.

    With ``config.field`` "auto" the field is "prior" when a prior is given, else "mlp". With "prior"
    the field is ``prior`` conditioned on the codes, and refined on them
    with ``config.refine`` steps (see :func:`dynode.dynamics.prior.fit_prior`); what follows is how
    every other field is fitted.

    Codes are projected on the top ``subspace_dim`` principal components of the video's own
    latents (scaled to unit spread) and time is normalised to [0, 1] over the observations.
    Each iteration solves ``windows`` random runs of consecutive observations, each started at
    its observed first code (multiple shooting); the longest run grows from 2 observations to
    the whole video over the first half of training, so that the final model is trained to
    reach the last frame from the first. Every 25 iterations the model is checked and the best
    parameters are kept: by the whole-video loss of one solve from the first code, or, with
    ``config.holdout``, by the error of the exact-endpoint path at held-out observations (then
    fitting stops after ``config.patience`` checks without improvement). Finally the noise
    scale of :func:`dynode.dynamics.sample_future` is estimated from the one-step residuals.

    The fit draws its randomness from its own generators seeded with ``config.seed`` (torch's global
    state is left as it was) and runs on torch's threads as the caller set them: a per-video field is
    a small MLP, which on a CPU fits fastest with ``torch.set_num_threads(1)`` (``dynode fit`` does so).

    With ``config.image_weight`` > 0, each iteration also renders ``config.image_frames``
    predicted codes with ``generator`` and adds their ST-LPIPS distance to the observed
    ``frames``, so that the path is judged by the pictures it makes, not only by the codes.

    Args:
        sequence: observed codes (T >= 2) and their times in seconds.
        config: fitting settings.
        progress: called as progress(iteration, iterations, loss).
        generator: the generator the codes belong to (needed for the image loss only).
        frames: (T, 3, R, R) float images in [-1, 1], the observed frames (image loss only).
        prior: the motion prior of the generator the codes belong to (field "prior" only).

    Returns:
        Trajectory; its ``stats`` hold the iterations, losses, best iteration and seconds.

    Raises:
        InputError: an unknown field, fewer than 2 observations (3 with a hold-out), an image loss
            without a generator and frames of the right shape, or field "prior" without a prior. FitError: NaN loss or solver failure, with the
            iteration and the time window reached.
    """
    config = replace(config, field=field_for(config, prior))
    if config.field == "prior":
        if prior is None:
            raise InputError("fit(): field 'prior' needs a motion prior; this generator's model folder has none "
                             "(train one: dynode train-prior)")
        return fit_prior(sequence, prior, config, progress)
    return _fit(sequence, config, progress, generator, frames)


def _split(T: int, holdout: float, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices kept for training and held out (interior observations only, drawn with rng)."""
    n_held = round(holdout * (T - 2))
    if holdout and n_held < 1:
        raise InputError(f"fit(): holdout={holdout} of {T - 2} interior observations holds out none; "
                         "use a larger holdout or 0")
    held = (torch.randperm(T - 2, generator=rng)[:n_held] + 1).sort().values
    keep = torch.ones(T, dtype=torch.bool)
    keep[held] = False
    return keep.nonzero()[:, 0], held


def _fit(sequence: LatentSequence, config: FitConfig, progress, generator, frames) -> Trajectory:
    T = len(sequence)
    if T < 2 + bool(config.holdout):
        raise InputError(f"fit(): need at least {2 + bool(config.holdout)} observed frames, got {T}")
    if config.image_weight:
        res = getattr(generator, "resolution", None)
        if generator is None or frames is None or tuple(frames.shape) != (T, 3, res, res):
            raise InputError(f"fit(): image_weight needs the generator and the {T} observed frames as a "
                             f"(T, 3, R, R) tensor; got generator={type(generator).__name__}, frames of shape "
                             f"{None if frames is None else tuple(frames.shape)}")
    start = time.time()
    rng = torch.Generator().manual_seed(config.seed)
    chart = Chart.of(sequence.latents, config.subspace_dim)
    z_all = chart.encode(sequence.latents)
    times_all = sequence.times
    tau_all = Clock.over(times_all).tau(times_all).float()
    keep, held = _split(T, config.holdout, rng)
    z, tau, times = z_all[keep], tau_all[keep], times_all[keep]
    n = len(keep)
    image_loss = _ImageLoss(generator, frames.float(), sequence, chart) if config.image_weight else None
    field = make_field(config.field, z.shape[1], config.hidden, path=(tau_all, z_all),
                       generator=torch.Generator().manual_seed(config.seed))
    opt = torch.optim.Adam(field.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.iters, eta_min=config.lr * 0.05)
    best = (float("inf"), copy.deepcopy(field.state_dict()), 0)
    loss_value, stale, it = float("nan"), 0, 0
    for it in range(config.iters):
        longest = 2 + round((n - 2) * min(1.0, it / max(1, config.iters // 2)))
        length = int(torch.randint(2, longest + 1, (), generator=rng))
        starts = torch.randint(0, n - length + 1, (config.windows,), generator=rng)
        loss, pred, predicted = _windows_loss(field, z, tau, times, starts, length, config, it)
        if image_loss is not None:
            pick = torch.randperm(predicted.numel(), generator=rng)[:config.image_frames]
            loss = loss + config.image_weight * image_loss(pred.reshape(-1, pred.shape[-1])[pick],
                                                           keep[predicted.reshape(-1)[pick]])
        if not torch.isfinite(loss):
            raise FitError(f"fit(): loss became NaN at iteration {it} (windows of {length} observations "
                           f"starting at t={times[starts].tolist()} s); lower lr (now {config.lr}) or use solver rk4")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(field.parameters(), 10.0)
        opt.step()
        sched.step()
        loss_value = loss.item()
        if progress is not None:
            progress(it + 1, config.iters, loss_value)
        check = (it + 1) % 25 == 0 or it + 1 == config.iters
        if len(held) and check:
            score = _heldout_loss(field, z_all, tau_all, keep, held, config)
        elif longest == n and check:
            score = _full_loss(field, z, tau, config)
        else:
            continue
        if score < best[0]:
            best, stale = (score, copy.deepcopy(field.state_dict()), it + 1), 0
        else:
            stale += 1
            if len(held) and stale >= config.patience:
                break
    field.load_state_dict(best[1])
    field.eval()
    stats = FitStats(config, it + 1, float(loss_value), float(best[0]), int(best[2]),
                     "heldout" if len(held) else "full", int(z.shape[1]), time.time() - start)
    return Trajectory.fitted(sequence, field, config.field, config.hidden, chart,
                             _diffusion(field, z_all, tau_all, config), config.solver, stats)
