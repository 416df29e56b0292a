"""A motion prior learned across many videos: a linear SDE in a basis shared by them, conditioned
exactly on each video's codes.

The prior moves in the top principal components of its training videos' motion (each video's
codes about their own mean), each scaled to unit spread. Each component is an independent stationary Gaussian process, the sum of a constant level
(the video's identity, unknown until conditioned), ``resonators`` stochastic resonators and
observation noise (what inversion adds frame to frame). A resonator is the output of a linear
time-invariant SDE driven by white noise, with covariance a Matern envelope times a cosine,

    k(tau) = a^2 g(|tau| / l) cos(2 pi f tau),   g(r) = (1 + s + s^2 / 3) exp(-s), s = sqrt(5) r

(Matern-5/2; ``smoothness`` "3/2" and "1/2", the damped oscillator, are rougher; "inf", the limit,
a squared-exponential envelope, is analytic and the state-space form of its SDE an approximation of
growing order): a stationary
Gaussian process is a linear SDE seen from its covariance (the state-space view; a Matern-5/2
resonator is a six-state linear SDE). Conditioning on a video is exact Gaussian-process
regression, what a Kalman smoother of that SDE computes: the posterior mean is the video's path
and posterior samples are its futures given all it showed.

Training (:func:`train_prior`, ``dynode train-prior``) maximises the predictive likelihood of codes
held out in between and after random sparse, irregular subsets of each training video (kept rates
drawn from ``min_fps`` to ``max_fps``), so the amplitudes, time scales, frequencies and noise are
those that predict motion best across the videos. Per video, :func:`fit_prior` conditions it, and
with ``refine`` refines the same parameters on the video's own likelihood.

In a trajectory the prior is a vector field (:class:`PriorField`): dz/dtau is the time derivative
of the posterior mean, so a solve from any code follows the video's expected motion. The exact path
through the observations, extrapolation from the last code, and edits (an edited start keeps its
offset and moves as the video does) all come from the solvers as with every field.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dynode.config import SMOOTHNESS, FitConfig, PriorConfig, check_choice
from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import Field
from dynode.errors import CheckpointError, InputError
from dynode.io.checkpoints import atomic_path, load_model_files, save_model
from dynode.types import FitStats

PRIOR_FOLDER = "prior"
# Seeds of the toy-face videos a prior trains on: apart from the encoder's (1e6 up) and from every
# benchmark and test seed (< 10000).
PRIOR_SEEDS = 2_000_000
_JITTER = 1e-5


def _envelope(r: torch.Tensor, smoothness: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The Matern correlation g(r) and its slope dg/dr at r >= 0."""
    if smoothness == "1/2":
        e = torch.exp(-r)
        return e, -e
    if smoothness == "inf":
        e = torch.exp(-0.5 * r * r)
        return e, -r * e
    if smoothness == "3/2":
        s = math.sqrt(3) * r
        e = torch.exp(-s)
        return (1 + s) * e, -math.sqrt(3) * s * e
    s = math.sqrt(5) * r
    e = torch.exp(-s)
    return (1 + s + s * s / 3) * e, -(math.sqrt(5) / 3) * s * (1 + s) * e


