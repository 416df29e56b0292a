"""Edit modes: how an edit rides on a fitted span, as the codes of every frame and an optional pixel step.

Each mode of :data:`dynode.config.EDIT_MODES` is a small object in :data:`MODES`; its :meth:`EditMode.plan`
gives a :class:`Drawing` of one span at its times (the edited codes, and what the renderer does to
their pictures), which the renderer draws in one pass:

- "first-frame": the edit made on the first code and carried by the fitted dynamics
  (:func:`dynode.edit.propagate.carry`); every frame renders its own edit.
- "per-frame": the edit added to every code (:func:`dynode.edit.propagate.add_to_every`).
- "locked": the carried edit at a per-frame gain holding its effect at the first frame's
  (:mod:`dynode.edit.lock`; what it cannot hold is reported).
- "keyframe": the carried edit with the look of its whole change on the keyframes held along the
  video's motion, in its region (:mod:`dynode.edit.keyframe`).
- "auto" (the default): the edit added to every code, as "per-frame", so every frame draws its own
  edit at the same strength (a learned offset is trained to work on any code; carried by the fitted
  dynamics, it drifts where the video's motion never went); the look of the colour edits' change
  (:attr:`Direction.appearance`) is held from the keyframes on top, as "keyframe"; shape edits alone
  are kept to where they change the frame clearly (:mod:`dynode.edit.confine`); a learned edit too
  weak on the video is first raised to its strength's amount (:func:`calibrated`).

Where no look is held, ``steady`` averages the edit's change along the unedited renders' motion
(:mod:`dynode.edit.steady`). On a generator tuned to the video, the edit's change is drawn by the
generator before the tuning (``base``; see :func:`dynode.render.drawn`), which the directions were
learned on; the default draws the colour edits by the tuned generator itself (:meth:`EditMode.drawn_by_tuned`),
whose edges are the frame's own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from dynode.config import EditSpec
from dynode.config.training import LearnConfig
from dynode.dynamics import Trajectory
from dynode.edit.keyframe import Keyframes
from dynode.edit.lock import LockReport, lock
from dynode.edit.propagate import Edit, add_to_every, carry
from dynode.io.images import from_uint8
from dynode.metrics.attributes import ATTRIBUTES
from dynode.render import drawn
from dynode.types import Generator


@dataclass(frozen=True)
class Drawing:
    """One span's edited codes and how their pictures are made (see :meth:`Renderer.edited`).

    Attributes:
        codes: the edited codes (N, num_ws, w_dim).
        geometry: codes at the same times whose renders give the motion and the change's reference
            (the unedited ones, or those of the edits drawn anew under a held look); None: the codes'.
        steady: the steady strength on the change from ``geometry``'s renders (0: off).
        keys: the keyframes whose look is held on the change from ``geometry``'s renders, with
            ``weights`` (N,) scaling it (a schedule's).
        base: the generator before a tuning, which draws the change from the ``unedited`` codes (from ``own``
            for ``codes``: the codes with the edits the tuned generator draws itself, when there are some).
        reports: how each locked edit was held (:class:`~dynode.edit.lock.LockReport`), or how the default set
            each learned edit's strength on the video (:class:`Raise`).
        confined: each frame's change from ``geometry``'s renders is kept where it is clear
            (:mod:`dynode.edit.confine`).
    """

    codes: torch.Tensor
    geometry: torch.Tensor | None = None
    steady: float = 0.0
    keys: Keyframes | None = None
    weights: torch.Tensor | None = None
    base: Generator | None = None
    unedited: torch.Tensor | None = None
    reports: tuple = ()
    confined: bool = False
    own: torch.Tensor | None = None


@dataclass(frozen=True)
class Scene:
    """What every mode plans from: one span's (motion-edited) trajectory, the times, the edits and the spec.

    Attributes:
        generator: the video's generator (tuned, when it was). base: the generator before the tuning
            (None: untuned, or the change drawn by the tuned one). probe: the attribute reader a locked
            edit may measure with. path: the unedited motion ("exact" or "initial"). detail: the video's
            detail is carried (its motion read from the unedited renders).
    """

    trajectory: Trajectory
    times: torch.Tensor
    edits: tuple[Edit, ...]
    spec: EditSpec
    generator: Generator
    base: Generator | None
    probe: object | None
    path: str
    detail: bool


class EditMode:
    """A mode that carries the edits from the first code; subclasses change the codes or hold a look."""

    name = "first-frame"

    @staticmethod
    def propagate(trajectory: Trajectory, times: torch.Tensor, edits: list[Edit], path: str) -> torch.Tensor:
        """How the mode's edits ride on the video's codes (carried from the first code here)."""
        return carry(trajectory, times, edits, path)

    def codes(self, scene: Scene) -> tuple[torch.Tensor, tuple[LockReport, ...]]:
        """The edited codes at the scene's times, and the reports of what was locked."""
        return self.propagate(scene.trajectory, scene.times, list(scene.edits), scene.path), ()

    def held(self, edits: tuple[Edit, ...]) -> tuple[Edit, ...]:
        """The edits whose keyframe look is held (the others are drawn anew on every frame)."""
        return ()

    def confines(self, edits: tuple[Edit, ...], held: tuple[Edit, ...]) -> bool:
        """Whether each frame's change is kept where it is clear (:mod:`dynode.edit.confine`)."""
        return False

    def drawn_by_tuned(self, edit: Edit) -> bool:
        """Whether, on a generator tuned to the video, the tuned generator draws this edit itself (else the
        generator before the tuning draws its change)."""
        return False

    def _by_tuned(self, scene: Scene, edits) -> tuple[list[Edit], Generator | None]:
        """The ``edits`` the tuned generator draws itself, and the generator that draws the others' change
        (the scene's ``base``; None when there are none, or no tuning)."""
        own = [e for e in edits if self.drawn_by_tuned(e)] if scene.base is not None else []
        return own, scene.base if len(own) < len(edits) else None

    def plan(self, scene: Scene) -> Drawing:
        """The span's :class:`Drawing` (see the module)."""
        edits, trajectory, t, path = scene.edits, scene.trajectory, scene.times, scene.path
        held = self.held(edits)
        anew = [e for e in edits if not any(e is h for h in held)]
        own, base = self._by_tuned(scene, edits)
        confined = self.confines(edits, held)
        smoothed = scene.detail or bool(scene.spec.steady and edits) or confined
        plain = trajectory.evaluate(t, path=path) if base is not None or held or smoothed else None
        if held:
            geometry = self.propagate(trajectory, t, anew, path) if anew else plain
        else:
            geometry = plain if smoothed else None
        codes, reports = self.codes(scene)
        keys, weights = (self._keys(scene, held, anew), torch.stack([e.weights(t) for e in held]).mean(0)) \
            if held else (None, None)
        return Drawing(codes, geometry, scene.spec.steady if edits else 0.0, keys, weights, base,
                       plain if base is not None else None, reports, confined,
                       self.propagate(trajectory, t, own, path) if own and base is not None else None)

    def _keys(self, scene: Scene, held: tuple[Edit, ...], anew: list[Edit]) -> Keyframes:
        """The keyframes (the spec's inside the observed span, else the first observed frame) rendered
        unedited (under the edits drawn anew) and with every edit at full strength."""
        trajectory, path = scene.trajectory, scene.path
        observed = trajectory.observed_times
        chosen = [k for k in scene.spec.keyframes if float(observed[0]) <= k <= float(observed[-1])]
        kt = torch.tensor(chosen or [float(observed[0])], dtype=torch.float64)
        whole = [replace(e, schedule=None) for e in scene.edits]  # the keyframe's look at full strength
        under = [replace(e, schedule=None) for e in anew]
        at_keys = trajectory.evaluate(kt, path=path)
        own, base = self._by_tuned(scene, whole)
        draw: Callable[[torch.Tensor, torch.Tensor], np.ndarray] = \
            lambda codes, start: np.concatenate(list(drawn(scene.generator, codes, base, start)))  # noqa: E731
        return Keyframes(kt.numpy(), draw(self.propagate(trajectory, kt, under, path) if under else at_keys, at_keys),
                         draw(self.propagate(trajectory, kt, whole, path),
                              self.propagate(trajectory, kt, own, path) if own else at_keys))


class PerFrame(EditMode):
    name = "per-frame"

    @staticmethod
    def propagate(trajectory: Trajectory, times: torch.Tensor, edits: list[Edit], path: str) -> torch.Tensor:
        return add_to_every(trajectory, times, edits, path)


class Locked(EditMode):
    name = "locked"

    def codes(self, scene: Scene) -> tuple[torch.Tensor, tuple[LockReport, ...]]:
        config = scene.spec.lock
        probe = scene.probe if config.response in ("auto", "probe") else None
        codes, reports = lock(scene.trajectory, scene.base or scene.generator, scene.times, list(scene.edits),
                              scene.path, config, probe)
        return codes, tuple(reports)


class Keyframe(EditMode):
    name = "keyframe"

    def held(self, edits: tuple[Edit, ...]) -> tuple[Edit, ...]:
        return edits


class Auto(PerFrame):
    name = "auto"

    def held(self, edits: tuple[Edit, ...]) -> tuple[Edit, ...]:
        return tuple(e for e in edits if e.direction.appearance)

    def confines(self, edits: tuple[Edit, ...], held: tuple[Edit, ...]) -> bool:
        return bool(edits) and not held

    def drawn_by_tuned(self, edit: Edit) -> bool:
        return edit.direction.appearance  # a colour: the frame's own edges, no seam where the two generators differ

    def plan(self, scene: Scene) -> Drawing:
        edits, raises = calibrated(scene, self.propagate, self.drawn_by_tuned)
        drawing = super().plan(replace(scene, edits=edits))
        return replace(drawing, reports=drawing.reports + raises)


# A learned direction's strength 1 moves its attribute by this share of its range (LearnConfig.unit_change);
# the auto mode raises a weaker edit by at most MAX_GAIN to reach it on the video's keyframes.
UNIT_CHANGE = LearnConfig().unit_change
MAX_GAIN, CALIBRATION_STEPS = 3.0, 3


@dataclass(frozen=True)
class Raise:
    """How :func:`calibrated` set one edit on a video: the strength asked, the gain put on it, and the probe's
    mean change of its attribute on the video's first, middle and last frames as asked (``given``) and as
    drawn (``reached``), against ``target`` (strength x :data:`UNIT_CHANGE`)."""

    name: str
    attribute: str
    strength: float
    gain: float
    given: float
    reached: float
    target: float

    @property
    def warning(self) -> bool:
        """The edit moves its attribute by less than 90% of its target on the video, even as raised."""
        return self.reached / self.target < 0.9

    def summary(self) -> str:
        """One line: what the raise did, or how far short the edit stays."""
        asked = f"auto: {self.name} {self.strength:+g}"
        if self.warning:
            return (f"{asked} moves {self.attribute} by {self.reached:+.2f} on this video (asked: {self.target:+.2f}) "
                    f"at {self.gain:.1f}x its strength, the most the default raises it: the generator draws "
                    f"little of it on these faces")
        if self.gain > 1:
            return (f"{asked} raised {self.gain:.1f}x (to {self.strength * self.gain:+.2f}) so that it moves "
                    f"{self.attribute} by {self.reached:+.2f} on this video (as asked: {self.given:+.2f})")
        return f"{asked} moves {self.attribute} by {self.reached:+.2f} on this video, as asked"


@torch.no_grad()
def calibrated(scene: Scene, propagate: Callable, by_tuned: Callable[[Edit], bool]) \
        -> tuple[tuple[Edit, ...], tuple[Raise, ...]]:
    """The scene's edits, each learned direction whose attribute the probe reads raised so that, made along
    the video by ``propagate`` (an :meth:`EditMode.propagate`), it moves the attribute by at least 90% of
    its strength x :data:`UNIT_CHANGE` on average over the first, middle and last observed frames, as it
    does on the generator's samples (a video's codes answer the same offset less or more: an attribute far
    from the frame's own needs more), and a :class:`Raise` for each edit so set. Each edit is read as it is
    drawn: by the tuned generator itself where ``by_tuned`` says so, else by the scene's ``base``. Secant
    steps; an edit is never weakened, and raised at most :data:`MAX_GAIN` times. Without a probe, the edits
    as they are."""
    probe, trajectory = scene.probe, scene.trajectory
    if probe is None or not scene.edits:
        return scene.edits, ()
    observed = trajectory.observed_times
    keys = torch.unique(observed[torch.tensor([0, len(observed) // 2, len(observed) - 1])])
    plain = trajectory.evaluate(keys, path=scene.path)

    def read(codes: torch.Tensor, base: Generator | None = None) -> torch.Tensor:
        return probe(from_uint8(np.concatenate(list(drawn(scene.generator, codes, base, plain)))))
    before, out, raises = read(plain), [], []
    for e in scene.edits:
        d = e.direction
        if d.method != "learned" or d.attribute not in ATTRIBUTES or not e.strength:
            out.append(e)
            continue
        column, target, gain, given = ATTRIBUTES.index(d.attribute), e.strength * UNIT_CHANGE, 1.0, None
        for step in range(CALIBRATION_STEPS + 1):
            codes = propagate(trajectory, keys, [replace(e, strength=e.strength * gain, schedule=None)], scene.path)
            reached = float((read(codes, None if by_tuned(e) else scene.base)[:, column] - before[:, column]).mean())
            given = reached if given is None else given
            if reached * target <= 0 or reached / target >= 0.9 or gain >= MAX_GAIN or step == CALIBRATION_STEPS:
                break
            gain = min(MAX_GAIN, gain * target / reached)
        out.append(replace(e, strength=e.strength * gain))
        raises.append(Raise(d.name, d.attribute, e.strength, round(gain, 3), given, reached, target))
    return tuple(out), tuple(raises)


# One object per mode, under the names of dynode.config.EDIT_MODES (the one list of them).
MODES: dict[str, EditMode] = {mode.name: mode for mode in (Auto(), Keyframe(), EditMode(), PerFrame(), Locked())}
