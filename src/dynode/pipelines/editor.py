"""Editing a fitted video, one way through: the user's spec made into edits, each fitted span planned by its
edit mode (:mod:`dynode.edit.modes`: the edited codes and the pixel step), then every span drawn once by the
renderer and composed over the video.

    VideoPipeline.edit -> edit_clip: make_edits -> plan (per span, the mode's Drawing)
                       -> Renderer.edited (per span) -> spans.compose
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from dynode.config import EditSpec
from dynode.dynamics import Trajectory
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


def motion_edits(models: Models, spec: EditSpec) -> list[tuple[str | Direction, float]]:
    """The spec's motion edits as (component, gain) pairs, every direction loaded ("pcK" stays a component)."""
    return [(c if is_component(c) else models.direction(c), gain) for c, gain in spec.motion]


def plan(models: Models, trajectory: Trajectory, t: torch.Tensor, edits: list[Edit], motion: list, spec: EditSpec,
         log: Callable[[str], None]) -> Drawing:
    """One span's drawing at ``t``: its motion edits applied to the dynamics, then its edit mode's plan
    (see :mod:`dynode.edit.modes`). Its reports are logged (how a locked edit was held, how the default set
    each learned edit's strength), what a lock could not hold or an edit that stays short as a warning."""
    for component, gain in motion:
        trajectory = scale_motion(trajectory, motion_component(trajectory, component), gain)
    # On a generator tuned to the video, the edit's change is the untuned generator's (its directions' own).
    scene = Scene(trajectory, t, tuple(edits), spec, models.generator, models.base if spec.base_change else None,
                  models.probe, spec.path, spec.fidelity == "detail")
    drawing = MODES[spec.propagation].plan(scene)
    for report in drawing.reports:
        log(f"{'warning: ' if report.warning else ''}{report.summary()}")
    return drawing


def edit_clip(renderer: Renderer, models: Models, spec: EditSpec, edits: list[Edit], t: torch.Tensor,
              audio: Path | None) -> Clip:
    """The video edited as ``spec`` says at ``t``, with the ``Edit`` objects given beside the spec's own, each
    span from its own first frame (see :meth:`dynode.pipelines.VideoPipeline.edit`, which checks the
    trajectories and makes ``t``).

    Raises:
        InputError: nothing to edit, or a direction or motion component that cannot be had.
    """
    motion = motion_edits(models, spec)
    edits = make_edits(models, spec) + edits
    if not edits and not motion:
        raise InputError("nothing to edit: give a direction and/or a motion edit")
    pieces = renderer.pieces(t)
    clips = [None if p.part is None else
             renderer.edited(p.part, plan(models, p.part.trajectory, p.distinct, edits, motion, spec, renderer.log),
                             p.distinct, spec.fidelity)
             for p in pieces]
    clip = renderer.compose(t, pieces, clips, spec.full_frame, audio=audio)
    return renderer.spans_along(t, spec.path, spec.fidelity, spec.full_frame, audio=audio).beside(clip) \
        if spec.compare else clip
