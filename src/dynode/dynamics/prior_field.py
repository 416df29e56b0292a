"""The motion prior as a trajectory's vector field (see :mod:`dynode.dynamics.prior`)."""

from __future__ import annotations

import torch

from dynode.dynamics.fields import Field
from dynode.dynamics.prior import MotionPrior

# Past the last code by more than AFTER seconds, a refinement for past the end (``ahead``) moves the path.
AFTER = 1e-5


class PriorField(Field):
    """dz/dtau = the time derivative of the prior's posterior mean given one video's observations.

    Coordinates are the prior's chart (:meth:`MotionPrior.chart`); tau is the trajectory's
    normalised time, ``t_scale`` seconds a unit. A solve from an observed code follows the expected
    motion from there; from an edited code, the same motion with the edit's offset. Past the last
    code, ``ahead`` (a prior refined on the video, where one forecast it better) takes over when
    given. Sampled futures spread ``future_scale`` times the posterior's spread
    (:meth:`MotionPrior.forecast_error` of the video: how far its own codes fell from the forecasts).
    """

    state_free = True

    def __init__(self, prior: MotionPrior, tau_obs: torch.Tensor, z_obs: torch.Tensor, t_scale: float,
                 future_scale: float = 1.0, ahead: MotionPrior | None = None):
        super().__init__(len(prior.basis))
        self.prior = prior
        self.ahead = ahead
        self.register_buffer("tau_obs", tau_obs.float().clone())
        self.register_buffer("z_obs", z_obs.float().clone())
        self.register_buffer("t_scale", torch.tensor(float(t_scale)))
        self.register_buffer("future_scale", torch.tensor(float(future_scale)))
        self._alpha: dict[str, torch.Tensor] = {}  # K^-1 u of "prior" and "ahead"

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], config: dict) -> "PriorField":
        """Rebuild a saved field from its state dict and its prior's config."""
        priors = {name: {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
                  for name in ("prior", "ahead")}
        ahead = MotionPrior.from_tensors(priors["ahead"], config) if priors["ahead"] else None
        return cls(MotionPrior.from_tensors(priors["prior"], config), state["tau_obs"], state["z_obs"],
                   float(state["t_scale"]), float(state.get("future_scale", 1.0)), ahead)

    def _observations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The observations in the prior's terms: times (n,) seconds and unit-spread coordinates (n, K)."""
        return self.tau_obs * self.t_scale, self.z_obs / self.prior.spread

    def _mean_of(self, name: str, t: torch.Tensor, slope: bool = False) -> torch.Tensor:
        """The posterior mean (N, K) of prior ``name`` ("prior" or "ahead") in unit-spread coordinates at
        times t (N,) seconds, or its time derivative."""
        prior, times = getattr(self, name), self.tau_obs * self.t_scale
        if name not in self._alpha:
            with torch.no_grad():
                self._alpha[name] = prior._factor(*self._observations())[1]
        return (prior.kernel(t[:, None] - times[None], slope) @ self._alpha[name][..., None])[..., 0].T

    def _mean(self, t: torch.Tensor, slope: bool = False) -> torch.Tensor:
        """The path's posterior mean (N, K): the prior's up to the last code, ``ahead``'s after it when given."""
        mean = self._mean_of("prior", t, slope)
        if self.ahead is not None:
            after = t > self.tau_obs[-1] * self.t_scale + AFTER  # solver stages rounding just past it stay on the path
            if bool(after.any()):
                mean = torch.where(after[:, None], self._mean_of("ahead", t, slope), mean)
        return mean

    def forward(self, tau, z):
        t = torch.as_tensor(tau, dtype=torch.float32).reshape(-1) * self.t_scale
        out = self._mean(t, slope=True) * self.prior.spread * self.t_scale  # (B, K) coordinates per unit tau
        return out.expand_as(z) if out.shape[0] == 1 else out

    def record(self) -> dict:
        return {"prior": self.prior.config()}

    def futures(self, last: torch.Tensor, tau: torch.Tensor, tau_last: float, samples: int, seed: int,
                diffusion: torch.Tensor, step: float | None) -> torch.Tensor:
        """Futures (N, samples, K) at tau (N,) (clamped to ``tau_last``), each continuing from the last observed
        code: the posterior's samples shifted by the last code's noise (so their mean is the extrapolated
        path); ``last``, ``diffusion`` and ``step`` are not needed (the observations are the field's own)."""
        return self._sample(tau.clamp(min=tau_last), samples, seed).transpose(0, 1)

    def _sample(self, tau: torch.Tensor, samples: int, seed: int) -> torch.Tensor:
        """Futures (samples, N, K) at times tau (N,) (see :meth:`futures`)."""
        times, u = self._observations()
        name = "prior" if self.ahead is None else "ahead"
        with torch.no_grad():
            draws = getattr(self, name).sample(times, u, tau.float() * self.t_scale, samples, seed,
                                               float(self.future_scale))
            last = self._mean_of(name, times[-1:])[0]
        return (draws + (u[-1] - last)) * self.prior.spread
