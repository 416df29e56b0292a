"""The demo: a toy-face video with known ground truth through the whole pipeline, measured.

A toy-face video is rendered at ``fps``; only every ``keep_every``-th frame of the first
``seconds`` is given to dynode (inverted, then fitted with the ODE). The held-out frames in
between and the ``future`` seconds after are predicted at their exact times and compared with
the ground-truth renders, for the ODE and for linear latent interpolation / constant-velocity
extrapolation from the same inverted codes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dynode.baselines import constant_velocity, flow_interpolate, linear
from dynode.config import (DEFAULT_GENERATOR, DEFAULT_PATH, EDIT_FIDELITY, EDIT_MODES, RENDER_FIDELITY, EditSpec,
                           FitConfig, InversionConfig, _Config, check_choice)
from dynode.data.toyfaces import ToyFaceVideo
from dynode.dynamics import EDIT_PATH, save_trajectory
from dynode.edit import Edit
from dynode.edit.directions import EDITABLE
from dynode.errors import InputError
from dynode.io.checkpoints import atomic_path, save_latents
from dynode.io.images import from_uint8, save_grid, to_uint8
from dynode.io.video import write_video
from dynode.metrics import psnr, ssim
from dynode.metrics.appearance import Look, edit_look
from dynode.metrics.attributes import ATTRIBUTES
from dynode.pipelines.clip import side_by_side
from dynode.pipelines.models import Models
from dynode.pipelines.video import VideoPipeline
from dynode.plots import attribute_figure, trajectory_figure
from dynode.times import Stopwatch, frame_times
from dynode.types import Frames


@dataclass(frozen=True)
class DemoConfig(_Config):
    """The demo's video (toy-face ``seed`` at ``fps``: ``seconds`` observed, one in ``keep_every``
    frames given to dynode, ``future`` seconds after), render ``factor`` and edits: a colour
    (``direction``, in every mode) and a shape (``shape_direction``, in the default mode), both at
    ``strength``."""

    seed: int = 7
    fps: float = 16.0
    seconds: float = 4.0
    future: float = 1.0
    keep_every: int = 4
    factor: int = 8
    generator: str = DEFAULT_GENERATOR
    direction: str = "hair_color"
    strength: float = 2.0
    shape_direction: str = "smile"
    inversion: InversionConfig = field(default_factory=InversionConfig)
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self):
        if not (self.fps > 0 and self.seconds > 0 and self.future >= 0 and self.keep_every >= 1 and self.factor >= 1):
            raise InputError(f"DemoConfig: need fps, seconds > 0, future >= 0, keep_every, factor >= 1; got "
                             f"{self.to_dict()}")


@dataclass(frozen=True)
class Scores:
    """PSNR (dB) and SSIM of predicted frames against the ground truth."""

    psnr: float
    ssim: float


@dataclass(frozen=True)
class VideoFacts:
    """The demo's video: its seed and rate, frames in all, given to dynode, held out and after its end."""

    seed: int
    fps: float
    frames: int
    observed: int
    held_out: int
    future: int
    resolution: int


@dataclass(frozen=True)
class ReconstructionFacts:
    """The inverted frames' PSNR (dB) and the inversion's time per frame."""

    psnr_mean: float
    psnr_min: float
    seconds_per_frame: float


@dataclass(frozen=True)
class HeldOut:
    """Held-out in-between frames: dynode's default output (the video's detail along the default
    path), the fitted path (exact, initial, with detail), linear latent interpolation of the same
    codes, and DIS optical flow between the frames given."""

    default: Scores
    ode: Scores
    ode_initial: Scores
    ode_detail: Scores
    linear: Scores
    dis_flow: Scores


@dataclass(frozen=True)
class Future:
    """Frames after the last one given: the fitted path, with detail, and constant velocity in latent space."""

    ode: Scores
    ode_detail: Scores
    constant_velocity: Scores


@dataclass(frozen=True)
class EditChange:
    """An edit mode's output: the probe's change of the edited attribute over frames, and what a viewer
    sees (:func:`dynode.metrics.appearance.edit_look`, on the region the first-frame edit changes)."""

    attribute_change_mean: float
    attribute_change_std: float
    look: Look


@dataclass(frozen=True)
class ShapeEdit:
    """A shape edit in the default mode: the probe's change of its attribute over frames (mean, std) and
    the share of frames where it reaches 0.1 of the attribute's range the intended way."""

    direction: str
    strength: float
    mode: str
    attribute_change_mean: float
    attribute_change_std: float
    reached: float


