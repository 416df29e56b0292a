"""A fitted latent trajectory: evaluate w(t) at any times, from the observed or an edited start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import nn
from torchdiffeq import odeint

from dynode.dynamics.fields import make_field
from dynode.errors import FitError, InputError
from dynode.io.checkpoints import load_artifact, save_artifact


class _Counted(nn.Module):
    """Counts function evaluations of a field (reported in fit stats and errors)."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return self.field(t, z)


def solve(field: nn.Module, z0: torch.Tensor, taus: torch.Tensor, method: str, rtol: float, atol: float,
          step_size: float) -> torch.Tensor:
    """Solve dz/dtau = field(tau, z) from z0 at taus[0] through the increasing (or decreasing) taus.

    Returns (len(taus), *z0.shape). Raises FitError on solver failure or non-finite states,
    naming the time reached and the number of function evaluations.
    """
    counted = _Counted(field)
    options = {"step_size": step_size} if method == "rk4" else {}
    try:
        out = odeint(counted, z0, taus.to(z0), method=method, rtol=rtol, atol=atol, options=options)
    except AssertionError as e:  # torchdiffeq reports step-size underflow with a bare assert
        raise FitError(f"ODE solver {method} failed between tau={taus[0].item():.4f} and {taus[-1].item():.4f} "
                       f"after {counted.nfe} function evaluations ({e}); try solver='rk4' or fewer iterations "
                       "with a lower learning rate") from e
    finite = torch.isfinite(out.reshape(len(taus), -1)).all(1)
    if not finite.all():
        first = int((~finite).nonzero()[0])
        raise FitError(f"ODE state became NaN/inf at tau={taus[first].item():.4f} (last finite tau "
                       f"{taus[max(first - 1, 0)].item():.4f}) after {counted.nfe} function evaluations; "
                       "lower the learning rate or use solver='rk4'")
    return out


@dataclass
class Trajectory:
    """Continuous latent path w(t) = decode(z(t)) + residual, z solving the fitted ODE.

    z lives in normalised coordinates: z = ((w - mean) @ basis.T) / scale (basis None: the full
    space). Time is normalised as tau = (t - t0) / t_scale. Starting from a code w_s, the part of
    w_s outside the subspace (the residual) is carried unchanged, so evaluate(t0) returns w_s.

    Attributes:
        field: the fitted vector field. field_name, hidden: how to rebuild it.
        w0: (num_ws, w_dim) observed first code, the default start.
        mean: (D,) and basis: (k, D) or None; scale: float.
        t0, t_scale: seconds. observed_times: (T,) seconds.
        solver, rtol, atol, step_size: solver settings. generator: the generator's name/folder.
        stats: fitting statistics.
    """

    field: nn.Module
    field_name: str
    hidden: int
    w0: torch.Tensor
    mean: torch.Tensor
    basis: torch.Tensor | None
    scale: float
    t0: float
    t_scale: float
    observed_times: torch.Tensor
    solver: str = "dopri5"
    rtol: float = 1e-4
    atol: float = 1e-5
    step_size: float = 0.02
    generator: str = ""
    stats: dict = field(default_factory=dict)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return tuple(self.w0.shape)

    def encode(self, w: torch.Tensor) -> torch.Tensor:
        """(N, num_ws, w_dim) -> (N, k) normalised coordinates."""
        x = w.reshape(w.shape[0], -1).float() - self.mean
        if self.basis is not None:
            x = x @ self.basis.T
        return x / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, k) -> (N, num_ws, w_dim)."""
        x = z * self.scale
        if self.basis is not None:
            x = x @ self.basis
        return (x + self.mean).reshape(z.shape[0], *self.latent_shape)

    @torch.no_grad()
    def evaluate(self, times, start: torch.Tensor | None = None) -> torch.Tensor:
        """Latent codes at any times (seconds; before t0, between or past the observations).

        Args:
            times: (N,) seconds, any order, finite.
            start: (num_ws, w_dim) code at t0 to start from (default: the observed w0); an edited
                start makes every frame inherit the edit through the dynamics.

        Returns:
            float32 (N, num_ws, w_dim).

        Raises:
            InputError: non-finite times or a start of the wrong shape. FitError: solver failure.
        """
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        if not torch.isfinite(t).all():
            raise InputError(f"Trajectory.evaluate(): times must be finite, got {t.tolist()[:8]}")
        start = self.w0 if start is None else start
        if tuple(start.shape) != self.latent_shape:
            raise InputError(f"Trajectory.evaluate(): start must have shape {self.latent_shape}, got {tuple(start.shape)}")
        z0 = self.encode(start[None])
        residual = start.float() - self.decode(z0)[0]
        tau = ((t - self.t0) / self.t_scale).float()
        out = torch.empty(len(t), *self.latent_shape)
        for mask in (tau >= 0, tau < 0):
            if mask.any():
                out[mask] = self.decode(self._solve_at(z0, tau[mask])) + residual
        return out

    def _solve_at(self, z0: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """z at taus that all lie on one side of 0: (N,) -> (N, k)."""
        uniq, inverse = torch.unique(tau, sorted=True, return_inverse=True)
        backward = bool(uniq[0] < 0)
        targets = uniq.flip(0) if backward else uniq[uniq > 0]
        z = z0
        if len(targets):
            grid = torch.cat([torch.zeros(1), targets])
            z = solve(self.field, z0, grid, self.solver, self.rtol, self.atol, self.step_size)[1:, 0]
        if backward:
            z = z.flip(0)
        elif uniq[0] == 0:
            z = torch.cat([z0, z]) if len(targets) else z0
        return z[inverse]

    def save(self, path: str | os.PathLike) -> None:
        tensors = {f"field.{k}": v for k, v in self.field.state_dict().items()}
        tensors.update({"w0": self.w0, "mean": self.mean, "observed_times": self.observed_times})
        if self.basis is not None:
            tensors["basis"] = self.basis
        info = {k: getattr(self, k) for k in ("field_name", "hidden", "scale", "t0", "t_scale", "solver", "rtol",
                                              "atol", "step_size", "generator", "stats")}
        save_artifact(path, "trajectory", tensors, info)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trajectory":
        t, info = load_artifact(path, "trajectory")
        basis = t.get("basis")
        dim = basis.shape[0] if basis is not None else t["mean"].numel()
        net = make_field(info["field_name"], dim, info["hidden"])
        net.load_state_dict({k[len("field."):]: v for k, v in t.items() if k.startswith("field.")})
        return cls(net.eval(), info["field_name"], info["hidden"], t["w0"], t["mean"], basis, info["scale"],
                   info["t0"], info["t_scale"], t["observed_times"], info["solver"], info["rtol"], info["atol"],
                   info["step_size"], info["generator"], info["stats"])
