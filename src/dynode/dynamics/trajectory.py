"""A fitted latent trajectory: evaluate w(t) at any times, from the observed or an edited start.

Its parts live beside it: the coordinate chart (:mod:`dynode.dynamics.chart`), the solvers
(:mod:`dynode.dynamics.solve`), stochastic futures (:mod:`dynode.dynamics.sde`) and the
artifact on disk (:mod:`dynode.dynamics.storage`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dynode.config import PATHS, SolverConfig
from dynode.dynamics.chart import Chart
from dynode.dynamics.solve import smoothstep, solve_at, through_observations
from dynode.errors import InputError
from dynode.types import FitStats, GeneratorRecord, LatentSequence, Source, bracket



@dataclass(frozen=True)
class Clock:
    """A trajectory's normalised time: tau = (t - t0) / t_scale, 0 at its first observation and 1 at its
    last (the one place where seconds become tau)."""

    t0: float
    t_scale: float

    @classmethod
    def over(cls, times: torch.Tensor) -> "Clock":
        """The clock of observations at ``times`` (T,) seconds, in order."""
        return cls(float(times[0]), float(times[-1] - times[0]))

    def tau(self, times) -> torch.Tensor:
        """Seconds (N,) -> normalised time, float64.

        Raises:
            InputError: non-finite times.
        """
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1).contiguous()
        if not torch.isfinite(t).all():
            raise InputError(f"Trajectory: times must be finite, got {t.tolist()[:8]}")
        return (t - self.t0) / self.t_scale


@dataclass
class Trajectory:
    """Continuous latent path w(t) = decode(z(t)) + residual, z solving the fitted ODE.

    z lives in the chart's normalised coordinates; time is normalised by its :class:`Clock`. Fitting makes
    one with :meth:`fitted`.
    The part of a code outside the chart's subspace (its residual) is not moved by the field: see
    :meth:`residual_at`.

    Two paths (``path`` of :meth:`evaluate`):
    - ``exact`` (default without an edited start): passes through every observed code (see
      :func:`dynode.dynamics.solve.through_observations`); past the last observation it is
      solved from the last observed code, before the first from the first.
    - ``initial`` (the paper; always used from an edited start): one solve from the start code
      at t0 through all times, so an edit made at t0 is carried by the dynamics to every frame.

    Attributes:
        field: the fitted vector field. field_name, hidden: how to rebuild it.
        observed: (T, num_ws, w_dim) observed codes at observed_times (T,) seconds.
        chart: the coordinates the field lives in. clock: its normalised time.
        diffusion: (k,) noise scale of the SDE of :func:`dynode.dynamics.sample_future`, per unit
            of sqrt(normalised time), estimated from the one-step prediction residuals.
        solver: how the ODE is solved.
        generator: the generator the codes belong to (with the video's tuning delta, if tuned).
        source: the video the codes were inverted from (None: unknown). stats: fitting statistics.
    """

    field: nn.Module
    field_name: str
    hidden: int
    observed: torch.Tensor
    observed_times: torch.Tensor
    chart: Chart
    clock: Clock
    diffusion: torch.Tensor
    solver: SolverConfig = SolverConfig()
    generator: GeneratorRecord = GeneratorRecord()
    source: Source | None = None
    stats: FitStats | None = None

    @property
    def w0(self) -> torch.Tensor:
        """(num_ws, w_dim) the observed first code, the default start."""
        return self.observed[0]

    @property
    def latent_shape(self) -> tuple[int, int]:
        return tuple(self.observed.shape[1:])

    def encode(self, w: torch.Tensor) -> torch.Tensor:
        """(N, num_ws, w_dim) -> (N, k) normalised coordinates."""
        return self.chart.encode(w)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, k) -> (N, num_ws, w_dim)."""
        return self.chart.decode(z)

    @classmethod
    def fitted(cls, sequence: LatentSequence, field: nn.Module, field_name: str, hidden: int, chart: Chart,
               diffusion: torch.Tensor, solver: SolverConfig, stats: FitStats) -> "Trajectory":
        """The trajectory of a field fitted to ``sequence`` (its codes, times, generator and source), its
        clock over the sequence's times."""
        return cls(field, field_name, hidden, sequence.latents.clone().float(), sequence.times.clone(), chart,
                   Clock.over(sequence.times), diffusion, solver, sequence.generator, sequence.source, stats)

    def tau(self, times) -> torch.Tensor:
        """Seconds (N,) -> normalised time, float64 (see :class:`Clock`)."""
        return self.clock.tau(times)

    @torch.no_grad()
    def evaluate(self, times, start: torch.Tensor | None = None, path: str | None = None) -> torch.Tensor:
        """Latent codes at any times (seconds; before t0, between or past the observations).

        Args:
            times: (N,) seconds, any order, finite.
            start: (num_ws, w_dim) code at t0 to start from (default: the observed first code);
                an edited start makes every frame inherit the edit through the dynamics.
            path: "exact" or "initial" (see the class); default "exact" without a start,
                "initial" with one.

        Returns:
            float32 (N, num_ws, w_dim).

        Raises:
            InputError: non-finite times, a start of the wrong shape, an unknown path, or
                path "exact" with a start. FitError: solver failure.
        """
        path = path or ("initial" if start is not None else "exact")
        if path not in PATHS:
            raise InputError(f"Trajectory.evaluate(): unknown path {path!r}; valid paths are {list(PATHS)}")
        if start is not None and path == "exact":
            raise InputError("Trajectory.evaluate(): path 'exact' passes through the observed codes and cannot "
                             "start from another code; use path='initial' with a start")
        start = self.w0 if start is None else start
        if tuple(start.shape) != self.latent_shape:
            raise InputError(f"Trajectory.evaluate(): start must have shape {self.latent_shape}, got {tuple(start.shape)}")
        if path == "initial":
            return self.evaluate_from(times, start[None])[0]
        tau = self.tau(times)
        z_obs = self.encode(self.observed)
        tau_obs = self.tau(self.observed_times)
        z = torch.empty(len(tau), self.chart.dim)
        before, after = tau < 0, tau > tau_obs[-1]
        inside = ~(before | after)
        if before.any():
            z[before] = solve_at(self.field, z_obs[:1], 0.0, tau[before], self.solver)[:, 0]
        if after.any():
            z[after] = solve_at(self.field, z_obs[-1:], float(tau_obs[-1]), tau[after], self.solver)[:, 0]
        if inside.any():
            z[inside] = through_observations(self.field, z_obs, tau_obs, tau[inside], self.solver)
        return self.decode(z) + self.residual_at(times)

    def residual_at(self, times) -> torch.Tensor:
        """The part of the path outside the chart's subspace at times (N,) seconds -> (N, num_ws, w_dim).

        Between the codes it is blended from one to the next with the path's smooth weight (much of it is
        jitter, which a spline would overshoot), and past either end it is the end code's. In a chart
        shared across videos (a motion prior's), where it holds most of the codes' motion (what the
        optimiser moved them off the prior's training codes, much of it jitter), it relaxes past either
        end from the end code's to the mean of all of them over one mean interval between codes, so that
        one code's jitter does not carry on (the path stays continuous at the end code).

        Raises:
            InputError: non-finite times.
        """
        tau, tau_obs = self.tau(times), self.tau(self.observed_times)
        residuals = self.chart.residual(self.observed)
        lo, hi, frac = bracket(tau_obs, tau)  # held at the end codes' outside their span
        b = smoothstep(frac).float().view(-1, 1, 1)
        between = (1 - b) * residuals[lo] + b * residuals[hi]
        if not self.chart.shared:
            return between
        interval = float(tau_obs[-1] - tau_obs[0]) / (len(tau_obs) - 1)
        gap = torch.maximum(tau_obs[0] - tau, tau - tau_obs[-1]).clamp(min=0)
        keep = torch.exp(-gap / interval).float().view(-1, 1, 1)
        level = residuals.mean(0)
        return level + keep * (between - level)

    @torch.no_grad()
    def evaluate_from(self, times, starts: torch.Tensor) -> torch.Tensor:
        """The paper's single solve from several start codes at t0, in one batch.

        Args:
            times: (N,) seconds. starts: (B, num_ws, w_dim) codes at t0.

        Returns:
            float32 (B, N, num_ws, w_dim); each start's residual outside the subspace is carried along.
            For a field whose drift depends on time alone (a motion prior) every start moves alike,
            so each is the exact path shifted by the start's offset from the first code.
        """
        if starts.dim() != 3 or tuple(starts.shape[1:]) != self.latent_shape:
            raise InputError(f"Trajectory.evaluate_from(): starts must have shape (B, {self.latent_shape[0]}, "
                             f"{self.latent_shape[1]}), got {tuple(starts.shape)}")
        if self.field.state_free:  # every start moves alike: the video's own path, shifted
            return self.evaluate(times)[None] + (starts - self.w0)[:, None]
        tau = self.tau(times)
        z = solve_at(self.field, self.encode(starts), 0.0, tau, self.solver).transpose(0, 1)  # (B, N, k)
        return self.decode(z.reshape(-1, z.shape[-1])).reshape(len(starts), len(tau), *self.latent_shape) \
            + self.chart.residual(starts)[:, None]