@dataclass(frozen=True)
class EditMetrics:
    direction: str
    strength: float
    auto: EditChange
    keyframe: EditChange
    ode: EditChange
    per_frame: EditChange
    locked: EditChange


@dataclass(frozen=True)
class FitFacts:
    """The ODE fit: the kept field's loss and iteration, the subspace it lives in, the wall time."""

    best_loss: float
    best_iteration: int
    subspace_dim: int
    seconds: float


@dataclass(frozen=True)
class DemoMetrics:
    """Everything the demo measured (written as ``metrics.json``)."""

    video: VideoFacts
    reconstruction: ReconstructionFacts
    held_out_interpolation: HeldOut
    extrapolation: Future
    extrapolation_first_4: Future
    edit: EditMetrics
    shape_edit: ShapeEdit
    fit: FitFacts
    stage_seconds: dict
    total_seconds: float
    interpolation_method: str = ""

    def headline(self) -> str:
        """One line: the default output (the path with the video's detail) and the latent path
        alone, each against linear interpolation and DIS flow, on the held-out frames."""
        h = self.held_out_interpolation
        return (f"held-out PSNR: dynode {h.default.psnr:.2f} dB (the default, path {DEFAULT_PATH}: "
                f"{self.interpolation_method.split(' (')[0]}), the dynamics' latent path {h.ode.psnr:.2f} dB; linear "
                f"{h.linear.psnr:.2f} dB, DIS flow {h.dis_flow.psnr:.2f} dB")

    def edit_line(self) -> str:
        """One line: the edit's colour drift per mode against the unedited video's, in Delta-E."""
        e = self.edit
        modes = ", ".join(f"{name} {m.look.colour_drift:.1f}" for name, m in
                          (("auto", e.auto), ("keyframe", e.keyframe), ("first-frame", e.ode),
                           ("per-frame", e.per_frame), ("locked", e.locked)))
        return f"edit {e.direction} {e.strength:+g}: colour drift {modes} (unedited {e.ode.look.unedited_drift:.1f})"

    def shape_line(self) -> str:
        """One line: the shape edit's change of its attribute, as the probe reads it."""
        s = self.shape_edit
        return (f"edit {s.direction} {s.strength:+g} ({s.mode}, the default): probe change "
                f"{s.attribute_change_mean:+.2f} +- {s.attribute_change_std:.2f}, at least 0.1 on {s.reached:.0%} of frames")

    def to_dict(self) -> dict:
        return asdict(self)


def _scores(pred: np.ndarray, truth: torch.Tensor) -> Scores:
    x = from_uint8(pred)
    return Scores(round(float(psnr(x, truth).mean()), 3), round(float(ssim(x, truth).mean()), 4))


@dataclass(frozen=True)
class _Truth:
    """The demo video on its full grid: times (N,), frames (float and uint8), and which frames are kept,
    held out between the kept ones, and past the last kept one."""

    times: torch.Tensor
    frames: torch.Tensor
    pixels: np.ndarray
    kept: torch.Tensor
    held: torch.Tensor
    future: torch.Tensor


def _truth(config: DemoConfig, resolution: int) -> _Truth:
    t_all = frame_times(config.seconds + config.future, config.fps)
    truth = ToyFaceVideo(config.seed).render(t_all, resolution)
    in_span = t_all <= config.seconds - 1 / config.fps + 1e-9
    kept = torch.nonzero(in_span).flatten()[::config.keep_every]
    last = float(t_all[kept[-1]])
    kept_set = set(kept.tolist())
    held = torch.tensor([i for i in range(len(t_all)) if t_all[i] < last and i not in kept_set])
    return _Truth(t_all, truth, to_uint8(truth), kept, held, torch.nonzero(t_all > last).flatten())


def _models(config: DemoConfig, device: str) -> Models:
    """The demo's generator bundle, checked to have the directions it edits and a probe to read them."""
    models = Models.from_pretrained(config.generator, device)
    editable = sorted(set(EDITABLE) & set(models.directions))
    check_choice("demo direction", config.direction, tuple(editable))
    check_choice("demo shape direction", config.shape_direction, tuple(editable))
    if models.probe is None:
        raise InputError(f"the demo reads its edit with the generator's attribute probe, and generator "
                         f"{models.record.label} has none")
    return models


