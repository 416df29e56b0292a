"""Command-line front end: parse, build a config, call a pipeline, map errors to exit code 2."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dynode.errors import DynodeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dynode: invert a video into a GAN's latent space, fit a neural ODE, and render it "
                       "at any frame rate, past its end, or edited consistently.")
err = Console(stderr=True)


@contextmanager
def _errors():
    """Turn dynode's errors into a one-line message and exit code 2."""
    try:
        yield
    except DynodeError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)


def _setup(device: str, seed: int) -> str:
    torch.manual_seed(seed)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextmanager
def _bar(description: str):
    """A rich progress bar; yields update(done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=None)

        def update(done, total, *_):
            bar.update(task, completed=done, total=total)

        yield update


def _rate(times) -> float:
    """Playback frame rate that spreads the rendered times over their real duration."""
    return (len(times) - 1) / max(float(times[-1] - times[0]), 1e-9)


DEVICE = typer.Option("cpu", help="torch device: cpu, cuda, cuda:1, or auto")
SEED = typer.Option(0, help="random seed")
PTI = typer.Option(False, help="pivotal tuning: fine-tune a copy of the generator on the video around its codes "
                               "(the weight delta is stored with the codes)")
PTI_STEPS = typer.Option(300, help="with --pti: tuning steps")
ALIGN = typer.Option(False, help="crop the face of each frame FFHQ-style first (needs the extra 'face')")
SIGMA = typer.Option(2.0, help="with --align: temporal smoothing of the face crop, in frames")
FULL_FRAME = typer.Option(False, help="paste the rendered face back into the whole picture (needs a video "
                                      "inverted with --align)")
MODE = typer.Option("exact", help="exact: through every observed frame (extrapolating from the last); "
                                  "initial: one solve from the first frame, as in the paper")


@app.command()
def demo(out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="output folder"),
         seed: int = typer.Option(7, help="seed of the toy-face video"),
         generator: str = typer.Option("toyfaces64", help="bundled generator name or model folder"),
         direction: str = typer.Option("hair_color", help="edit direction stored with the generator"),
         strength: float = typer.Option(2.0, help="edit strength"),
         subspace_dim: int = typer.Option(16, help="PCA components for the ODE (0: full space)"),
         device: str = DEVICE) -> None:
    """Run the whole pipeline on a toy-face video with ground truth and write videos + metrics.json."""
    from dynode.config import FitConfig
    from dynode.pipelines.demo import DemoConfig, run_demo
    with _errors():
        dev = _setup(device, seed)
        cfg = DemoConfig(seed=seed, generator=generator, direction=direction, strength=strength,
                         fit=FitConfig(subspace_dim=subspace_dim))
        metrics = run_demo(out, cfg, dev, log=lambda m: err.print(m, highlight=False))
        h = metrics["held_out_interpolation"]
        err.print(f"held-out PSNR: ODE {h['ode']['psnr']:.2f} dB, linear {h['linear']['psnr']:.2f} dB; "
                  f"total {metrics['total_seconds']:.0f} s; wrote {out}/", highlight=False)


@app.command()
def invert(video: Path = typer.Argument(..., help="video file or folder of images"),
           out: Path = typer.Option(..., "--out", "-o", help="latents artifact (.safetensors)"),
           generator: str = typer.Option("toyfaces64", help="bundled generator name or model folder"),
           space: str = typer.Option("w+", help="w+ or w"),
           steps: int = typer.Option(100, help="steps per frame after the first"),
           steps_first: int = typer.Option(300, help="steps for the first frame"),
           batch_size: int = typer.Option(4, help="frames optimised together"),
           perceptual_weight: float = typer.Option(0.0, help="weight of an ST-LPIPS term in the loss (about 3x slower)"),
           every: int = typer.Option(1, help="invert every n-th frame only"),
           resize: bool = typer.Option(False, help="centre-crop and resize frames to the generator's size"),
           align: bool = ALIGN, sigma: float = SIGMA, pti: bool = PTI, pti_steps: int = PTI_STEPS,
           device: str = DEVICE, seed: int = SEED) -> None:
    """Invert every frame of a video into the generator's latent space."""
    from dynode.config import InversionConfig, PTIConfig
    from dynode.pipelines import invert_video
    with _errors():
        dev = _setup(device, seed)
        cfg = InversionConfig(space=space, steps_first=steps_first, steps=steps, batch_size=batch_size,
                              perceptual_weight=perceptual_weight)
        with _bar("inverting") as update:
            seq = invert_video(video, generator, cfg, resize=resize, every=every, device=dev, progress=update,
                               align=align, sigma=sigma, log=err.print, pti=PTIConfig(steps=pti_steps) if pti else None)
        seq.save(out)
        tuned = f" (pivotal tuning: {seq.info['pti']['psnr_before']:.2f} dB before)" if pti else ""
        err.print(f"{len(seq)} frames, mean PSNR {seq.psnr.mean():.2f} dB{tuned} -> {out}", highlight=False)


