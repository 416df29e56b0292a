"""A fitted latent trajectory: evaluate w(t) at any times, from the observed or an edited start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import nn
import torchsde
from torchdiffeq import odeint, odeint_adjoint

from dynode.dynamics.fields import make_field
from dynode.errors import CheckpointError, FitError, InputError
from dynode.io.checkpoints import load_artifact, save_artifact
from dynode.types import bracket


class _Counted(nn.Module):
    """Counts function evaluations of a field (reported in fit stats and errors)."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return self.field(t, z)


class Segments(nn.Module):
    """A field seen in each row's own segment time s in [0, 1]: row b covers tau = start_b + s * gap_b.

    Solving it from each row's code solves every segment between observations in one batch.
    """

    def __init__(self, field: nn.Module, start: torch.Tensor, gap: torch.Tensor):
        super().__init__()
        self.field = field
        self.start, self.gap = start[:, None], gap[:, None]

    def forward(self, s, z):
        return self.gap * self.field(self.start + s * self.gap, z)


def solve(field: nn.Module, z0: torch.Tensor, taus: torch.Tensor, method: str, rtol: float, atol: float,
          step_size: float, adjoint: bool = False) -> torch.Tensor:
    """Solve dz/dtau = field(tau, z) from z0 at taus[0] through the increasing (or decreasing) taus.

    ``adjoint`` back-propagates by solving the adjoint equation backwards instead of through the
    solver's steps: memory does not grow with the number of steps, at about twice the time.
    Returns (len(taus), *z0.shape). Raises FitError on solver failure or non-finite states,
    naming the time reached and the number of function evaluations.
    """
    counted = _Counted(field)
    options = {"step_size": step_size} if method == "rk4" else {}
    integrate = odeint_adjoint if adjoint else odeint
    try:
        out = integrate(counted, z0, taus.to(z0), method=method, rtol=rtol, atol=atol, options=options)
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


def smoothstep(s: torch.Tensor) -> torch.Tensor:
    """3s^2 - 2s^3: 0 at s=0, 1 at s=1, zero slope at both ends."""
    return s * s * (3 - 2 * s)


def through_observations(field: nn.Module, z_obs: torch.Tensor, tau_obs: torch.Tensor, tau: torch.Tensor,
                         solver: str, rtol: float, atol: float, step_size: float) -> tuple[torch.Tensor, ...]:
    """The exact-endpoint path at times inside the observed span.

    On each segment [tau_i, tau_i+1] the ODE is solved forwards from z_i and backwards from
    z_i+1, and the two are blended with the smooth weight b = smoothstep(s), s the fraction of
    the segment: z(tau) = (1 - b) F_i(tau) + b B_i(tau). The path equals each observation at
    its time and its slope there is the field's (b has zero slope at both ends), so it is C1
    across observations; between them it follows the learned flow, its defect (how far a
    one-segment solve misses the next code) spread smoothly over the segment. All segments are
    solved in one batch, once forwards and once backwards.

    Args:
        z_obs: (T, k) observed coordinates at tau_obs (T,), increasing.
        tau: (N,) query times inside [tau_obs[0], tau_obs[-1]].

    Returns:
        z (N, k), the segment index lo (N,) and the blend weight b (N,).
    """
    lo, hi, frac = bracket(tau_obs, tau)
    # float32 before the unique: the solver's grid must stay strictly increasing once cast.
    frac = frac.float()
    segs, seg_of = torch.unique(lo, return_inverse=True)
    fracs = torch.unique(frac, sorted=True)
    inner = fracs[(fracs > 0) & (fracs < 1)]
    z = z_obs[lo].clone()
    if len(inner):
        seg_field = Segments(field, tau_obs[segs].float(), (tau_obs[segs + 1] - tau_obs[segs]).float())
        grid = torch.cat([torch.zeros(1), inner, torch.ones(1)])
        fwd = solve(seg_field, z_obs[segs], grid, solver, rtol, atol, step_size)[1:-1]
        bwd = solve(seg_field, z_obs[segs + 1], grid.flip(0), solver, rtol, atol, step_size).flip(0)[1:-1]
        rows = torch.searchsorted(inner, frac).clamp(max=len(inner) - 1)
        mid = (frac > 0) & (frac < 1)
        b = smoothstep(frac[mid])[:, None]
        z[mid] = (1 - b) * fwd[rows[mid], seg_of[mid]] + b * bwd[rows[mid], seg_of[mid]]
    ends = frac >= 1
    z[ends] = z_obs[hi[ends]]
    return z, lo, smoothstep(frac)


