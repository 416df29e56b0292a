"""Editing the motion itself: exaggerate, damp or freeze one component of a video's movement.

The edit changes the vector field. With v a unit direction in the trajectory's coordinates,
c the mean observed coordinate and A = I + (g - 1) v v^T (gain g > 0 along v, 1 across), the
new field is the old one seen through A:

    f'(t, u) = A f(t, A^-1 (u - c) + c).

If z(t) solves the old field, u(t) = c + A (z(t) - c) solves the new one exactly: every path
keeps its shape across v and has its excursions along v scaled by g. The observed codes are
moved the same way, so both evaluation modes and every edit mode work on the result. A gain
of 2 doubles the motion along v, 0.5 halves it, and a small gain (0.01) nearly freezes it.
"""

from __future__ import annotations

import dataclasses

import torch

from dynode.dynamics import Trajectory
from dynode.dynamics.fields import Field
from dynode.edit.directions import Direction
from dynode.errors import InputError


class ScaledField(Field):
    """The field f seen through u = c + A (z - c), A = I + (gain - 1) v v^T (see the module).

    A field whose state carries the velocity (``second_order``) has it seen through A too; other
    extra state (``augmented``) is left as it is.
    """

    def __init__(self, field: Field, v: torch.Tensor, gain: float, center: torch.Tensor):
        super().__init__(field.dim)
        self.field, self.gain, self.extra, self.velocity = field, float(gain), field.extra, field.velocity
        self.state_free = field.state_free
        self.register_buffer("v", v / v.norm())
        self.register_buffer("center", center)

    def scale(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        """x + (gain - 1) (x . v) v for rows x (..., k)."""
        return x + (gain - 1) * (x @ self.v)[..., None] * self.v

    def _map(self, state: torch.Tensor, gain: float, centred: bool = True) -> torch.Tensor:
        """A state seen through the scaling by ``gain`` (about the centre, for coordinates)."""
        z, rest = state[..., :self.dim], state[..., self.dim:]
        z = self.scale(z - self.center, gain) + self.center if centred else self.scale(z, gain)
        if self.velocity:
            rest = self.scale(rest, gain)
        return torch.cat([z, rest], -1)

    def lift(self, u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return self._map(self.field.lift(self.scale(u - self.center, 1 / self.gain) + self.center, tau), self.gain)

    def forward(self, t, u):
        return self._map(self.field(t, self._map(u, 1 / self.gain)), self.gain, centred=False)


def is_component(spec: str | Direction) -> bool:
    """Whether ``spec`` names a principal component of the video's motion ("pcK"), not a direction."""
    return isinstance(spec, str) and spec.startswith("pc") and spec[2:].isdigit()


def motion_component(trajectory: Trajectory, spec: str | Direction) -> torch.Tensor:
    """A unit direction (k,) in the trajectory's coordinates: "pcK", the K-th principal component
    of the video's own observed path, or a :class:`Direction` mapped into the coordinates.

    Raises:
        InputError: an unknown spec, K out of range, or a direction that is (nearly) outside the
            coordinates the dynamics live in (the default field's subspace), where no motion happens.
    """
    z = trajectory.encode(trajectory.observed)
    if isinstance(spec, Direction):
        offset = spec.offset(1.0, trajectory.latent_shape[0])
        shift = trajectory.encode(trajectory.w0[None] + offset) - z[:1]
        captured = float(shift.norm()) * trajectory.chart.scale / float(offset.norm())  # share of the offset inside
        if captured < 0.01:
            raise InputError(f"direction {spec.name!r} lies outside the coordinates of this trajectory's motion; "
                             "use a component pcK", "full_space")
        return shift[0] / shift.norm()
    if not is_component(spec):
        raise InputError(f"motion component {spec!r}: give pcK (K-th principal component of the video's motion) "
                         "or a direction")
    k = int(spec[2:])
    x = z - z.mean(0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    if k >= min(len(vh), len(z) - 1):
        raise InputError(f"motion component {spec!r}: this trajectory has components pc0..pc{min(len(vh), len(z) - 1) - 1}")
    return vh[k] * torch.sign(vh[k][vh[k].abs().argmax()])


def scale_motion(trajectory: Trajectory, component: torch.Tensor, gain: float) -> Trajectory:
    """A trajectory whose motion along ``component`` (unit, (k,)) is scaled by ``gain`` > 0.

    The result lives in memory (its field wraps the fitted one); render or edit it, then discard.
    """
    if not gain > 0 or gain != gain:
        raise InputError(f"motion gain must be > 0 (1 keeps the motion, 2 doubles it, 0.5 halves it), got {gain}")
    z = trajectory.encode(trajectory.observed)
    field = ScaledField(trajectory.field, component.float(), gain, z.mean(0))
    u = field.scale(z - field.center, gain) + field.center
    observed = trajectory.observed.float() + trajectory.decode(u) - trajectory.decode(z)
    stats = trajectory.stats and dataclasses.replace(trajectory.stats, motion_gains=(*trajectory.stats.motion_gains,
                                                                                    float(gain)))
    return dataclasses.replace(trajectory, field=field, observed=observed, stats=stats)


def parse_motion(spec: str) -> tuple[str, float]:
    """A motion edit from "COMPONENT=GAIN" (e.g. "pc0=2", "smile=0.5") -> (component, gain).

    Raises:
        InputError: no "=", no component, or a gain that is not a number.
    """
    name, eq, gain = spec.rpartition("=")
    try:
        if not name or not eq:
            raise ValueError(spec)
        return name, float(gain)
    except ValueError as e:
        raise InputError(f"motion {spec!r}: expected COMPONENT=GAIN, e.g. pc0=2") from e
