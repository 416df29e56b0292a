"""Command-line front end: parse arguments, build configs, call the pipeline, map errors to exit code 2."""

from __future__ import annotations

import functools
import inspect
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dynode.errors import DynodeError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dynode: invert a video into a GAN's latent space, fit a neural ODE, and render it "
                       "at any frame rate, past its end, or edited consistently.")
err = Console(stderr=True)


def say(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


@contextmanager
def _errors():
    """Turn dynode's errors into a one-line message and exit code 2."""
    try:
        yield
    except DynodeError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)


def _device(device: str, seed: int = 0) -> str:
    torch.manual_seed(seed)
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


@contextmanager
def _bar(description: str):
    """A rich progress bar; yields update(done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total, *_: bar.update(task, completed=done, total=total)


def _numbers(text: Optional[str], flag: str) -> Optional[list[float]]:
    try:
        return None if text is None else [float(x) for x in text.split(",")]
    except ValueError as e:
        raise InputError(f"{flag} must be comma-separated numbers, got {text!r}") from e


O = typer.Option
DEVICE, SEED = O("cpu", help="torch device: cpu, cuda, cuda:1, or auto"), O(0, help="random seed")
GENERATOR = O("toyfaces64", help="bundled generator name or model folder")
OUT_VIDEO = O(..., "--out", "-o", help="output video (.mp4 or .gif)")
PATH = O("exact", "--path", help="the latent path: exact (through every observed frame; extrapolating from the "
                                 "last) or initial (one solve from the first frame, as in the paper)")
FULL_FRAME = O(False, help="paste the rendered face back into the whole picture (codes of a video inverted "
                           "with --align)")
# How a video is read and inverted: the same options wherever a command takes a video.
READ = dict(generator=GENERATOR, space=O("w+", help="w+ or w"),
            steps=O(100, help="inversion steps per frame after the first"),
            steps_first=O(300, help="inversion steps for the first frame"),
            batch_size=O(4, help="frames optimised together"),
            perceptual_weight=O(0.0, help="weight of an ST-LPIPS term in the loss (about 3x slower)"),
            every=O(1, help="invert every n-th frame only"),
            resize=O(False, help="centre-crop and resize frames to the generator's size"),
            align=O(False, help="crop the face of each frame FFHQ-style first (needs the extra 'face')"),
            sigma=O(2.0, help="with --align: temporal smoothing of the face crop, in frames"),
            pti=O(False, help="pivotal tuning: fine-tune a copy of the generator on the video around its codes "
                              "(the weight delta is stored with the codes)"),
            pti_steps=O(300, help="with --pti: tuning steps"))


def _read_options(command):
    """Give ``command`` the READ options; they reach it gathered in its ``read`` dict."""
    signature = inspect.signature(command, eval_str=True)
    extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v, annotation=type(v.default))
             for k, v in READ.items()]

    @functools.wraps(command)
    def run(**kwargs):
        return command(**{k: v for k, v in kwargs.items() if k not in READ}, read={k: kwargs[k] for k in READ})
    run.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "read"]
                                          + extra)
    run.__annotations__ = {k: p.annotation for k, p in run.__signature__.parameters.items()}
    return run


def _invert(video: Path, fit, device: str, generator: str, space: str, steps: int, steps_first: int,
            batch_size: int, perceptual_weight: float, every: int, resize: bool, align: bool, sigma: float,
            pti: bool, pti_steps: int):
    """A pipeline from a video with the READ options (fitted with ``fit`` unless it is None)."""
    from dynode.config import InversionConfig, PTIConfig, ReadConfig
    from dynode.pipelines import VideoPipeline
    inversion = InversionConfig(space=space, steps_first=steps_first, steps=steps, batch_size=batch_size,
                                perceptual_weight=perceptual_weight)
    with _bar("inverting") as update:
        pipe = VideoPipeline.from_video(video, generator, ReadConfig(every, resize, align, sigma), inversion,
                                        PTIConfig(steps=pti_steps) if pti else None, None, device, update, say)
    seq = pipe.sequence
    tuned = f" (pivotal tuning: {seq.info['pti']['psnr_before']:.2f} dB before)" if pti else ""
    say(f"{len(seq)} frames inverted, mean PSNR {seq.psnr.mean():.2f} dB{tuned}")
    if fit is not None:
        with _bar("fitting") as update:
            pipe.fit(fit, update)
        say(f"fitted in {pipe.trajectory.stats['seconds']:.1f} s, loss {pipe.trajectory.stats['best_loss']:.4g}")
    return pipe


@app.command()
def demo(out: Path = O(Path("demo_out"), "--out", "-o", help="output folder"),
         seed: int = O(7, help="seed of the toy-face video"), generator: str = GENERATOR,
         direction: str = O("hair_color", help="edit direction stored with the generator"),
         strength: float = O(2.0, help="edit strength"),
         subspace_dim: int = O(16, help="PCA components for the ODE (0: full space)"), device: str = DEVICE) -> None:
    """Run the whole pipeline on a toy-face video with ground truth and write videos + metrics.json."""
    from dynode.config import FitConfig
    from dynode.pipelines.demo import DemoConfig, run_demo
    with _errors():
        cfg = DemoConfig(seed=seed, generator=generator, direction=direction, strength=strength,
                         fit=FitConfig(subspace_dim=subspace_dim))
        metrics = run_demo(out, cfg, _device(device, seed), log=say)
        h = metrics["held_out_interpolation"]
        say(f"held-out PSNR: ODE {h['ode']['psnr']:.2f} dB, linear {h['linear']['psnr']:.2f} dB; "
            f"total {metrics['total_seconds']:.0f} s; wrote {out}/")


@app.command()
@_read_options
def invert(video: Path = typer.Argument(..., help="video file or folder of images"),
           out: Path = O(..., "--out", "-o", help="latents artifact (.safetensors)"),
           device: str = DEVICE, seed: int = SEED, read: dict = None) -> None:
    """Invert every frame of a video into the generator's latent space."""
    with _errors():
        pipe = _invert(video, None, _device(device, seed), **read)
        pipe.sequence.save(out)
        say(f"-> {out}")


