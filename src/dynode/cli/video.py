"""The video commands: demo, invert, fit, interpolate, extrapolate, edit, render, toy-video."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
import typer

from dynode.cli.common import (DEVICE, EDIT_PATH, FIDELITY, FIDELITY_LATENT, FULL_FRAME, GENERATOR, ITERS, OUT_VIDEO,
                               PATH, PER_STRETCH, SEED, SUBSPACE_DIM, O, _bar, _device, _errors, _numbers, _read_options, _run_spec,
                               _stage_bars, app, say)
from dynode.config import DetailConfig, EditSpec, Extrapolation, FitConfig, Interpolation, LockConfig, SolverConfig
from dynode.dynamics import FIT_FIELDS, field_for
from dynode.errors import InputError, StorageError
from dynode.io.checkpoints import save_latents


def _run(video: Path, device: str, read: dict, partial: Optional[Path] = None, **spec):
    """:func:`dynode.pipelines.run.run` on a video with the READ options (and other RunSpec fields in
    ``spec``), progress bars on; with ``partial`` the inversion's progress is kept there, and
    Ctrl-C says how to resume. Returns the RunResult."""
    from dynode.pipelines.run import run
    try:
        with _stage_bars() as update:
            result = run(video, _run_spec(**read, **spec), device=device, progress=update, log=say, partial=partial)
    except (KeyboardInterrupt, StorageError) as e:
        kept = f"the frames done so far are kept in {partial}; run the same command again to continue" \
            if partial is not None and partial.is_file() else "nothing was kept"
        if isinstance(e, StorageError):
            say(f"error: {e}; {kept}")
            raise typer.Exit(2)
        say(f"interrupted: {kept}")
        raise typer.Exit(130)
    say(result.summary())
    return result


@app.command()
def demo(out: Path = O(Path("demo_out"), "--out", "-o", help="output folder"),
         seed: int = O(7, help="seed of the toy-face video"), generator: str = GENERATOR,
         direction: str = O("hair_color", help="edit direction stored with the generator"),
         strength: float = O(2.0, help="edit strength"),
         subspace_dim: int = SUBSPACE_DIM, device: str = DEVICE) -> None:
    """Run the whole pipeline on a toy-face video with ground truth and write videos + metrics.json."""
    from dynode.pipelines.demo import DemoConfig, run_demo
    with _errors():
        cfg = DemoConfig(seed=seed, generator=generator, direction=direction, strength=strength,
                         fit=FitConfig(subspace_dim=subspace_dim))
        metrics = run_demo(out, cfg, _device(device, seed), log=say)
        say(metrics.edit_line())
        say(metrics.shape_line())
        say(f"{metrics.headline()}; total {metrics.total_seconds:.0f} s; wrote {out}/")


@app.command()
@_read_options
def invert(video: Path = typer.Argument(..., help="video file or folder of images"),
           out: Path = O(..., "--out", "-o", help="latents artifact (.safetensors)"),
           device: str = DEVICE, seed: int = SEED, read: dict = None) -> None:
    """Invert every frame of a video into the generator's latent space: by default its encoder's codes, with
    the generator tuned to the whole video (--steps N optimises each frame instead)."""
    with _errors():
        result = _run(video, _device(device, seed), read, out.with_suffix(".partial.safetensors"), invert_only=True)
        save_latents(out, result.pipeline.sequence)
        say(f"-> {out}")


@app.command("fit")
def fit_cmd(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"),
            out: Path = O(..., "--out", "-o", help="trajectory artifact (.safetensors)"),
            field: str = O(FitConfig().field, help=f"vector field: {', '.join(FIT_FIELDS)} (prior: the generator's "
                                                     "motion prior conditioned on the video)"),
            solver: str = O(SolverConfig().method, help="dopri5 or rk4"),
            subspace_dim: int = SUBSPACE_DIM, iters: int = ITERS,
            refine: int = O(FitConfig().refine, help="field prior: Adam steps refining it on this video (0: conditioned "
                                                     "only)"),
            refine_ahead: int = O(FitConfig().refine_ahead, help="field prior: Adam steps of a refinement that moves "
                                                                 "the path past the end where a backtest on the video "
                                                                 "says it forecasts better (0: never)"),
            holdout: float = O(FitConfig().holdout, help="per-video field: fraction of frames held out to pick the "
                                                         "model and stop early"),
            adjoint: bool = O(FitConfig().adjoint, help="per-video field: adjoint back-propagation, memory constant "
                                                        "in video length"),
            image_weight: float = O(FitConfig().image_weight, help="per-video field: add rendered-frame ST-LPIPS to "
                                                                   "the loss (reads the source video)"),
            device: str = DEVICE, seed: int = SEED) -> None:
    """Condition the generator's motion prior on a latent sequence (where it has one), or fit a per-video neural
    ODE or CDE to it (--field mlp, cde, ...)."""
    with _errors():
        config = FitConfig(field=field, solver=SolverConfig(method=solver), subspace_dim=subspace_dim, iters=iters,
                           refine=refine, refine_ahead=refine_ahead, holdout=holdout, adjoint=adjoint, image_weight=image_weight, seed=seed)
        pipe = _pipeline(latents, _device(device, seed), verb="fit")
        # A per-video field is a small MLP: thread hand-offs cost more than they save (measured ~4x on 2 cores).
        if field_for(config, pipe.models.prior) != "prior":
            torch.set_num_threads(1)
        with _bar("fitting") as update:
            pipe = pipe.fit(config, update)
        pipe.save_trajectory(out)
        say(f"{pipe.fit_summary()} -> {out}")


def _pipeline(path: Path, device: str, read: dict | None = None, iters: int = ITERS.default, verb: str = "",
              per_stretch: bool = False):
    """A pipeline from an artifact; from a video, inverted with the READ options ``read`` and fitted, for
    a command that takes them (a command without them refuses a video: no silent default inversion);
    ``auto`` choosing per stretch with ``per_stretch``."""
    from dynode.pipelines import VideoPipeline
    if per_stretch:
        return _pipeline(path, device, read, iters, verb).with_detail(DetailConfig(per_stretch=True))
    if path.suffix == ".safetensors":
        return VideoPipeline.from_artifacts(path, device, log=say)
    if read is None:
        raise InputError(f"{path}: `dynode {verb}` takes an artifact (.safetensors), not a video; invert and fit "
                         f"it first (`dynode invert {path} -o codes.safetensors`, then `dynode fit codes.safetensors "
                         "-o traj.safetensors`), or give it to `dynode interpolate`, which takes the reading options")
    return _run(path, device, read, fit=FitConfig(iters=iters)).pipeline


@app.command()
@_read_options
def interpolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`, or a video "
                                                           "(inverted and fitted first)"),
                out: Path = OUT_VIDEO, factor: Optional[int] = O(None, help="multiply the observed frame rate"),
                fps: Optional[float] = O(None, help="render at this frame rate"),
                times: Optional[str] = O(None, help="explicit times in seconds, comma-separated"),
                out_fps: Optional[float] = O(None, help="playback rate of the file (default: the render rate; "
                                                         "with --slowdown: the source video's rate); the audio is "
                                                         "stretched to fit, its pitch kept"),
                slowdown: Optional[float] = O(None, help="slow motion: the video N times longer, rendered at N x "
                                                         "--out-fps and played at --out-fps, the audio stretched"),
                path: str = PATH, per_stretch: bool = PER_STRETCH, full_frame: bool = FULL_FRAME,
                fidelity: str = FIDELITY,
                iters: int = O(ITERS.default, help="for a video input: fitting iterations of a per-video field "
                                                                   "(the motion prior ignores it)"),
                device: str = DEVICE, seed: int = SEED, read: dict = None) -> None:
    """Render the video over its observed span at 8x its frame rate, its duration kept (the video's
    detail along the spline of its codes); --slowdown N makes it N times longer instead."""
    with _errors():
        request = Interpolation(factor=factor, fps=fps, times=_numbers(times, "--times"), slowdown=slowdown,
                                out_fps=out_fps, path=path, full_frame=full_frame, fidelity=fidelity)
        clip = _pipeline(trajectory, _device(device, seed), read, iters, per_stretch=per_stretch).interpolate(request)
        clip.write(out)
        sound = "" if clip.audio is None else \
            " with the source's audio" + (f" stretched {clip.audio_stretch:.3g}x" if clip.audio_stretch != 1 else "")
        say(f"{len(clip)} frames at {clip.fps:.2f} fps ({len(clip) / clip.fps:.2f} s){sound} -> {out}")


@app.command()
def extrapolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"),
                out: Path = OUT_VIDEO, seconds: float = O(1.0, help="how far past the last frame"),
                fps: Optional[float] = O(None, help="render rate (default: the video's own)"),
                samples: int = O(0, help="show this many SDE futures side by side (0: the ODE's one)"),
                path: str = PATH, per_stretch: bool = PER_STRETCH, fidelity: str = FIDELITY, device: str = DEVICE,
                seed: int = SEED) -> None:
    """Render from the first frame to SECONDS past the last one (the fitted dynamics' forecast, by default with
    the video's detail)."""
    with _errors():
        request = Extrapolation(seconds=seconds, fps=fps, path=path, samples=samples, seed=seed, fidelity=fidelity)
        clip = _pipeline(trajectory, _device(device), verb="extrapolate", per_stretch=per_stretch).extrapolate(request)
        clip.write(out)
        say(f"{len(clip)} frames up to t={float(clip.times[-1]):.2f} s -> {out}")


@app.command()
def edit(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"), out: Path = OUT_VIDEO,
         direction: Optional[List[str]] = O(None, "--direction", "-d", help="direction name stored with the "
                                            "generator, or a file (.safetensors[:NAME] or .npy); repeatable"),
         strength: Optional[List[float]] = O(None, "--strength", "-s", help="strength: tenths of the attribute's "
                                             "range for a learned direction (the library's named edits), standard "
                                             "deviations of W for others; one for all or one per --direction [2]"),
         propagation: str = O(EditSpec.propagation, help="auto: every frame renders its own edit, added to "
                                                         "every code, raised to its strength's amount "
                                                         "where the probe reads it, and a colour edit's look is held "
                                                         "from the keyframe along the video's motion; keyframe: the "
                                                         "first frame's edit, its look held on "
                                                         "every frame along the video's motion and kept in its "
                                                         "region; first-frame: edit the first code, carry it by "
                                                         "the ODE; per-frame: add the edit to every code; locked: "
                                                         "the carried edit with its effect held at the first "
                                                         "frame's on every frame"),
         keyframe: Optional[List[float]] = O(None, "--keyframe", help="keyframe propagation: a time (s) whose edit "
                                                                      "is held on the frames nearest it (default: "
                                                                      "the first frame); repeatable"),
         response: str = O(LockConfig().response, help="locked: how an edit's effect is measured: pixels (the "
                                                        "size of the picture change, any generator), projection (on "
                                                        "the first frame's change), probe (the generator's attribute "
                                                        "probe) or auto (the probe where it reads the direction's "
                                                        "attribute, else pixels)"),
         target: Optional[float] = O(None, help="locked with --response probe: reach this attribute value (0-1) "
                                                "on every frame"),
         path: str = EDIT_PATH,
         layers: Optional[str] = O(None, help="W+ layers to edit: coarse, middle, fine, 0-3, 1,4,5 "
                                              "(default: the direction's own, usually all)"),
         condition: Optional[List[str]] = O(None, help="project this direction out of the edits so its attribute "
                                                       "stays put (e.g. glasses); repeatable"),
         auto_condition: bool = O(False, help="project out every library direction of another attribute"),
         steady: float = O(EditSpec.steady, help="average the edit's change over neighbouring frames along the "
                                                 "motion, 0-1 (0: off)"),
         schedule: Optional[str] = O(None, help="fade the edits over time with time:weight keyframes, e.g. "
                                                "0:0,1:1,3:1,4:0"),
         motion: Optional[List[str]] = O(None, help="scale a motion component: pcK=GAIN (the video's K-th "
                                                    "principal motion) or DIRECTION=GAIN; 2 exaggerates"),
         factor: int = O(1, help="render at this multiple of the observed frame rate"),
         compare: bool = O(False, help="put the unedited video on the left"),
         full_frame: bool = FULL_FRAME, fidelity: str = FIDELITY_LATENT, device: str = DEVICE) -> None:
    """Edit a fitted video: every frame draws its own edit, added to its code and raised to its strength's amount,
    and a colour edit's look is held from the keyframe (--propagation chooses another way)."""
    with _errors():
        from dynode.edit import parse_motion
        if not direction and not motion:
            raise InputError("nothing to edit: give --direction and/or --motion")
        spec = EditSpec(directions=tuple(direction or ()), strengths=tuple(strength or EditSpec().strengths),
                        propagation=propagation, layers=layers, conditions=tuple(condition or ()), schedule=schedule,
                        lock=LockConfig(response=response, target=target), auto_condition=auto_condition,
                        steady=steady, keyframes=tuple(keyframe or ()),
                        motion=tuple(parse_motion(m) for m in motion or []), path=path, factor=factor,
                        compare=compare, full_frame=full_frame, fidelity=fidelity)
        clip = _pipeline(trajectory, _device(device), verb="edit").edit(spec)
        clip.write(out)
        say(f"{len(clip)} edited frames -> {out}")


@app.command()
def render(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"), out: Path = OUT_VIDEO,
           fps: Optional[float] = O(None, help="playback rate (default: from the frame times)"),
           fidelity: str = FIDELITY_LATENT, device: str = DEVICE) -> None:
    """Render a latent sequence (e.g. the per-frame reconstruction)."""
    with _errors():
        clip = _pipeline(latents, _device(device), verb="render").reconstruction(fps, fidelity)
        clip.write(out)
        say(f"{len(clip)} frames -> {out}")


@app.command("toy-video")
def toy_video(out: Path = OUT_VIDEO, seed: int = O(0, help="identity and motion seed"),
              seconds: float = O(4.0, help="duration"), fps: float = O(16.0, help="frame rate"),
              resolution: int = O(64, help="frame size in pixels"),
              cuts: Optional[str] = O(None, help="times (s, comma-separated) where the video cuts to another "
                                                 "face and motion (seeds seed+1, seed+2...)")) -> None:
    """Render a toy-face video (ground truth known at any time) to try dynode on."""
    from dynode.data.toyfaces import write_toy_video
    with _errors():
        frames = write_toy_video(out, seed, seconds, fps, resolution, tuple(_numbers(cuts, "--cuts") or ()))
        say(f"{frames} frames -> {out}")


@app.command()
def plot(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"),
         out: Path = O(..., "--out", "-o", help="figure (.png, .pdf or .svg)"),
         seconds: float = O(1.0, help="how far past the last frame to draw the futures"),
         samples: int = O(16, help="SDE futures drawn past the end (0: none)"), seed: int = SEED) -> None:
    """Draw the latent path in its top two principal components, with baselines and SDE futures."""
    from dynode.plots import trajectory_figure
    with _errors():
        if seconds < 0 or samples < 0:
            raise InputError(f"--seconds and --samples must be >= 0, got {seconds}, {samples}")
        trajectory_figure(_pipeline(trajectory, "cpu", verb="plot").trajectories("a plot"), out, seconds, samples, seed)
        say(f"-> {out}")