class _SDE(nn.Module):
    """Ito SDE dz = f(tau, z) dtau + diag(sigma) dW for torchsde."""

    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, field: nn.Module, sigma: torch.Tensor):
        super().__init__()
        self.field, self.sigma = field, sigma

    def f(self, t, z):
        return self.field(t, z)

    def g(self, t, z):
        return self.sigma.expand_as(z)


MODES = ("exact", "initial")


@dataclass
class Trajectory:
    """Continuous latent path w(t) = decode(z(t)) + residual, z solving the fitted ODE.

    z lives in normalised coordinates: z = ((w - mean) @ basis.T) / scale (basis None: the full
    space). Time is normalised as tau = (t - t0) / t_scale. The part of a code outside the
    subspace (its residual) is carried along unchanged.

    Two ways to evaluate (``mode``):
    - ``exact`` (default without an edited start): passes through every observed code (see
      :func:`through_observations`); past the last observation it is solved from the last
      observed code, before the first from the first.
    - ``initial`` (the paper; always used from an edited start): one solve from the start code
      at t0 through all times, so an edit made at t0 is carried by the dynamics to every frame.

    Attributes:
        field: the fitted vector field. field_name, hidden: how to rebuild it.
        observed: (T, num_ws, w_dim) observed codes at observed_times (T,) seconds.
        mean: (D,) and basis: (k, D) or None; scale: float.
        t0, t_scale: seconds.
        diffusion: (k,) noise scale of the SDE used by :meth:`sample_future`, per unit of
            sqrt(normalised time), estimated from the one-step prediction residuals.
        solver, rtol, atol, step_size: solver settings. generator: the generator's name/folder.
        stats: fitting statistics. delta: the video's pivotal-tuning weight delta (None: none);
            render with ``load_generator(generator, delta=delta)``.
    """

    field: nn.Module
    field_name: str
    hidden: int
    observed: torch.Tensor
    observed_times: torch.Tensor
    mean: torch.Tensor
    basis: torch.Tensor | None
    scale: float
    t0: float
    t_scale: float
    diffusion: torch.Tensor
    solver: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    step_size: float = 0.02
    generator: str = ""
    stats: dict = field(default_factory=dict)
    delta: dict | None = None

    @property
    def w0(self) -> torch.Tensor:
        """(num_ws, w_dim) the observed first code, the default start."""
        return self.observed[0]

    @property
    def latent_shape(self) -> tuple[int, int]:
        return tuple(self.observed.shape[1:])

    def encode(self, w: torch.Tensor) -> torch.Tensor:
        """(N, num_ws, w_dim) -> (N, k) normalised coordinates."""
        return to_coords(w, self.mean, self.basis, self.scale)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, k) -> (N, num_ws, w_dim)."""
        return from_coords(z, self.mean, self.basis, self.scale).reshape(z.shape[0], *self.latent_shape)

    def _tau(self, times) -> torch.Tensor:
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        if not torch.isfinite(t).all():
            raise InputError(f"Trajectory: times must be finite, got {t.tolist()[:8]}")
        return (t - self.t0) / self.t_scale

    @torch.no_grad()
    def evaluate(self, times, start: torch.Tensor | None = None, mode: str | None = None) -> torch.Tensor:
        """Latent codes at any times (seconds; before t0, between or past the observations).

        Args:
            times: (N,) seconds, any order, finite.
            start: (num_ws, w_dim) code at t0 to start from (default: the observed first code);
                an edited start makes every frame inherit the edit through the dynamics.
            mode: "exact" or "initial" (see the class); default "exact" without a start,
                "initial" with one.

        Returns:
            float32 (N, num_ws, w_dim).

        Raises:
            InputError: non-finite times, a start of the wrong shape, an unknown mode, or
                mode "exact" with a start. FitError: solver failure.
        """
        mode = mode or ("initial" if start is not None else "exact")
        if mode not in MODES:
            raise InputError(f"Trajectory.evaluate(): unknown mode {mode!r}; valid modes are {list(MODES)}")
        if start is not None and mode == "exact":
            raise InputError("Trajectory.evaluate(): mode 'exact' passes through the observed codes and cannot "
                             "start from another code; use mode='initial' with a start")
        tau = self._tau(times)
        start = self.w0 if start is None else start
        if tuple(start.shape) != self.latent_shape:
            raise InputError(f"Trajectory.evaluate(): start must have shape {self.latent_shape}, got {tuple(start.shape)}")
        if mode == "initial":
            return self.evaluate_from(times, start[None])[0]
        z_obs = self.encode(self.observed)
        residuals = self.observed.float() - self.decode(z_obs)
        tau_obs = self._tau(self.observed_times)
        out = torch.empty(len(tau), *self.latent_shape)
        before, after = tau < 0, tau > tau_obs[-1]
        inside = ~(before | after)
        if before.any():
            out[before] = self.decode(self._solve_from(z_obs[:1], 0.0, tau[before])[:, 0]) + residuals[0]
        if after.any():
            out[after] = self.decode(self._solve_from(z_obs[-1:], float(tau_obs[-1]), tau[after])[:, 0]) \
                + residuals[-1]
        if inside.any():
            z, lo, b = through_observations(self.field, z_obs, tau_obs, tau[inside], self.solver, self.rtol,
                                            self.atol, self.step_size)
            b = b.view(-1, 1, 1)
            out[inside] = self.decode(z) + (1 - b) * residuals[lo] + b * residuals[(lo + 1).clamp(max=len(z_obs) - 1)]
        return out

    def _solve_from(self, z0: torch.Tensor, tau0: float, tau: torch.Tensor) -> torch.Tensor:
        """z at taus on either side of tau0, solved from each row of z0 (B, k) at tau0: -> (N, B, k)."""
        out = torch.empty(len(tau), *z0.shape)
        for mask in (tau >= tau0, tau < tau0):
            if not mask.any():
                continue
            uniq, inverse = torch.unique(tau[mask], sorted=True, return_inverse=True)
            backward = bool(uniq[0] < tau0)
            targets = uniq.flip(0) if backward else uniq[uniq > tau0]
            z = z0[None]
            if len(targets):
                grid = torch.cat([torch.tensor([tau0], dtype=torch.float64), targets]).float()
                z = solve(self.field, z0, grid, self.solver, self.rtol, self.atol, self.step_size)[1:]
            if backward:
                z = z.flip(0)
            elif uniq[0] == tau0 and len(targets):
                z = torch.cat([z0[None], z])
            out[mask] = z[inverse]
        return out

    @torch.no_grad()
    def evaluate_from(self, times, starts: torch.Tensor) -> torch.Tensor:
        """The paper's single solve from several start codes at t0, in one batch.

        Args:
            times: (N,) seconds. starts: (B, num_ws, w_dim) codes at t0.

        Returns:
            float32 (B, N, num_ws, w_dim); each start's residual outside the subspace is carried along.
        """
        if starts.dim() != 3 or tuple(starts.shape[1:]) != self.latent_shape:
            raise InputError(f"Trajectory.evaluate_from(): starts must have shape (B, {self.latent_shape[0]}, "
                             f"{self.latent_shape[1]}), got {tuple(starts.shape)}")
        tau = self._tau(times)
        z0 = self.encode(starts)
        residual = starts.float() - self.decode(z0)
        z = self._solve_from(z0, 0.0, tau).transpose(0, 1)  # (B, N, k)
        return self.decode(z.reshape(-1, z.shape[-1])).reshape(len(starts), len(tau), *self.latent_shape) \
            + residual[:, None]

    @torch.no_grad()
    def sample_future(self, times, samples: int = 8, seed: int = 0) -> torch.Tensor:
        """Plausible futures from the last observed code: the fitted field as the drift of an SDE
        with diagonal noise ``diffusion`` (torchsde, Euler-Maruyama), so the spread grows with
        the horizon.

        Args:
            times: (N,) seconds, all at or after the last observed time.
            samples: number of futures. seed: seeds the Brownian motion (same seed, same futures).

        Returns:
            float32 (samples, N, num_ws, w_dim).

        Raises:
            InputError: a time before the last observation, or samples < 1.
        """
        tau = self._tau(times)
        tau_last = float(self._tau(self.observed_times[-1:])[0])
        if samples < 1 or not (tau >= tau_last - 1e-9).all():
            raise InputError(f"sample_future(): need samples >= 1 and times at or after the last observed time "
                             f"{float(self.observed_times[-1]):.4f} s")
        uniq, inverse = torch.unique(tau.clamp(min=tau_last), sorted=True, return_inverse=True)
        grid = torch.cat([torch.tensor([tau_last], dtype=torch.float64), uniq[uniq > tau_last]]).float()
        z_last = self.encode(self.observed[-1:])
        residual = self.observed[-1].float() - self.decode(z_last)[0]
        z0 = z_last.expand(samples, -1).contiguous()
        if len(grid) > 1:
            bm = torchsde.BrownianInterval(float(grid[0]), float(grid[-1]), size=z0.shape, entropy=seed)
            z = torchsde.sdeint(_SDE(self.field, self.diffusion), z0, grid, bm=bm, method="euler", dt=self.step_size)
        else:
            z = z0[None]
        if uniq[0] > tau_last:
            z = z[1:]
        z = z[inverse]  # (N, samples, k)
        return (self.decode(z.reshape(-1, z.shape[-1])) + residual).reshape(len(tau), samples, *self.latent_shape)\
            .transpose(0, 1).contiguous()

    def save(self, path: str | os.PathLike) -> None:
        tensors = {f"field.{k}": v for k, v in self.field.state_dict().items()}
        tensors.update({"observed": self.observed, "observed_times": self.observed_times, "mean": self.mean,
                        "diffusion": self.diffusion})
        if self.basis is not None:
            tensors["basis"] = self.basis
        tensors.update({f"delta.{k}": v for k, v in (self.delta or {}).items()})
        info = {k: getattr(self, k) for k in ("field_name", "hidden", "scale", "t0", "t_scale", "solver", "rtol",
                                              "atol", "step_size", "generator", "stats")}
        save_artifact(path, "trajectory", tensors, info)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Trajectory":
        t, info = load_artifact(path, "trajectory")
        if "observed" not in t:
            raise CheckpointError(f"{path}: trajectory written by an older dynode (no observed codes); fit it again")
        basis = t.get("basis")
        z_obs = to_coords(t["observed"], t["mean"], basis, info["scale"])
        tau_obs = ((t["observed_times"] - info["t0"]) / info["t_scale"]).float()
        net = make_field(info["field_name"], z_obs.shape[1], info["hidden"], path=(tau_obs, z_obs))
        net.load_state_dict({k[len("field."):]: v for k, v in t.items() if k.startswith("field.")})
        return cls(net.eval(), info["field_name"], info["hidden"], t["observed"], t["observed_times"], t["mean"],
                   basis, info["scale"], info["t0"], info["t_scale"], t["diffusion"], info["solver"], info["rtol"],
                   info["atol"], info["step_size"], info["generator"], info["stats"],
                   {k[len("delta."):]: v for k, v in t.items() if k.startswith("delta.")} or None)


def to_coords(w: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor | None, scale: float) -> torch.Tensor:
    """Codes (N, ...) -> normalised subspace coordinates (N, k)."""
    x = w.reshape(w.shape[0], -1).float() - mean
    if basis is not None:
        x = x @ basis.T
    return x / scale


def from_coords(z: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor | None, scale: float) -> torch.Tensor:
    """Normalised coordinates (N, k) -> flat codes (N, D)."""
    x = z * scale
    if basis is not None:
        x = x @ basis
    return x + mean