class MotionPrior(nn.Module):
    """Independent stationary processes on the principal components of many videos' codes.

    Attributes (buffers): mean (D,) of the flattened training codes; basis (K, D) orthonormal rows;
    spread (K,) the components' spread. Parameters per component: log_amp, log_length (seconds),
    freq (Hz), each (K, resonators); log_level and log_noise (K,), in units of the spread.
    """

    def __init__(self, mean: torch.Tensor, basis: torch.Tensor, spread: torch.Tensor, latent_shape: tuple[int, int],
                 resonators: int = 4, smoothness: str = "5/2"):
        super().__init__()
        self.smoothness = check_choice("prior smoothness", smoothness, SMOOTHNESS)
        self.latent_shape = tuple(latent_shape)
        k = len(basis)
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("basis", basis.float().clone())
        self.register_buffer("spread", spread.float().clone())
        self.log_amp = nn.Parameter(torch.full((k, resonators), math.log(0.3)))
        self.log_length = nn.Parameter(torch.full((k, resonators), math.log(3.0)))
        self.freq = nn.Parameter(torch.linspace(0.05, 0.8, resonators).expand(k, -1).clone())
        self.log_level = nn.Parameter(torch.zeros(k))
        self.log_noise = nn.Parameter(torch.full((k,), math.log(0.05)))

    @property
    def resonators(self) -> int:
        return self.log_amp.shape[1]

    def chart(self) -> Chart:
        """The coordinates a trajectory driven by this prior lives in (the prior's components, unscaled)."""
        return Chart(self.mean.clone(), self.basis.clone(), 1.0, self.latent_shape)

    def kernel(self, dt: torch.Tensor, slope: bool = False) -> torch.Tensor:
        """Covariance of each component at time differences dt (..., A, B) seconds -> (..., K, A, B);
        with ``slope``, its derivative in the first time (the level adds none)."""
        d = dt[..., None, :, :, None]
        length = self.log_length.exp()[:, None, None, :]
        w = 2 * math.pi * self.freq[:, None, None, :]
        amp2 = (2 * self.log_amp).exp()[:, None, None, :]
        g, dg = _envelope(d.abs() / length, self.smoothness)
        if slope:
            return (amp2 * (dg * torch.sign(d) / length * torch.cos(w * d) - w * g * torch.sin(w * d))).sum(-1)
        return (amp2 * g * torch.cos(w * d)).sum(-1) + (2 * self.log_level).exp()[:, None, None]

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], config: dict) -> "MotionPrior":
        """A prior from its state dict and its :meth:`config`."""
        prior = cls(tensors["mean"], tensors["basis"], tensors["spread"], config["latent_shape"], config["resonators"],
                    config["smoothness"])
        prior.load_state_dict(tensors)
        return prior

    def _factor(self, times: torch.Tensor, u: torch.Tensor):
        """Cholesky factor (..., K, n, n) of the observations' covariance and alpha = K^-1 u (..., K, n) for
        observations u (..., n, K) at times (..., n) seconds."""
        cov = self.kernel(times[..., :, None] - times[..., None, :])
        diag = (2 * self.log_noise).exp()[:, None]
        cov = cov + torch.diag_embed((diag + _JITTER).expand(*cov.shape[:-1]))
        chol = torch.linalg.cholesky(cov)
        alpha = torch.cholesky_solve(u.transpose(-1, -2)[..., None], chol)[..., 0]
        return chol, alpha

    def _conditioned(self, times: torch.Tensor, u: torch.Tensor, query: torch.Tensor):
        """The posterior mean (..., K, Q) at query times (..., Q) given observations u (..., n, K) at times
        (..., n), and V = L^-1 k(times, query) (..., K, n, Q), whose V^T V the prior covariance loses."""
        chol, alpha = self._factor(times, u)
        cross = self.kernel(query[..., :, None] - times[..., None, :])  # (..., K, Q, n)
        mean = (cross @ alpha[..., None])[..., 0]
        return mean, torch.linalg.solve_triangular(chol, cross.transpose(-1, -2), upper=False)

    def predict(self, times: torch.Tensor, u: torch.Tensor, query: torch.Tensor):
        """Posterior mean and variance (..., Q, K) at query times (..., Q) given observations u (..., n, K)
        at times (..., n); the variance is of the noiseless process."""
        mean, v = self._conditioned(times, u, query)
        prior_var = self.kernel(torch.zeros(*query.shape[:-1], 1, 1))[..., 0]  # (..., K, 1)
        var = (prior_var - v.pow(2).sum(-2)).clamp(min=1e-8)
        return mean.transpose(-1, -2), var.transpose(-1, -2)

    def predictive_nll(self, times, u, query, target) -> torch.Tensor:
        """Mean Gaussian negative log-likelihood of ``target`` (..., Q, K) at ``query`` given u at times."""
        mean, var = self.predict(times, u, query)
        var = var + (2 * self.log_noise).exp()
        return 0.5 * ((target - mean).pow(2) / var + var.log() + math.log(2 * math.pi)).mean()

    def marginal_nll(self, times: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of a whole video's observations u (n, K) at times (n,), per value."""
        chol, alpha = self._factor(times, u)
        logdet = 2 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum()
        return 0.5 * ((u.T * alpha).sum() + logdet) / u.numel() + 0.5 * math.log(2 * math.pi)

    def sample(self, times: torch.Tensor, u: torch.Tensor, query: torch.Tensor, samples: int, seed: int) -> torch.Tensor:
        """Posterior samples (samples, Q, K) of the noiseless process at query times, jointly in time."""
        mean, v = self._conditioned(times, u, query)  # (K, Q), (K, n, Q)
        cov = self.kernel(query[:, None] - query[None]) - v.transpose(-1, -2) @ v
        cov = 0.5 * (cov + cov.transpose(-1, -2)) + 1e-6 * torch.eye(len(query))
        evals, evecs = torch.linalg.eigh(cov.double())
        root = (evecs * evals.clamp(min=0).sqrt()[:, None]).float()  # (K, Q, Q)
        eps = torch.randn(samples, *mean.shape, generator=torch.Generator().manual_seed(seed))
        return (mean + (root @ eps[..., None])[..., 0]).transpose(-1, -2)

    def config(self) -> dict:
        return {"components": len(self.basis), "resonators": self.resonators, "smoothness": self.smoothness,
                "latent_shape": list(self.latent_shape)}


class PriorField(Field):
    """dz/dtau = the time derivative of the prior's posterior mean given one video's observations.

    Coordinates are the prior's chart (:meth:`MotionPrior.chart`); tau is the trajectory's
    normalised time, ``t_scale`` seconds a unit. A solve from an observed code follows the expected
    motion from there; from an edited code, the same motion with the edit's offset.
    """

    state_free = True

    def __init__(self, prior: MotionPrior, tau_obs: torch.Tensor, z_obs: torch.Tensor, t_scale: float):
        super().__init__(len(prior.basis))
        self.prior = prior
        self.register_buffer("tau_obs", tau_obs.float().clone())
        self.register_buffer("z_obs", z_obs.float().clone())
        self.register_buffer("t_scale", torch.tensor(float(t_scale)))
        self._alpha = None

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], config: dict) -> "PriorField":
        """Rebuild a saved field from its state dict and its prior's config."""
        prior = MotionPrior.from_tensors({k[len("prior."):]: v for k, v in state.items() if k.startswith("prior.")},
                                         config)
        return cls(prior, state["tau_obs"], state["z_obs"], float(state["t_scale"]))

    def _observations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The observations in the prior's terms: times (n,) seconds and unit-spread coordinates (n, K)."""
        return self.tau_obs * self.t_scale, self.z_obs / self.prior.spread

    def _weights(self) -> torch.Tensor:
        if self._alpha is None:
            with torch.no_grad():
                self._alpha = self.prior._factor(*self._observations())[1]
        return self._alpha

    def _mean(self, t: torch.Tensor, slope: bool = False) -> torch.Tensor:
        """The posterior mean (N, K) in unit-spread coordinates at times t (N,) seconds, or its time derivative."""
        times = self._observations()[0]
        return (self.prior.kernel(t[:, None] - times[None], slope) @ self._weights()[..., None])[..., 0].T

    def forward(self, tau, z):
        t = torch.as_tensor(tau, dtype=torch.float32).reshape(-1) * self.t_scale
        out = self._mean(t, slope=True) * self.prior.spread * self.t_scale  # (B, K) coordinates per unit tau
        return out.expand_as(z) if out.shape[0] == 1 else out

    def sample_future(self, tau: torch.Tensor, samples: int, seed: int) -> torch.Tensor:
        """Futures (samples, N, K) at times tau (N,), each continuing from the last observed code: the
        posterior's samples shifted by the last code's noise (so their mean is the extrapolated path)."""
        times, u = self._observations()
        with torch.no_grad():
            draws = self.prior.sample(times, u, tau.float() * self.t_scale, samples, seed)
            last = self._mean(times[-1:])[0]
        return (draws + (u[-1] - last)) * self.prior.spread