def _interpolations(pipe: VideoPipeline, truth: _Truth, observed: Frames) -> tuple[dict[str, np.ndarray], torch.Tensor]:
    """The renders the demo scores, and the indices of the kept span: on the full grid, the exact path
    ("plain", one solve and one render that serve the held-out, future, edit and comparison outputs), the
    paper's single solve from the first frame ("initial") and the video's detail along the exact path
    ("detail"); on the held-out frames, what `dynode interpolate` gives by default ("default") and DIS
    flow between the kept frames ("flow"); over the kept span, the linear interpolation of the codes."""
    t, seq = truth.times, pipe.sequence
    span = torch.nonzero(t <= float(t[truth.kept[-1]])).flatten()
    return {"plain": pipe.interpolate(times=t, path=EDIT_PATH, fidelity=EDIT_FIDELITY).numpy(),
            "initial": pipe.interpolate(times=t, path="initial", fidelity=EDIT_FIDELITY).numpy(),
            "detail": pipe.interpolate(times=t, path=EDIT_PATH, fidelity=RENDER_FIDELITY).numpy(),
            "default": pipe.interpolate(times=t[truth.held], fidelity=RENDER_FIDELITY).numpy(),
            "linear": pipe.render(linear(seq.times, seq.latents, t[span]), t[span]).numpy(),
            "flow": flow_interpolate(observed.pixels, observed.times, t[truth.held])}, span


def _scored(truth: _Truth, px: dict[str, np.ndarray], cv_future: np.ndarray) -> tuple[HeldOut, Future, Future]:
    """The renders scored against the truth: on the held-out frames, over the future, and its first 4 frames."""
    gt, held, future = truth.frames, truth.held, truth.future
    first4 = future[:4]
    return (HeldOut(_scores(px["default"], gt[held]), _scores(px["plain"][held], gt[held]),
                    _scores(px["initial"][held], gt[held]), _scores(px["detail"][held], gt[held]),
                    _scores(px["linear"][held], gt[held]), _scores(px["flow"], gt[held])),
            Future(_scores(px["plain"][future], gt[future]), _scores(px["detail"][future], gt[future]),
                   _scores(cv_future, gt[future])),
            Future(_scores(px["plain"][first4], gt[first4]), _scores(px["detail"][first4], gt[first4]),
                   _scores(cv_future[:4], gt[first4])))


def _edit_modes(pipe: VideoPipeline, config: DemoConfig, truth: _Truth, plain_px: np.ndarray,
                out: Path) -> dict[str, np.ndarray]:
    """The colour edit in every mode on the full grid (auto, keyframe, first-frame, per-frame, locked),
    written side by side and as a strip (a row per mode, 6 times a row)."""
    edit = [Edit(pipe.direction(config.direction), config.strength)]
    pxs = {mode: pipe.edit(EditSpec(propagation=mode), edits=edit, times=truth.times).numpy()
           for mode in EDIT_MODES}
    write_video(out / f"edit_{config.direction}.mp4", side_by_side(plain_px, *pxs.values(), gap=2), config.fps)
    cols = np.linspace(0, len(truth.times) - 1, 6).round().astype(int)
    save_grid(out / f"edit_{config.direction}_strip.png",
              from_uint8(np.concatenate([px[cols] for px in (plain_px, *pxs.values())])), ncol=len(cols), scale=3)
    return pxs


def _teaser(pipe: VideoPipeline, config: DemoConfig, truth: _Truth, shape_px: np.ndarray, colour_px: np.ndarray,
            out: Path) -> None:
    """The README's picture: two kept intervals at the video's rate; rows: what dynode is given (the kept
    frames, blank between), what it renders between them, the shape and the colour edit on the same frames."""
    first = np.arange(2 * config.keep_every + 1)
    given = np.where(np.isin(first, truth.kept.numpy())[:, None, None, None], truth.pixels[first],
                     255).astype(np.uint8)
    rendered = pipe.interpolate(times=truth.times[first]).numpy()
    save_grid(out / "teaser.png", from_uint8(np.concatenate([given, rendered, shape_px[first], colour_px[first]])),
              ncol=len(first), scale=2)


def _edit_metrics(probe, config: DemoConfig, plain_px: np.ndarray, modes: dict[str, np.ndarray],
                  shape_px: np.ndarray) -> tuple[EditMetrics, ShapeEdit, dict[str, torch.Tensor]]:
    """The probe's reading of the colour edit in every mode (its look on one region: where the edit made on
    the first code changes the first frame) and of the shape edit, and each mode's change per frame."""
    attr = ATTRIBUTES.index(EDITABLE[config.direction])
    edit_metrics, changes = {}, {}
    region = modes["first-frame"][0].astype(np.float32) - plain_px[0].astype(np.float32)
    names = {"auto": "auto", "keyframe": "keyframe", "first-frame": "ode", "per-frame": "per_frame", "locked": "locked"}
    with torch.no_grad():
        read_plain = probe(from_uint8(plain_px))  # every attribute of the unedited frames, read once
        unedited = read_plain[:, attr]
        for mode, px in modes.items():
            changes[mode] = delta = probe(from_uint8(px))[:, attr] - unedited
            edit_metrics[names[mode]] = EditChange(round(float(delta.mean()), 4), round(float(delta.std()), 4),
                                                   edit_look(plain_px, px, region))
        shape_attr = ATTRIBUTES.index(EDITABLE[config.shape_direction])
        shape_change = probe(from_uint8(shape_px))[:, shape_attr] - read_plain[:, shape_attr]
        shape_change = shape_change * np.sign(config.strength)
    shape_edit = ShapeEdit(config.shape_direction, config.strength, EditSpec().propagation,
                           round(float(shape_change.mean()), 4), round(float(shape_change.std()), 4),
                           round(float((shape_change >= 0.1).float().mean()), 4))
    return EditMetrics(config.direction, config.strength, **edit_metrics), shape_edit, changes


