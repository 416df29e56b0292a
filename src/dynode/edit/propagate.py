"""Propagating edits through a video: carried from the first frame (DynODE) or added to every frame.

An :class:`Edit` is a direction, a strength and an optional :class:`Schedule` that fades it
in and out over time. The two functions below turn a list of edits into the edited codes at any
times. The unedited motion is the trajectory's ``path`` (``exact``: through every observed
code; ``initial``: the paper's single solve from the first code), and the edit rides on it in
one of two ways:

- ``first-frame`` (:func:`carry`): the edit is made on the first code only and carried to every
  time by the fitted flow: Delta(t) = Phi_t(w0 + a d) - Phi_t(w0), the difference between the
  single solves from the edited and the plain first code, is added to the path. So strength 0
  gives the unedited video exactly, and what happens to the edit over time is decided by the
  dynamics. On the ``initial`` path this is the paper's output itself, Phi_t(w0 + a d).
- ``per-frame`` (:func:`add_to_every`): the baseline that adds a * sigma * d to every frame's code.

With a schedule the edit's contribution at time t is scaled by the schedule's weight there:
w(t) = path(t) + sum_i s_i(t) Delta_i(t) (first-frame) or + s_i(t) a_i sigma_i d_i (per-frame).
Several edits are each propagated (in one batched solve) and summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dynode.dynamics import EDIT_PATH, Trajectory
from dynode.edit.directions import Direction
from dynode.errors import InputError
from dynode.types import bracket

@dataclass(frozen=True)
class Schedule:
    """A piecewise-linear weight over time from keyframes (seconds, weight), held flat outside them."""

    times: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        t = torch.tensor(self.times, dtype=torch.float64)
        if len(self.times) != len(self.weights) or not len(t) or not torch.isfinite(t).all() \
                or (len(t) > 1 and not (t[1:] > t[:-1]).all()):
            raise InputError(f"schedule: need matching keyframe times and weights with strictly increasing "
                             f"times, got times {list(self.times)} and weights {list(self.weights)}")

    @classmethod
    def parse(cls, spec: str) -> "Schedule":
        """From "t:weight,t:weight,..." e.g. "0:0,1:1,3:1,4:0" (fade in over the first second,
        hold, fade out from 3 s to 4 s)."""
        try:
            pairs = [tuple(float(x) for x in part.split(":")) for part in spec.split(",")]
            times, weights = zip(*pairs)
        except ValueError as e:
            raise InputError(f"schedule {spec!r}: expected comma-separated time:weight pairs such as "
                             "'0:0,1:1,3:1,4:0'") from e
        return cls(tuple(times), tuple(weights))

    def __call__(self, times) -> torch.Tensor:
        """Weights at times (N,) -> (N,) float32."""
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        kt = torch.tensor(self.times, dtype=torch.float64)
        kw = torch.tensor(self.weights, dtype=torch.float64)
        if len(kt) == 1:
            return kw.expand(len(t)).float()
        lo, hi, frac = bracket(kt, t)
        return (kw[lo] + frac * (kw[hi] - kw[lo])).float()


@dataclass(frozen=True)
class Edit:
    """A direction at a strength (in sigmas of the direction), optionally scheduled in time."""

    direction: Direction
    strength: float
    schedule: Schedule | None = None

    def weights(self, times) -> torch.Tensor:
        n = torch.as_tensor(times).reshape(-1).shape[0]
        return torch.ones(n) if self.schedule is None else self.schedule(times)


@torch.no_grad()
def carry(trajectory: Trajectory, times, edits: list[Edit], path: str = EDIT_PATH) -> torch.Tensor:
    """Edited codes at ``times`` (seconds), each edit made on the first code and carried by the fitted
    flow (``first-frame``, see the module): float32 (N, num_ws, w_dim).

    Raises:
        InputError: an unknown path.
    """
    out, live = _start(trajectory, times, edits, path)
    if not live:
        return out
    w0 = trajectory.w0.float()
    solved = trajectory.evaluate_from(times, torch.stack([w0] + [w0 + o for _, o in live]))
    if path == "initial":  # the plain solve from the same batch: one edit then gives Phi_t(w0 + a d) exactly
        out = solved[0].clone()
    for (e, _), edited in zip(live, solved[1:]):
        out += e.weights(times)[:, None, None] * (edited - solved[0])
    return out


@torch.no_grad()
def add_to_every(trajectory: Trajectory, times, edits: list[Edit], path: str = EDIT_PATH) -> torch.Tensor:
    """Edited codes at ``times`` (seconds), each edit's offset added to every code (``per-frame``, see the
    module): float32 (N, num_ws, w_dim).

    Raises:
        InputError: an unknown path.
    """
    out, live = _start(trajectory, times, edits, path)
    for e, o in live:
        out += e.weights(times)[:, None, None] * o
    return out


def _start(trajectory: Trajectory, times, edits: list[Edit], path: str) -> tuple[torch.Tensor, list]:
    """The unedited codes along ``path`` and the (edit, offset) pairs that move them."""
    num_ws = trajectory.latent_shape[0]
    out = trajectory.evaluate(times, path=path)
    return out, [(e, o) for e in edits if (o := e.direction.offset(e.strength, num_ws)).abs().max() > 0]
