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

Training (:func:`dynode.dynamics.prior_training.train_prior`, ``dynode train-prior``) maximises the predictive likelihood of codes
held out in between and after random sparse, irregular subsets of each training video (kept rates
drawn from ``min_fps`` to ``max_fps``), so the amplitudes, time scales, frequencies and noise are
those that predict motion best across the videos. Per video,
:func:`dynode.dynamics.prior_fit.fit_prior` conditions it, and
with ``refine`` refines the same parameters on the video's own likelihood.

In a trajectory the prior is a vector field (:class:`dynode.dynamics.prior_field.PriorField`): dz/dtau is the time derivative
of the posterior mean, so a solve from any code follows the video's expected motion. The exact path
through the observations, extrapolation from the last code, and edits (an edited start keeps its
offset and moves as the video does) all come from the solvers as with every field.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from dynode.config import check_choice
from dynode.config.training import SMOOTHNESS
from dynode.dynamics.chart import Chart
from dynode.errors import CheckpointError
from dynode.io.checkpoints import load_model_files

PRIOR_FOLDER = "prior"
# Seeds of the toy-face videos a prior trains on: apart from the encoder's (1e6 up) and from every
# benchmark and test seed (< 10000).
PRIOR_SEEDS = 2_000_000
_JITTER = 1e-5
# The backtest that scales a video's futures: forecasts from up to WINDOW codes before each of up to
# CUTS cut points in the video's second half, scored on the next HORIZON codes.
_BACKTEST_WINDOW, _BACKTEST_CUTS, _BACKTEST_HORIZON = 64, 16, 8


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
        return Chart(self.mean.clone(), self.basis.clone(), 1.0, self.latent_shape, shared=True)

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

    def sample(self, times: torch.Tensor, u: torch.Tensor, query: torch.Tensor, samples: int, seed: int,
               scale: float = 1.0) -> torch.Tensor:
        """Posterior samples (samples, Q, K) of the noiseless process at query times, jointly in time, their
        spread about the posterior mean multiplied by ``scale``."""
        mean, v = self._conditioned(times, u, query)  # (K, Q), (K, n, Q)
        cov = self.kernel(query[:, None] - query[None]) - v.transpose(-1, -2) @ v
        cov = 0.5 * (cov + cov.transpose(-1, -2)) + 1e-6 * torch.eye(len(query))
        evals, evecs = torch.linalg.eigh(cov.double())
        root = scale * (evecs * evals.clamp(min=0).sqrt()[:, None]).float()  # (K, Q, Q)
        eps = torch.randn(samples, *mean.shape, generator=torch.Generator().manual_seed(seed))
        return (mean + (root @ eps[..., None])[..., 0]).transpose(-1, -2)

    def forecast_error(self, times: torch.Tensor, u: torch.Tensor, first: int | None = None) -> float:
        """How far a video's own codes fall from this prior's forecasts of them, in its predictive standard
        deviations (root mean square; 1 when its bands are right): from the codes before each cut point from
        ``first`` on (default: the video's second half), the next codes are forecast and scored (a backtest).
        1 for fewer than 3 codes."""
        n = len(times)
        first = max(2, n // 2 if first is None else first)
        if n < 3 or first >= n:
            return 1.0
        cuts = torch.linspace(first, n - 1, min(_BACKTEST_CUTS, n - first)).round().long().unique().tolist()
        errors = []
        with torch.no_grad():
            for c in cuts:
                before, ahead = slice(max(0, c - _BACKTEST_WINDOW), c), slice(c, min(n, c + _BACKTEST_HORIZON))
                mean, var = self.predict(times[before], u[before], times[ahead])
                errors.append((u[ahead] - mean).pow(2) / (var + (2 * self.log_noise).exp()))
        return float(torch.cat(errors).mean().sqrt())

    def config(self) -> dict:
        return {"components": len(self.basis), "resonators": self.resonators, "smoothness": self.smoothness,
                "latent_shape": list(self.latent_shape)}


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