@app.command("fit")
def fit_cmd(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"),
            out: Path = typer.Option(..., "--out", "-o", help="trajectory artifact (.safetensors)"),
            field: str = typer.Option("mlp", help="vector field: mlp, mlp_t, paper, cde"),
            solver: str = typer.Option("dopri5", help="dopri5 or rk4"),
            subspace_dim: int = typer.Option(16, help="PCA components of the video's latents (0: full space)"),
            iters: int = typer.Option(300, help="Adam iterations"),
            holdout: float = typer.Option(0.0, help="fraction of frames held out to pick the model and stop early"),
            adjoint: bool = typer.Option(False, help="adjoint back-propagation: memory constant in video length"),
            image_weight: float = typer.Option(0.0, help="add rendered-frame ST-LPIPS to the loss (needs --video)"),
            video: Optional[Path] = typer.Option(None, help="the video the latents were inverted from"),
            device: str = DEVICE, seed: int = SEED) -> None:
    """Fit a neural ODE (or CDE) to a latent sequence."""
    from dynode.config import FitConfig
    from dynode.pipelines import fit_sequence
    from dynode.types import LatentSequence
    with _errors():
        dev = _setup(device, seed)
        seq = LatentSequence.load(latents)
        config = FitConfig(field=field, solver=solver, subspace_dim=subspace_dim, iters=iters, holdout=holdout,
                           adjoint=adjoint, image_weight=image_weight, seed=seed)
        with _bar("fitting") as update:
            traj = fit_sequence(seq, config, video, dev, progress=update)
        traj.save(out)
        err.print(f"fitted in {traj.stats['seconds']:.1f} s, loss {traj.stats['best_loss']:.4g} -> {out}",
                  highlight=False)


def _parse_times(times: Optional[str]) -> Optional[list[float]]:
    if times is None:
        return None
    from dynode.errors import InputError
    try:
        return [float(x) for x in times.split(",")]
    except ValueError as e:
        raise InputError(f"--times must be comma-separated seconds, got {times!r}") from e


def _load_traj(path: Path, device: str, align: bool = False, generator: str = "toyfaces64", sigma: float = 2.0,
               steps: int = 100, steps_first: int = 300, iters: int = 300, pti: bool = False, pti_steps: int = 300):
    """A trajectory artifact, or a video taken through inversion and fitting first; and its generator."""
    from dynode.dynamics import Trajectory
    from dynode.generators import load_generator
    if path.suffix == ".safetensors":
        traj = Trajectory.load(path)
    else:
        from dynode.config import FitConfig, InversionConfig, PTIConfig
        from dynode.pipelines import fit_sequence, invert_video
        cfg = InversionConfig(steps=steps, steps_first=steps_first)
        with _bar("inverting") as update:
            seq = invert_video(path, generator, cfg, resize=not align, device=device, progress=update, align=align,
                               sigma=sigma, log=err.print, pti=PTIConfig(steps=pti_steps) if pti else None)
        err.print(f"{len(seq)} frames inverted, mean PSNR {seq.psnr.mean():.2f} dB", highlight=False)
        with _bar("fitting") as update:
            traj = fit_sequence(seq, FitConfig(iters=iters), progress=update)
    return traj, load_generator(traj.generator, device, traj.delta)


VIDEO_IN = {"generator": typer.Option("toyfaces64", help="for a video input: generator name or model folder"),
            "steps": typer.Option(100, help="for a video input: inversion steps per frame after the first"),
            "steps_first": typer.Option(300, help="for a video input: inversion steps for the first frame"),
            "iters": typer.Option(300, help="for a video input: fitting iterations")}


