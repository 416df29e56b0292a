"""Editing a fitted video, one way through: the user's spec made into edits, each fitted span planned by its
edit mode (:mod:`dynode.edit.modes`: the edited codes and the pixel step), then every span drawn once by the
renderer and composed over the video.

    VideoPipeline.edit -> edit_clip: make_edits -> plan (per span, the mode's Drawing)
                       -> Renderer.edited (per span) -> spans.compose
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import torch

from dynode.config import FIDELITIES, EditSpec, check_choice
from dynode.dynamics import PATHS, Trajectory
from dynode.edit import Direction, Edit, Schedule, motion_component, parse_layers, scale_motion
from dynode.edit.modes import MODES, Drawing, Scene
from dynode.edit.motion import is_component
from dynode.errors import InputError
from dynode.pipelines.clip import Clip
from dynode.pipelines.models import Models
from dynode.pipelines.renderer import Renderer


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


def all_edits(models: Models, spec: EditSpec, edits: Iterable[Edit], motion: list) -> list[Edit]:
    """The spec's edits (see :func:`make_edits`) and the ``Edit`` objects given beside it.

    Raises:
        InputError: a spec that is not an EditSpec, or neither edits nor ``motion``.
    """
    if not isinstance(spec, EditSpec):
        raise InputError(f"edit(): the first argument is an EditSpec (directions by name, and how edits propagate), "
                         f"not {type(spec).__name__}; give Edit objects as edits=[...]")
    out = make_edits(models, spec) + list(edits)
    if not out and not motion:
        raise InputError("nothing to edit: give a direction and/or a motion edit")
    return out


def motion_edits(models: Models, motion) -> list[tuple[str | Direction, float]]:
    """(component, gain) pairs with every direction named by a string loaded ("pcK" stays a component)."""
    return [(c if is_component(c) or isinstance(c, Direction) else models.direction(c), gain) for c, gain in motion]


def plan(models: Models, trajectory: Trajectory, t: torch.Tensor, edits: list[Edit], motion: list, spec: EditSpec,
         path: str, detail: bool, log: Callable[[str], None]) -> Drawing:
    """One span's drawing at ``t``: its motion edits applied to the dynamics, then its edit mode's plan
    (see :mod:`dynode.edit.modes`); what a locked edit could not hold is logged as a warning."""
    for component, gain in motion:
        trajectory = scale_motion(trajectory, motion_component(trajectory, component), gain)
    # On a generator tuned to the video, the edit's change is the untuned generator's (its directions' own).
    scene = Scene(trajectory, t, tuple(edits), spec, models.generator, models.base if spec.base_change else None,
                  models.probe, path, detail)
    drawing = MODES[spec.propagation].plan(scene)
    for report in drawing.reports:
        if report.unheld:
            log(f"warning: {report.summary()}")
    return drawing


def edit_clip(renderer: Renderer, models: Models, spec: EditSpec, edits: Iterable[Edit], motion: Iterable, path: str,
              t: torch.Tensor, audio: Path | None, compare: bool, full_frame: bool, fidelity: str) -> Clip:
    """The video edited at ``t``, each span from its own first frame (see
    :meth:`dynode.pipelines.VideoPipeline.edit`, which checks the trajectories and makes ``t``)."""
    motion = motion_edits(models, motion)
    edits = all_edits(models, spec, edits, motion)
    check_choice("path of an edit (it rides on the fitted dynamics)", path, PATHS)
    check_choice("fidelity", fidelity, FIDELITIES)
    pieces = renderer.pieces(t)
    clips = [None if p.part is None else
             renderer.edited(p.part, plan(models, p.part.trajectory, p.distinct, edits, motion, spec, path,
                                          fidelity == "detail", renderer.log), p.distinct, fidelity)
             for p in pieces]
    clip = renderer.compose(t, pieces, clips, full_frame, audio=audio)
    return renderer.spans_along(t, path, fidelity, full_frame, audio=audio).beside(clip) if compare else clip