@app.command("fit")
def fit_cmd(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"),
            out: Path = O(..., "--out", "-o", help="trajectory artifact (.safetensors)"),
            field: str = O("mlp", help="vector field: mlp, mlp_t, paper, cde"),
            solver: str = O("dopri5", help="dopri5 or rk4"),
            subspace_dim: int = O(16, help="PCA components of the video's latents (0: full space)"),
            iters: int = O(300, help="Adam iterations"),
            holdout: float = O(0.0, help="fraction of frames held out to pick the model and stop early"),
            adjoint: bool = O(False, help="adjoint back-propagation: memory constant in video length"),
            image_weight: float = O(0.0, help="add rendered-frame ST-LPIPS to the loss (reads the source video)"),
            device: str = DEVICE, seed: int = SEED) -> None:
    """Fit a neural ODE (or CDE) to a latent sequence."""
    from dynode.config import FitConfig, SolverConfig
    from dynode.pipelines import VideoPipeline
    with _errors():
        config = FitConfig(field=field, solver=SolverConfig(method=solver), subspace_dim=subspace_dim, iters=iters,
                           holdout=holdout, adjoint=adjoint, image_weight=image_weight, seed=seed)
        pipe = VideoPipeline.from_artifacts(latents, _device(device, seed), log=say)
        with _bar("fitting") as update:
            traj = pipe.fit(config, update).trajectory
        traj.save(out)
        say(f"fitted in {traj.stats['seconds']:.1f} s, loss {traj.stats['best_loss']:.4g} -> {out}")


def _pipeline(path: Path, device: str, read: dict | None = None, iters: int = 300):
    """A pipeline from an artifact, or from a video inverted (READ options) and fitted first."""
    from dynode.config import FitConfig
    from dynode.pipelines import VideoPipeline
    if path.suffix == ".safetensors":
        return VideoPipeline.from_artifacts(path, device, log=say)
    return _invert(path, FitConfig(iters=iters), device, **(read or {}))