@app.command()
def interpolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`, or a video "
                                                           "(inverted and fitted first)"),
                out: Path = typer.Option(..., "--out", "-o", help="output video (.mp4 or .gif)"),
                factor: Optional[int] = typer.Option(None, help="multiply the observed frame rate"),
                fps: Optional[float] = typer.Option(None, help="render at this frame rate"),
                times: Optional[str] = typer.Option(None, help="explicit times in seconds, comma-separated"),
                out_fps: Optional[float] = typer.Option(None, help="playback rate of the file (default: the render rate)"),
                mode: str = MODE, full_frame: bool = FULL_FRAME, align: bool = ALIGN, sigma: float = SIGMA,
                generator: str = VIDEO_IN["generator"], steps: int = VIDEO_IN["steps"],
                steps_first: int = VIDEO_IN["steps_first"], iters: int = VIDEO_IN["iters"],
                pti: bool = PTI, pti_steps: int = PTI_STEPS, device: str = DEVICE) -> None:
    """Render the trajectory at any frame rate over the observed span (default 8x)."""
    from dynode.pipelines import interpolate_latents, render_stream, source_audio
    from dynode.io.video import write_frames
    with _errors():
        if factor is None and fps is None and times is None:
            factor = 8
        traj, gen = _load_traj(trajectory, _setup(device, 0), align, generator, sigma, steps, steps_first, iters, pti,
                               pti_steps)
        t, latents = interpolate_latents(traj, factor, fps, _parse_times(times), mode)
        rate = out_fps or fps or _rate(t)
        write_frames(out, render_stream(traj, gen, latents, t, full_frame), rate,
                     audio=source_audio(traj) if times is None and out_fps is None else None)
        err.print(f"{len(t)} frames at {rate:.2f} fps -> {out}", highlight=False)


@app.command()
def extrapolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"),
                out: Path = typer.Option(..., "--out", "-o", help="output video (.mp4 or .gif)"),
                seconds: float = typer.Option(1.0, help="how far past the last frame"),
                fps: float = typer.Option(16.0, help="render rate"),
                samples: int = typer.Option(0, help="show this many SDE futures side by side (0: the ODE's one)"),
                mode: str = MODE, device: str = DEVICE, seed: int = SEED) -> None:
    """Render from the first frame to SECONDS past the last one."""
    from dynode.pipelines import extrapolate_video
    from dynode.io.video import write_video
    with _errors():
        traj, gen = _load_traj(trajectory, _setup(device, 0))
        t, pixels = extrapolate_video(traj, gen, seconds, fps, mode, samples, seed)
        write_video(out, pixels, fps)
        err.print(f"{len(t)} frames up to t={float(t[-1]):.2f} s -> {out}", highlight=False)


@app.command()
def edit(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"),
         out: Path = typer.Option(..., "--out", "-o", help="output video (.mp4 or .gif)"),
         direction: Optional[List[str]] = typer.Option(None, "--direction", "-d",
                                                       help="direction name stored with the generator, or a file "
                                                            "(.safetensors[:NAME] or .npy); repeat to combine edits"),
         strength: Optional[List[float]] = typer.Option(None, "--strength", "-s",
                                                        help="strength in standard deviations of W along the "
                                                             "direction; one for all or one per --direction [2]"),
         mode: str = typer.Option("first-frame", help="first-frame: edit the first code, carry it by the ODE; "
                                                      "per-frame: add the edit to every code; paper: one solve "
                                                      "from the edited first code"),
         layers: Optional[str] = typer.Option(None, help="W+ layers to edit: coarse, middle, fine, 0-3, 1,4,5 "
                                                         "(default: the direction's own, usually all)"),
         condition: Optional[List[str]] = typer.Option(None, help="project this direction out of the edits so its "
                                                                  "attribute stays put (e.g. glasses); repeatable"),
         schedule: Optional[str] = typer.Option(None, help="fade the edits over time with time:weight keyframes, "
                                                           "e.g. 0:0,1:1,3:1,4:0"),
         motion: Optional[List[str]] = typer.Option(None, help="scale a motion component: pcK=GAIN (the video's "
                                                               "K-th principal motion) or DIRECTION=GAIN; "
                                                               "2 exaggerates, 0.5 damps"),
         factor: int = typer.Option(1, help="render at this multiple of the observed frame rate"),
         compare: bool = typer.Option(False, help="put the unedited video on the left"),
         full_frame: bool = FULL_FRAME, device: str = DEVICE) -> None:
    """Edit a fitted video: every frame inherits an edit of the first, through the ODE."""
    from dynode.errors import InputError
    from dynode.pipelines import edited_latents, make_edits, render_stream, render_times, source_audio
    from dynode.io.video import write_frames
    with _errors():
        if not direction and not motion:
            raise InputError("nothing to edit: give --direction and/or --motion")
        motion_edits = []
        for spec in motion or []:
            name, _, gain = spec.rpartition("=")
            try:
                motion_edits.append((name, float(gain)))
            except ValueError as e:
                raise InputError(f"--motion {spec!r}: expected COMPONENT=GAIN, e.g. pc0=2") from e
        traj, gen = _load_traj(trajectory, _setup(device, 0))
        edits = make_edits(traj, direction or [], strength or [2.0], layers, condition or [], schedule)
        t = render_times(traj.observed_times, factor=factor)
        frames = render_stream(traj, gen, edited_latents(traj, t, edits, mode, motion_edits), t, full_frame)
        if compare:
            plain = render_stream(traj, gen, traj.evaluate(t), t, full_frame)
            frames = (np.concatenate([a, b], axis=1) for a, b in zip(plain, frames))
        write_frames(out, frames, _rate(t), audio=source_audio(traj))
        err.print(f"{len(t)} edited frames -> {out}", highlight=False)


@app.command()
def render(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"),
           out: Path = typer.Option(..., "--out", "-o", help="output video (.mp4 or .gif)"),
           fps: Optional[float] = typer.Option(None, help="playback rate (default: from the frame times)"),
           device: str = DEVICE) -> None:
    """Render a latent sequence (e.g. the per-frame reconstruction)."""
    from dynode.generators import load_generator
    from dynode.io.video import write_video
    from dynode.render import render_pixels
    from dynode.types import LatentSequence
    with _errors():
        seq = LatentSequence.load(latents)
        gen = load_generator(seq.generator, _setup(device, 0), seq.delta)
        rate = fps or _rate(seq.times)
        write_video(out, render_pixels(gen, seq.latents), rate)
        err.print(f"{len(seq)} frames -> {out}", highlight=False)


@app.command()
def convert(checkpoint: Path = typer.Argument(..., help="rosinality StyleGAN2 .pt/.pth or NVlabs StyleGAN2-ADA .pkl"),
            out: Path = typer.Option(..., "--out", "-o", help="model folder to write (use it as --generator)"),
            lr_mlp: Optional[float] = typer.Option(None, help="mapping learning-rate multiplier the source was "
                                                              "trained with (default: from the file, else 0.01)"),
            samples: int = typer.Option(8, help="also write samples.png with this many samples (0: none)")) -> None:
    """Convert a foreign StyleGAN2 checkpoint into a dynode model folder (no code from the file is run)."""
    from dynode.io.convert import convert_checkpoint
    from dynode.io.checkpoints import save_model
    from dynode.io.images import save_grid
    with _errors():
        model, source = convert_checkpoint(checkpoint, lr_mlp)
        save_model(out, model, "stylegan2", model.config.to_dict(), {"converted_from": source})
        if samples > 0:
            z = torch.randn(samples, model.w_dim, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                save_grid(out / "samples.png", model(z, truncation=0.7, randomize_noise=False), ncol=min(samples, 8))
        err.print(f"{source['format']} checkpoint, {model.resolution}x{model.resolution}, w_dim {model.w_dim}, "
                  f"{model.num_ws} W+ layers -> {out}", highlight=False)


@app.command("toy-video")
def toy_video(out: Path = typer.Option(..., "--out", "-o", help="output video (.mp4 or .gif)"),
              seed: int = typer.Option(0, help="identity and motion seed"),
              seconds: float = typer.Option(4.0, help="duration"),
              fps: float = typer.Option(16.0, help="frame rate"),
              resolution: int = typer.Option(64, help="frame size in pixels")) -> None:
    """Render a toy-face video (ground truth known at any time) to try dynode on."""
    from dynode.data.toyfaces import ToyFaceVideo
    from dynode.io.images import to_uint8
    from dynode.io.video import write_video
    from dynode.pipelines import future_times
    with _errors():
        t = future_times(0.0, seconds - 1 / fps, fps, include_start=True)
        write_video(out, to_uint8(ToyFaceVideo(seed).render(t, resolution)), fps)
        err.print(f"{len(t)} frames -> {out}", highlight=False)


@app.command("train-gan")
def train_gan(out: Path = typer.Option(Path("runs/toyfaces64"), "--out", "-o", help="run folder"),
              kimg: float = typer.Option(100.0, help="train until this many thousand images"),
              minutes: Optional[float] = typer.Option(None, help="stop after this wall time"),
              resume: Optional[Path] = typer.Option(None, help="state.pt of a run to continue"),
              batch: int = typer.Option(8, help="batch size"),
              lr: float = typer.Option(0.002, help="Adam learning rate of G (D's is scaled for lazy R1)"),
              augment: str = typer.Option("", help="DiffAugment policy, e.g. color,translation,cutout"),
              pl_weight: float = typer.Option(0.0, help="path-length regulariser weight (0 = off)"),
              device: str = DEVICE, seed: int = SEED) -> None:
    """Train a StyleGAN2 on the toy-face world (resumable; exports the EMA model to OUT/export).

    A resumed run keeps its architecture and optimiser state and takes the hyper-parameters
    given here.
    """
    from dynode.generators.train import TrainConfig, train
    with _errors():
        dev = _setup(device, seed)
        config = TrainConfig(kimg=kimg, batch=batch, lr=lr, augment=augment, pl_weight=pl_weight, seed=seed)
        with _bar("training (kimg)") as update:
            result = train(config, out, resume, minutes, dev,
                           progress=lambda done, total, stats: update(done, total))
        err.print(f"{result.kimg:.1f} kimg in {result.seconds / 60:.1f} min ({result.images_per_second:.1f} img/s) "
                  f"-> {out}/export", highlight=False)


@app.command("train-attributes")
def train_attributes(out: Path = typer.Option(..., "--out", "-o", help="model folder"),
                     steps: int = typer.Option(2500, help="training steps"), seed: int = SEED) -> None:
    """Train the toy-face attribute probe (used to find edit directions and to measure edits)."""
    from dynode.metrics.attributes import save_regressor, train_regressor
    with _errors():
        _setup("cpu", seed)
        with _bar("training probe") as update:
            model, stats = train_regressor(steps=steps, seed=seed, progress=update)
        save_regressor(out, model, stats)
        err.print(json.dumps(stats["heldout_mae"]), highlight=False)


directions_app = typer.Typer(no_args_is_help=True, help="List, find and show edit directions.")
app.add_typer(directions_app, name="directions")
GENERATOR = typer.Option("toyfaces64", help="generator name or model folder")


@directions_app.command("list")
def directions_list(generator: str = GENERATOR) -> None:
    """List the directions stored with a generator: name, method, attribute, layers, sigma."""
    from dynode.edit import library_path, load_library
    with _errors():
        found = load_library(generator)
        if not found:
            err.print(f"no directions stored with {generator!r} ({library_path(generator)}); "
                      "find some with `dynode directions fit`", highlight=False)
            return
        for d in found.values():
            layers = "all" if d.layers is None else ",".join(map(str, d.layers))
            shape = "x".join(map(str, d.vector.shape))
            print(f"{d.name:14s} {d.method:12s} {d.attribute or '-':15s} layers {layers:10s} sigma {d.sigma:.3f}  "
                  f"{shape}  {json.dumps(d.info)}")


@directions_app.command("fit")
def directions_fit(method: str = typer.Option("interfacegan", help="interfacegan (labelled by the toy-face "
                                                                   "probe), sefa, ganspace or user"),
                   generator: str = GENERATOR,
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="directions file (default: the "
                                                                                "generator's own library)"),
                   count: int = typer.Option(5, help="sefa/ganspace: how many directions"),
                   layers: Optional[str] = typer.Option(None, help="W+ layers the directions act on: coarse, "
                                                                   "middle, fine, 0-3... (default all)"),
                   samples: int = typer.Option(4000, help="interfacegan: labelled samples; others: samples "
                                                          "that measure each direction's spread"),
                   vector: Optional[Path] = typer.Option(None, help="user: a .npy vector (w_dim,) or "
                                                                    "(num_ws, w_dim)"),
                   name: Optional[str] = typer.Option(None, help="user: the direction's name"),
                   seed: int = SEED) -> None:
    """Find directions and add them to a directions file (replacing those of the same names)."""
    from dynode.edit import library_path, parse_layers
    from dynode.edit.directions import add_to_library
    from dynode.edit.find import ganspace, interfacegan, sefa, user_direction
    from dynode.errors import InputError
    from dynode.generators import generator_id, load_generator
    with _errors():
        _setup("cpu", seed)
        gen = load_generator(generator)
        gid = generator_id(generator)
        chosen = parse_layers(layers, gen.num_ws)
        if method == "interfacegan":
            from dynode.metrics.attributes import load_regressor
            found = [d.on_layers(chosen) for d in interfacegan(gen, load_regressor(), samples, seed, gid)]
        elif method in ("sefa", "ganspace"):
            found = (sefa if method == "sefa" else ganspace)(gen, count, chosen, gid, max(samples, 1000), seed)
        elif method == "user":
            if vector is None or not name:
                raise InputError("--method user needs --vector FILE.npy and --name NAME")
            try:
                v = torch.from_numpy(np.load(vector, allow_pickle=False)).float()
            except (OSError, ValueError) as e:
                raise InputError(f"--vector {vector}: unreadable ({e})") from e
            found = [user_direction(name, v, gen, chosen, None, gid, max(samples, 1000), seed)]
        else:
            raise InputError(f"unknown method {method!r}; valid: interfacegan, sefa, ganspace, user")
        path = add_to_library(out or library_path(generator), found)
        for d in found:
            err.print(f"{d.name}: sigma {d.sigma:.3f} {json.dumps(d.info)}", highlight=False, soft_wrap=True)
        err.print(f"{len(found)} directions -> {path}", highlight=False)


@directions_app.command("show")
def directions_show(names: Optional[List[str]] = typer.Argument(None, help="directions (default: all stored)"),
                    out: Path = typer.Option(..., "--out", "-o", help="PNG strip: a row per direction"),
                    generator: str = GENERATOR,
                    latents: Optional[Path] = typer.Option(None, help="edit this latents artifact's first frame "
                                                                      "instead of a random face"),
                    strengths: str = typer.Option("-3,-2,-1,0,1,2,3", help="columns, comma-separated"),
                    scale: int = typer.Option(2, help="pixel magnification of the PNG"),
                    seed: int = SEED) -> None:
    """Draw each direction at strengths -3..+3 from one face."""
    from dynode.edit import get_direction, load_library
    from dynode.errors import InputError
    from dynode.generators import load_generator
    from dynode.io.images import save_grid
    from dynode.pipelines import direction_strip
    from dynode.types import LatentSequence
    with _errors():
        _setup("cpu", seed)
        try:
            columns = [float(x) for x in strengths.split(",")]
        except ValueError as e:
            raise InputError(f"--strengths must be comma-separated numbers, got {strengths!r}") from e
        delta = None
        if latents is not None:
            seq = LatentSequence.load(latents)
            generator, start, delta = seq.generator, seq.latents[0], seq.delta
        gen = load_generator(generator, delta=delta)
        if latents is None:
            z = torch.randn(1, gen.w_dim, generator=torch.Generator().manual_seed(seed))
            start = gen.mapping(z, truncation=0.7)[0].expand(gen.num_ws, -1)
        names = names or list(load_library(generator))
        if not names:
            raise InputError(f"no directions stored with {generator!r} and none named")
        dirs = [get_direction(n, generator, (gen.num_ws, gen.w_dim)) for n in names]
        save_grid(out, direction_strip(gen, dirs, start, columns), ncol=len(columns), scale=scale)
        err.print(f"{len(dirs)} directions x {len(columns)} strengths ({', '.join(names)}) -> {out}",
                  highlight=False)


if __name__ == "__main__":
    app()