def fit_prior(sequence, prior: MotionPrior, config: FitConfig,
              progress: Callable[[int, int, float], None] | None = None):
    """A trajectory of ``sequence`` driven by ``prior``: conditioned on its codes, and with
    ``config.refine`` > 0 refined by that many Adam steps (``config.lr``) of the video's own likelihood,
    starting from the prior's parameters (the prior itself is not changed).

    Raises:
        InputError: fewer than 2 observations, or codes of another shape than the prior's.
    """
    from dynode.dynamics.trajectory import Trajectory
    start = time.time()
    if len(sequence) < 2:
        raise InputError(f"fit(): need at least 2 observed frames, got {len(sequence)}")
    if tuple(sequence.latents.shape[1:]) != prior.latent_shape:
        raise InputError(f"fit(): the prior moves codes of shape {prior.latent_shape}, these are "
                         f"{tuple(sequence.latents.shape[1:])}")
    local = copy.deepcopy(prior).requires_grad_(True)
    chart = local.chart()
    times = sequence.times
    t0, t_scale = float(times[0]), float(times[-1] - times[0])
    z = chart.encode(sequence.latents)
    seconds, u = (times - t0).float(), z / local.spread
    with torch.no_grad():
        loss = float(local.marginal_nll(seconds, u))
    if config.refine:
        opt = torch.optim.Adam(local.parameters(), lr=config.lr)
        for it in range(config.refine):
            nll = local.marginal_nll(seconds, u)
            opt.zero_grad(set_to_none=True)
            nll.backward()
            opt.step()
            loss = nll.item()
            if progress is not None:
                progress(it + 1, config.refine, loss)
    local.requires_grad_(False)
    field = PriorField(local, ((times - t0) / t_scale).float(), z, t_scale).eval()
    stats = FitStats(config, config.refine, loss, loss, config.refine, "likelihood", len(prior.basis), time.time() - start)
    return Trajectory(field, "prior", config.hidden, sequence.latents.clone().float(), times.clone(), chart, t0, t_scale,
                      torch.zeros(chart.dim), config.solver, sequence.generator, sequence.source, stats)