@app.command()
@_read_options
def interpolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`, or a video "
                                                           "(inverted and fitted first)"),
                out: Path = OUT_VIDEO, factor: Optional[int] = O(None, help="multiply the observed frame rate"),
                fps: Optional[float] = O(None, help="render at this frame rate"),
                times: Optional[str] = O(None, help="explicit times in seconds, comma-separated"),
                out_fps: Optional[float] = O(None, help="playback rate of the file (default: the render rate)"),
                path: str = PATH, full_frame: bool = FULL_FRAME,
                iters: int = O(300, help="for a video input: fitting iterations"),
                device: str = DEVICE, seed: int = SEED, read: dict = None) -> None:
    """Render the trajectory at any frame rate over the observed span (default 8x)."""
    with _errors():
        pipe = _pipeline(trajectory, _device(device, seed), read, iters)
        clip = pipe.interpolate(factor, fps, _numbers(times, "--times"), path, full_frame)
        clip = clip.at_rate(out_fps) if out_fps else clip
        clip.write(out)
        say(f"{len(clip)} frames at {clip.fps:.2f} fps -> {out}")


@app.command()
def extrapolate(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"),
                out: Path = OUT_VIDEO, seconds: float = O(1.0, help="how far past the last frame"),
                fps: float = O(16.0, help="render rate"),
                samples: int = O(0, help="show this many SDE futures side by side (0: the ODE's one)"),
                path: str = PATH, device: str = DEVICE, seed: int = SEED) -> None:
    """Render from the first frame to SECONDS past the last one."""
    with _errors():
        clip = _pipeline(trajectory, _device(device)).extrapolate(seconds, fps, path, samples, seed)
        clip.write(out)
        say(f"{len(clip)} frames up to t={float(clip.times[-1]):.2f} s -> {out}")


@app.command()
def edit(trajectory: Path = typer.Argument(..., help="trajectory artifact from `dynode fit`"), out: Path = OUT_VIDEO,
         direction: Optional[List[str]] = O(None, "--direction", "-d", help="direction name stored with the "
                                            "generator, or a file (.safetensors[:NAME] or .npy); repeatable"),
         strength: Optional[List[float]] = O(None, "--strength", "-s", help="strength in standard deviations of W "
                                             "along the direction; one for all or one per --direction [2]"),
         propagation: str = O("first-frame", help="first-frame: edit the first code, carry it by the ODE; "
                                                  "per-frame: add the edit to every code"),
         path: str = PATH,
         layers: Optional[str] = O(None, help="W+ layers to edit: coarse, middle, fine, 0-3, 1,4,5 "
                                              "(default: the direction's own, usually all)"),
         condition: Optional[List[str]] = O(None, help="project this direction out of the edits so its attribute "
                                                       "stays put (e.g. glasses); repeatable"),
         schedule: Optional[str] = O(None, help="fade the edits over time with time:weight keyframes, e.g. "
                                                "0:0,1:1,3:1,4:0"),
         motion: Optional[List[str]] = O(None, help="scale a motion component: pcK=GAIN (the video's K-th "
                                                    "principal motion) or DIRECTION=GAIN; 2 exaggerates"),
         factor: int = O(1, help="render at this multiple of the observed frame rate"),
         compare: bool = O(False, help="put the unedited video on the left"),
         full_frame: bool = FULL_FRAME, device: str = DEVICE) -> None:
    """Edit a fitted video: every frame inherits an edit of the first, through the ODE."""
    with _errors():
        if not direction and not motion:
            raise InputError("nothing to edit: give --direction and/or --motion")
        moves = [spec.rpartition("=") for spec in motion or []]
        bad = [f"{name}{eq}{gain}" for name, eq, gain in moves if not name or _numbers(gain, "--motion") is None]
        if bad:
            raise InputError(f"--motion {bad[0]!r}: expected COMPONENT=GAIN, e.g. pc0=2")
        pipe = _pipeline(trajectory, _device(device))
        edits = pipe.make_edits(direction or [], strength or [2.0], layers, condition or [], schedule)
        clip = pipe.edit(edits, [(name, float(gain)) for name, _, gain in moves], propagation, path, factor,
                         compare=compare, full_frame=full_frame)
        clip.write(out)
        say(f"{len(clip)} edited frames -> {out}")


@app.command()
def render(latents: Path = typer.Argument(..., help="latents artifact from `dynode invert`"), out: Path = OUT_VIDEO,
           fps: Optional[float] = O(None, help="playback rate (default: from the frame times)"),
           device: str = DEVICE) -> None:
    """Render a latent sequence (e.g. the per-frame reconstruction)."""
    with _errors():
        clip = _pipeline(latents, _device(device)).reconstruction(fps)
        clip.write(out)
        say(f"{len(clip)} frames -> {out}")


@app.command()
def convert(checkpoint: Path = typer.Argument(..., help="rosinality StyleGAN2 .pt/.pth or NVlabs StyleGAN2-ADA .pkl"),
            out: Path = O(..., "--out", "-o", help="model folder to write (use it as --generator)"),
            lr_mlp: Optional[float] = O(None, help="mapping learning-rate multiplier the source was trained with "
                                                   "(default: from the file, else 0.01)"),
            samples: int = O(8, help="also write samples.png with this many samples (0: none)")) -> None:
    """Convert a foreign StyleGAN2 checkpoint into a dynode model folder (no code from the file is run)."""
    from dynode.io.convert import write_converted
    with _errors():
        model, source = write_converted(checkpoint, out, lr_mlp, samples)
        say(f"{source['format']} checkpoint, {model.resolution}x{model.resolution}, w_dim {model.w_dim}, "
            f"{model.num_ws} W+ layers -> {out}")


@app.command("toy-video")
def toy_video(out: Path = OUT_VIDEO, seed: int = O(0, help="identity and motion seed"),
              seconds: float = O(4.0, help="duration"), fps: float = O(16.0, help="frame rate"),
              resolution: int = O(64, help="frame size in pixels")) -> None:
    """Render a toy-face video (ground truth known at any time) to try dynode on."""
    from dynode.data.toyfaces import write_toy_video
    with _errors():
        say(f"{write_toy_video(out, seed, seconds, fps, resolution)} frames -> {out}")


@app.command("train-gan")
def train_gan(out: Path = O(Path("runs/toyfaces64"), "--out", "-o", help="run folder"),
              kimg: float = O(100.0, help="train until this many thousand images"),
              minutes: Optional[float] = O(None, help="stop after this wall time"),
              resume: Optional[Path] = O(None, help="state.pt of a run to continue"),
              batch: int = O(8, help="batch size"), lr: float = O(0.002, help="Adam learning rate of G"),
              augment: str = O("", help="DiffAugment policy, e.g. color,translation,cutout"),
              pl_weight: float = O(0.0, help="path-length regulariser weight (0 = off)"),
              device: str = DEVICE, seed: int = SEED) -> None:
    """Train a StyleGAN2 on the toy-face world (resumable; exports the EMA model to OUT/export).

    A resumed run keeps its architecture and optimiser state and takes the hyper-parameters given here.
    """
    from dynode.generators.train import TrainConfig, train
    with _errors():
        config = TrainConfig(kimg=kimg, batch=batch, lr=lr, augment=augment, pl_weight=pl_weight, seed=seed)
        with _bar("training (kimg)") as update:
            result = train(config, out, resume, minutes, _device(device, seed), progress=update)
        say(f"{result.kimg:.1f} kimg in {result.seconds / 60:.1f} min ({result.images_per_second:.1f} img/s) "
            f"-> {out}/export")


@app.command("train-attributes")
def train_attributes(out: Path = O(..., "--out", "-o", help="model folder"),
                     steps: int = O(2500, help="training steps"), seed: int = SEED) -> None:
    """Train the toy-face attribute probe (used to find edit directions and to measure edits)."""
    from dynode.metrics.attributes import save_regressor, train_regressor
    with _errors():
        _device("cpu", seed)
        with _bar("training probe") as update:
            model, stats = train_regressor(steps=steps, seed=seed, progress=update)
        save_regressor(out, model, stats)
        say(json.dumps(stats["heldout_mae"]))


directions_app = typer.Typer(no_args_is_help=True, help="List, find and show edit directions.")
app.add_typer(directions_app, name="directions")


@directions_app.command("list")
def directions_list(generator: str = GENERATOR) -> None:
    """List the directions stored with a generator: name, method, attribute, layers, sigma."""
    from dynode.edit import describe_library
    with _errors():
        print(describe_library(generator))


@directions_app.command("fit")
def directions_fit(method: str = O("interfacegan", help="how: interfacegan (labelled by the toy-face probe), sefa, "
                                                       "ganspace or user"),
                   generator: str = GENERATOR,
                   out: Optional[Path] = O(None, "--out", "-o", help="directions file (default: the generator's "
                                                                     "own library)"),
                   count: int = O(5, help="sefa/ganspace: how many directions"),
                   layers: Optional[str] = O(None, help="W+ layers the directions act on: coarse, middle, fine, "
                                                        "0-3... (default all)"),
                   samples: int = O(4000, help="interfacegan: labelled samples; others: samples that measure "
                                               "each direction's spread"),
                   vector: Optional[Path] = O(None, help="user: a .npy vector (w_dim,) or (num_ws, w_dim)"),
                   name: Optional[str] = O(None, help="user: the direction's name"), seed: int = SEED) -> None:
    """Find directions and add them to a directions file (replacing those of the same names)."""
    from dynode.edit import add_to_library, library_path, load_vector, parse_layers
    from dynode.edit.find import find_directions
    from dynode.generators import load_generator
    with _errors():
        _device("cpu", seed)
        gen = load_generator(generator)
        found = find_directions(method, gen, parse_layers(layers, gen.num_ws), count, samples, seed,
                                None if vector is None else load_vector(vector), name)
        path = add_to_library(out or library_path(generator), found)
        for d in found:
            say(f"{d.name}: sigma {d.sigma:.3f} {json.dumps(d.info)}")
        say(f"{len(found)} directions -> {path}")


@directions_app.command("show")
def directions_show(names: Optional[List[str]] = typer.Argument(None, help="directions (default: all stored)"),
                    out: Path = O(..., "--out", "-o", help="PNG strip: a row per direction"),
                    generator: str = GENERATOR,
                    latents: Optional[Path] = O(None, help="edit this latents artifact's first frame (rendered with "
                                                           "its tuning) instead of a random face"),
                    strengths: str = O("-3,-2,-1,0,1,2,3", help="columns, comma-separated"),
                    scale: int = O(2, help="pixel magnification of the PNG"), seed: int = SEED) -> None:
    """Draw each direction at strengths -3..+3 from one face."""
    from dynode.edit import get_direction, load_library
    from dynode.generators import load_generator
    from dynode.io.images import save_grid
    from dynode.render import direction_strip
    with _errors():
        _device("cpu", seed)
        columns = _numbers(strengths, "--strengths")
        if latents is not None:
            pipe = _pipeline(latents, "cpu")
            gen, start = pipe.generator, pipe.sequence.latents[0]
        else:
            gen = load_generator(generator)
            z = torch.randn(1, gen.w_dim, generator=torch.Generator().manual_seed(seed))
            start = gen.mapping(z, truncation=0.7)[0].expand(gen.num_ws, -1)
        names = names or list(load_library(gen.name))
        if not names:
            raise InputError(f"no directions stored with {gen.name!r} and none named")
        dirs = [get_direction(n, gen) for n in names]
        save_grid(out, direction_strip(gen, dirs, start, columns), ncol=len(columns), scale=scale)
        say(f"{len(dirs)} directions x {len(columns)} strengths ({', '.join(names)}) -> {out}")


if __name__ == "__main__":
    app()
