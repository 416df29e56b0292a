"""Editing a fitted video: edits made from a user's spec, and each part edited as the spec says (motion
edits on its dynamics, then the edits propagated, locked or held from keyframes, rendered).

The modes (``EditSpec.propagation``): "auto" (the default: every frame renders its own edit, carried
by the fitted dynamics from the first code, and the look of the colour edits' change on the keyframes
is held along the video's motion on top, in its region), "keyframe" (the first-frame edit with the look
of its whole change on the keyframes held along the video's motion and kept in its region,
:mod:`dynode.edit.keyframe`), "first-frame" (the edit made on the first code, carried by the fitted
dynamics, :func:`dynode.edit.propagate`), "per-frame" (added to every code), "locked" (the carried edit
with a per-frame gain holding its effect at the first frame's, :mod:`dynode.edit.lock`; what it
cannot hold is logged as a warning). ``EditSpec.steady`` averages the edit's change along the
unedited renders' motion where no look is held (:mod:`dynode.edit.steady`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from dynode.config import EditSpec, check_choice
from dynode.dynamics import PATHS
from dynode.edit import Direction, Edit, Schedule, motion_component, parse_layers, propagate, scale_motion
from dynode.edit.keyframe import Keyframes
from dynode.edit.lock import lock
from dynode.edit.motion import is_component
from dynode.errors import InputError
from dynode.pipelines.clip import Clip
from dynode.pipelines.models import Models
from dynode.pipelines.renderer import Renderer, drawn
from dynode.pipelines.spans import Part


def make_edits(models: Models, spec: EditSpec) -> list[Edit]:
    """Edits from a user's spec: its directions (names or files) at their strengths, on its W+ layers
    (overriding the directions' own), conditioned on its conditions (and with ``auto_condition`` on the
    library's directions of other attributes), on its schedule.

    Raises:
        InputError: anything :meth:`Models.direction`, :func:`parse_layers` or :meth:`Schedule.parse` refuses.
    """
    others = [models.direction(c) for c in spec.conditions]
    chosen = parse_layers(spec.layers, models.generator.num_ws) if spec.layers is not None else None
    schedule = Schedule.parse(spec.schedule) if spec.schedule else None
    edits = []
    for name, strength in spec.pairs():
        d = models.direction(name)
        d = d.conditioned(others + (models.other_attributes(d) if spec.auto_condition else []))
        edits.append(Edit(d.on_layers(chosen) if spec.layers is not None else d, strength, schedule))
    return edits


def resolve_edits(models: Models, edits: EditSpec | Iterable[Edit], spec: EditSpec | None,
                  motion: list = ()) -> tuple[list[Edit], EditSpec]:
    """The edits and the spec that says how they propagate: an EditSpec's own directions and settings,
    or ``Edit`` objects with ``spec`` (default ``EditSpec()``).

    Raises:
        InputError: an EditSpec with a second ``spec``, or neither edits nor ``motion``.
    """
    if isinstance(edits, EditSpec):
        if spec is not None:
            raise InputError("edit(): the EditSpec of the edits says how they propagate; give no second spec")
        edits, spec = make_edits(models, edits), edits
    edits = list(edits)
    if not edits and not motion:
        raise InputError("nothing to edit: give a direction and/or a motion edit")
    return edits, spec if spec is not None else EditSpec()


def motion_edits(models: Models, motion) -> list[tuple[str | Direction, float]]:
    """(component, gain) pairs with every direction named by a string loaded ("pcK" stays a component)."""
    return [(c if is_component(c) or isinstance(c, Direction) else models.direction(c), gain) for c, gain in motion]


def edited_part(renderer: Renderer, models: Models, part: Part, t: torch.Tensor, edits: list[Edit], motion: list,
                spec: EditSpec, path: str, fidelity: str, log: Callable[[str], None]) -> Clip:
    """One part edited at ``t`` as ``spec`` says (see :meth:`dynode.pipelines.VideoPipeline.edit`)."""
    generator, propagation = renderer.generator, spec.propagation
    moved = part.trajectory
    for component, gain in motion:
        moved = scale_motion(moved, motion_component(moved, component), gain)
    # The edits whose keyframe look is held (all in keyframe mode, the colour edits in auto); the others are
    # drawn anew on every frame, under the held look.
    held = [e for e in edits if propagation == "keyframe" or (propagation == "auto" and e.direction.appearance)]
    anew = [e for e in edits if not any(e is h for h in held)]
    keyed = bool(held)
    # On a generator tuned to the video, the edit's change is the untuned generator's (its directions' own).
    base = models.base if spec.base_change and edits else None
    smoothed = fidelity == "detail" or bool(spec.steady and edits)
    plain = moved.evaluate(t, path=path) if base is not None or keyed or smoothed else None
    unedited = plain if base is not None else None
    if keyed:
        geometry = propagate(moved, t, anew, "first-frame", path) if anew else plain
    else:
        geometry = plain if smoothed else None
    reports, keys, weights = (), None, None
    if propagation == "locked":
        probe = models.probe if spec.lock.response in ("auto", "probe") else None
        codes, reports = lock(moved, base or generator, t, edits, path, spec.lock, probe)
        for report in reports:
            if report.unheld:
                log(f"warning: {report.summary()}")
    else:
        codes = propagate(moved, t, edits, "first-frame" if propagation in ("keyframe", "auto") else propagation,
                          path)
    if keyed:
        observed = moved.observed_times
        chosen = [k for k in spec.keyframes if float(observed[0]) <= k <= float(observed[-1])]
        kt = torch.tensor(chosen or [float(observed[0])], dtype=torch.float64)
        whole = [replace(e, schedule=None) for e in edits]  # the keyframe's look at full strength
        under = [replace(e, schedule=None) for e in anew]
        at_keys = moved.evaluate(kt, path=path)
        draw = lambda codes: np.concatenate(list(drawn(generator, codes, base, at_keys)))  # noqa: E731
        keys = Keyframes(kt.numpy(), draw(propagate(moved, kt, under, "first-frame", path) if under else at_keys),
                         draw(propagate(moved, kt, whole, "first-frame", path)))
        weights = torch.stack([e.weights(t) for e in held]).mean(0)
    clip = renderer.crops(part, codes, t, fidelity, geometry, spec.steady if edits else 0.0, keys, weights, base,
                          unedited)
    return replace(clip, reports=tuple(reports))


def edit_clip(renderer: Renderer, models: Models, edits: EditSpec | Iterable[Edit], motion: Iterable,
              spec: EditSpec | None, path: str, t: torch.Tensor, audio: Path | None, compare: bool, full_frame: bool,
              fidelity: str) -> Clip:
    """The video edited at ``t``, each span from its own first frame (see
    :meth:`dynode.pipelines.VideoPipeline.edit`, which checks the trajectories and makes ``t``)."""
    motion = motion_edits(models, motion)
    edits, spec = resolve_edits(models, edits, spec, motion)
    check_choice("path of an edit (it rides on the fitted dynamics)", path, PATHS)
    clip = renderer.compose(t, lambda part, u, last: edited_part(renderer, models, part, u, edits, motion, spec,
                                                                 path, fidelity, renderer.log),
                            full_frame, audio=audio, fidelity=fidelity)
    return renderer.spans_along(t, path, fidelity, full_frame, audio=audio).beside(clip) if compare else clip