def _subsets(lengths: torch.Tensor, fps: float, data_fps: float, config: PriorConfig, rng: torch.Generator):
    """Frame indices of one step's sparse subsets: observed (B, n) and queried (B, Q), one row per video."""
    gap = data_fps / fps  # frames between kept ones
    n = int(min(config.max_observed, (lengths.min() - 1 - config.horizon * gap) // gap + 1))
    span = (n - 1 + config.horizon) * gap
    starts = (torch.rand(len(lengths), generator=rng) * (lengths - 1 - span)).floor()
    offsets = torch.arange(n) * gap + (torch.rand(len(lengths), n, generator=rng) * 2 - 1) * config.jitter * gap
    offsets[:, 0] = 0
    observed = (starts[:, None] + offsets).round().long()
    query = (starts[:, None] + torch.rand(len(lengths), config.queries, generator=rng) * span).round().long()
    return observed, query


def train_prior(sequences: list[tuple[torch.Tensor, torch.Tensor]], config: PriorConfig = PriorConfig(),
                out: str | Path | None = None, export: str | Path | None = None,
                progress: Callable[[int, int, float], None] | None = None, generator_id: str = "",
                info: dict | None = None) -> tuple[MotionPrior, dict]:
    """Train a motion prior on many videos' codes, each (times (T,) seconds on a uniform grid, codes
    (T, num_ws, w_dim)).

    The principal components are those of each video's codes about their own mean (motion); each step draws a kept rate, and per video a
    window of at most ``max_observed`` codes kept at that rate (jittered), and ``queries`` codes in
    between and up to ``horizon`` kept intervals after, whose predictive likelihood is maximised.
    The last sixteenth of the videos is held out: every 25 steps the loss on fixed subsets of them at 0.5, 1,
    2 and 4 fps is logged as ``validation`` (with ``out``, in ``log.jsonl``, beside the mean training
    loss since the last record); the run is resumable (``state.pt``);
    with ``export`` the prior is written there as a model folder recording ``generator_id``.

    Raises:
        InputError: fewer than 2 videos, codes of different shapes or rates, or videos too short for
            the slowest kept rate.
    """
    if len(sequences) < 3:
        raise InputError(f"train_prior(): need codes of at least 3 videos (one held out), got {len(sequences)}")
    shapes = {tuple(c.shape[1:]) for _, c in sequences}
    rates = {round(float(1 / (t[1] - t[0])), 3) for t, _ in sequences}
    if len(shapes) != 1 or len(rates) != 1:
        raise InputError(f"train_prior(): the videos' codes must share one shape and one frame rate; got shapes "
                         f"{sorted(shapes)} and rates {sorted(rates)} fps")
    data_fps = rates.pop()
    lengths = torch.tensor([len(c) for _, c in sequences])
    need = (2 + config.horizon) * data_fps / config.min_fps + 1
    if lengths.min() < need:
        raise InputError(f"train_prior(): at {config.min_fps} fps kept, a video needs at least {need:.0f} frames "
                         f"({need / data_fps:.1f} s at {data_fps:g} fps); the shortest has {int(lengths.min())}")
    flat = [c.reshape(len(c), -1).float() for _, c in sequences]
    mean = torch.cat(flat).mean(0)
    k = min(config.components, mean.numel())
    # The components of motion: of each video's codes about their own mean (across videos, identity would
    # fill the top components; it stays in the level and in the part outside the components).
    moving = torch.cat([f - f.mean(0) for f in flat])
    moving = moving[torch.randperm(len(moving), generator=torch.Generator().manual_seed(0))[:20000]]
    basis = torch.linalg.svd(moving, full_matrices=False).Vh[:k].contiguous()
    spread = (moving @ basis.T).std(0).clamp(min=1e-6)
    coords = [(f - mean) @ basis.T for f in flat]
    padded = torch.zeros(len(sequences), int(lengths.max()), k)
    for i, c in enumerate(coords):
        padded[i, :len(c)] = c / spread
    prior = MotionPrior(mean, basis, spread, next(iter(shapes)), config.resonators, config.smoothness)
    opt = torch.optim.Adam(prior.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps, eta_min=config.lr * 0.05)
    rng = torch.Generator().manual_seed(config.seed)
    held = max(1, len(sequences) // 16)  # the last videos: a fixed validation set of subsets at four rates
    train, check = torch.arange(len(sequences) - held), torch.arange(len(sequences) - held, len(sequences))
    fixed = torch.Generator().manual_seed(config.seed + 1)
    checks = [(fps, *_subsets(lengths[check], fps, data_fps, config, fixed)) for fps in (0.5, 1.0, 2.0, 4.0)
              if fps >= config.min_fps and fps <= config.max_fps]

    def loss_at(videos, fps, observed, query):
        rows = torch.arange(len(videos))[:, None]
        return prior.predictive_nll(observed.float() / data_fps, padded[videos][rows, observed],
                                    query.float() / data_fps, padded[videos][rows, query])

    def validation() -> float:
        with torch.no_grad():
            return sum(float(loss_at(check, *c)) for c in checks) / len(checks)

    step, seconds, recent = 0, 0.0, []
    state = Path(out) / "state.pt" if out is not None else None
    if state is not None and state.is_file():
        saved = torch.load(state, weights_only=True)
        if saved["config"] != json.dumps(config.to_dict()):
            raise InputError(f"{state}: a run with other settings; use another --out or the same settings")
        prior.load_state_dict(saved["prior"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        rng.set_state(saved["rng"])
        step, seconds = saved["step"], saved["seconds"]
    log = Path(out) / "log.jsonl" if out is not None else None
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    started, loss = time.time() - seconds, float("nan")
    while step < config.steps:
        fps = math.exp(math.log(config.min_fps) + torch.rand((), generator=rng).item()
                       * math.log(config.max_fps / config.min_fps))
        pick = train[torch.randint(len(train), (config.batch,), generator=rng)]
        nll = loss_at(pick, fps, *_subsets(lengths[pick], fps, data_fps, config, rng))
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        sched.step()
        step, loss = step + 1, nll.item()
        recent.append(loss)
        if progress is not None:
            progress(step, config.steps, loss)
        if out is not None and (step % 25 == 0 or step == config.steps):
            with log.open("a") as f:
                f.write(json.dumps({"step": step, "loss": round(sum(recent) / len(recent), 5),
                                    "validation": round(validation(), 5),
                                    "seconds": round(time.time() - started, 1)}) + "\n")
            recent = []
            with atomic_path(state) as tmp:
                torch.save({"prior": prior.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "rng": rng.get_state(), "step": step, "seconds": time.time() - started,
                            "config": json.dumps(config.to_dict())}, tmp)
    prior.eval().requires_grad_(False)
    stats = {"steps": step, "loss": loss, "validation": validation(), "seconds": round(time.time() - started, 1),
             "videos": len(sequences),
             "frames": int(lengths.sum()), "data_fps": data_fps, "config": config.to_dict(), **(info or {})}
    if export is not None:
        save_model(export, prior, "motion_prior", {**prior.config(), "generator_id": generator_id}, stats)
    return prior, stats


def load_prior(folder: str | Path, generator_id: str) -> MotionPrior:
    """The motion prior in ``folder``, checked to be made for the generator of id ``generator_id``.

    Raises:
        CheckpointError: unreadable, not a motion prior, or made for another generator (both ids named).
    """
    meta, tensors = load_model_files(folder)
    config = meta.get("config", {})
    if meta.get("architecture") != "motion_prior":
        raise CheckpointError(f"{folder}: not a motion prior (architecture {meta.get('architecture')!r})")
    if config.get("generator_id") != generator_id:
        raise CheckpointError(f"{folder}: a motion prior for generator {config.get('generator_id')}, but these codes "
                              f"belong to generator {generator_id or '(built in memory)'}")
    try:
        prior = MotionPrior.from_tensors(tensors, config)
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: prior weights do not fit its config ({e})") from e
    return prior.eval().requires_grad_(False)