def run_demo(out_dir: str | Path = "demo_out", config: DemoConfig = DemoConfig(), device: str = "cpu",
             log: Callable[[str], None] = print) -> DemoMetrics:
    """Run the demo and write videos and ``metrics.json`` to ``out_dir``; returns the metrics.

    Raises:
        InputError: a direction the generator's library lacks or its probe cannot read, or a
            generator without an attribute probe. CheckpointError: an unknown generator.
    """
    models = _models(config, device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    watch = Stopwatch()

    def stage(name):
        log(f"{name}: {watch.lap(name):.1f} s")

    truth = _truth(config, models.generator.resolution)
    t_all, held, future = truth.times, truth.held, truth.future
    write_video(out / "input.mp4", truth.pixels, config.fps)
    stage("load_and_render_input")

    observed_fps = config.fps / config.keep_every
    observed = Frames(truth.pixels[truth.kept.numpy()], t_all[truth.kept], observed_fps)
    pipe = VideoPipeline.from_frames(observed, models, config.inversion, fit=None, log=log)
    seq = pipe.sequence
    save_latents(out / "latents.safetensors", seq)
    write_video(out / "reconstruction.mp4", side_by_side(observed.pixels, pipe.reconstruction().numpy(), gap=2),
                observed_fps)
    stage("invert")

    pipe = pipe.fit(config.fit)
    traj = pipe.trajectory
    save_trajectory(out / "trajectory.safetensors", traj)
    stage("fit")

    pipe.interpolate(factor=config.factor).write(out / f"interpolation_{config.factor}x.mp4")
    px, span = _interpolations(pipe, truth, observed)
    plain_px, lin_px = px["plain"], px["linear"]
    stage("interpolate")

    cv_future = pipe.render(constant_velocity(seq.times, seq.latents, t_all[future]), t_all[future]).numpy()
    write_video(out / "extrapolation.mp4", plain_px, config.fps)
    stage("extrapolate")

    modes = _edit_modes(pipe, config, truth, plain_px, out)
    stage("edit")

    shape_px = pipe.edit(edits=[Edit(pipe.direction(config.shape_direction), config.strength)], times=t_all).numpy()
    write_video(out / f"edit_{config.shape_direction}.mp4", side_by_side(plain_px, shape_px, gap=2), config.fps)
    _teaser(pipe, config, truth, shape_px, modes["auto"], out)
    stage("edit_shape")

    write_video(out / "comparison.mp4", side_by_side(truth.pixels[span], plain_px[span], lin_px, gap=2), config.fps)
    stage("comparison_video")

    edit_metrics, shape_edit, changes = _edit_metrics(models.probe, config, plain_px, modes, shape_px)
    attribute_figure(t_all, changes, out / f"edit_{config.direction}.png",
                     f"probe change of {EDITABLE[config.direction]}", f"{config.direction} {config.strength:+g}")
    trajectory_figure(traj, out / "trajectory.png", future=config.future, seed=config.seed)
    stage("plots")

    metrics = DemoMetrics(
        VideoFacts(config.seed, config.fps, len(t_all), len(truth.kept), len(held), len(future),
                   models.generator.resolution),
        ReconstructionFacts(round(float(seq.psnr.mean()), 3), round(float(seq.psnr.min()), 3),
                            round(seq.stats.seconds_per_frame, 3)),
        *_scored(truth, px, cv_future), edit_metrics, shape_edit,
        FitFacts(traj.stats.best_loss, traj.stats.best_iteration, traj.stats.subspace_dim, traj.stats.seconds),
        {k: round(v, 3) for k, v in watch.seconds.items()}, round(sum(watch.seconds.values()), 3),
        pipe.choices()[0].describe())
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics.to_dict(), indent=2))
    return metrics
