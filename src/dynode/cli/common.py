"""What every command shares: the Typer app, the common options, progress bars and error mapping."""

from __future__ import annotations

import functools
import inspect
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Optional

import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dynode import dynamics
from dynode.config import (DEFAULT_GENERATOR, DEFAULT_PATH, EDIT_FIDELITY, RENDER_FIDELITY, FitConfig, InversionConfig,
                           PTIConfig, ReadConfig)
from dynode.errors import DynodeError, InputError, advice, storage_error
from dynode.pipelines.run import RunSpec

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dynode: invert a video into a GAN's latent space, model its motion there (the generator's "
                       "motion prior, or a neural ODE), and render it at any frame rate, in slow motion, past its end, "
                       "or edited on every frame.")
err = Console(stderr=True)


def say(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


# What a user can do about an error (dynode.errors.REMEDIES), worded as this command line's flags.
REMEDIES = {
    "resize": "pass --resize to centre-crop and resize, or --align to crop the face",
    "align": "invert the video with --align",
    "no_align": "run without --align",
    "shots_off": "pass --shots off to read it as one shot",
    "fidelity_latent": "render with --fidelity latent, which needs only the codes",
    "min_face_share": "lower --min-face-share, or run without --align",
    "encoder": "train one with `dynode train-encoder`, or use --init previous",
    "fit_first": "fit the codes first (`dynode fit`)",
    "invert_first": "give a latents artifact (`dynode invert`)",
    "pass_generator": "it cannot be used from the command line; load it in Python and pass it",
    "response_pixels": "use --response pixels",
    "response_probe": "pass --response probe",
    "full_space": "fit with --subspace-dim 0 to use the full space",
    "refit_directions": "fit them again with `dynode directions fit`",
}


def _terminate(signum, frame) -> None:
    """SIGTERM (a scheduler, `kill`) stops a command as Ctrl-C does: what is kept is kept and said."""
    raise KeyboardInterrupt


@contextmanager
def _errors(kept: Callable[[], str] | None = None):
    """Turn dynode's errors, and the machine's refusals (a full disk, no permission), into a one-line message
    (with the flag advice) and exit code 2; SIGTERM is taken as Ctrl-C (exit 130), whose message adds
    ``kept()``: what the command keeps and how to continue. With the environment variable DYNODE_DEBUG
    set, errors keep their traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    except (DynodeError, OSError) as e:
        if os.environ.get("DYNODE_DEBUG"):
            raise
        message = advice(e, REMEDIES) if isinstance(e, DynodeError) else \
            storage_error(e.filename, e) if e.filename else e.strerror or str(e)
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    except KeyboardInterrupt:
        said = kept() if kept is not None else ""
        say(f"interrupted (nothing half-written is left){'; ' + said if said else ''}")
        raise typer.Exit(130)


def _device(device: str, seed: int = 0) -> str:
    """Seed torch and resolve --device: auto is cuda when a GPU is there, else cpu.

    Raises:
        InputError: an unparsable device, or a CUDA device on a machine without one.
    """
    torch.manual_seed(seed)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError as e:
        raise InputError(f"--device {device!r}: not a torch device (cpu, cuda, cuda:1, auto)") from e
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA GPU on this machine; use --device cpu or auto")
        # TF32 matmuls and convolutions: ample precision for inversion and rendering, several times faster.
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return device


def _progress(count: str = "{task.completed:.0f}/{task.total:.0f}", eta: bool = True, **options) -> Progress:
    """dynode's progress bars on stderr: description, bar, ``count``, elapsed time (and the ETA)."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn(count), TimeElapsedColumn()]
    return Progress(*columns, *([TextColumn("ETA"), TimeRemainingColumn()] if eta else []), console=err, **options)


@contextmanager
def _bar(description: str):
    """A rich progress bar; yields update(done, total)."""
    with _progress(transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total, *_: bar.update(task, completed=done, total=total)


@contextmanager
def _stage_bars():
    """A rich progress bar per stage of a run; yields update(stage, done, total)."""
    with _progress(transient=False, disable=not sys.stderr.isatty()) as bar:
        tasks = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)
        yield update


def _numbers(text: Optional[str], flag: str) -> Optional[list[float]]:
    try:
        return None if text is None else [float(x) for x in text.split(",")]
    except ValueError as e:
        raise InputError(f"{flag} must be comma-separated numbers, got {text!r}") from e


O = typer.Option
DEVICE, SEED = O("auto", help="torch device: auto (cuda if there is a GPU, else cpu), cpu, cuda, cuda:1"), \
    O(0, help="random seed")
GENERATOR = O(DEFAULT_GENERATOR, help="bundled generator name or model folder")
OUT_VIDEO = O(..., "--out", "-o", help="output video (.mp4 or .gif)")
EDIT_PATH = O(dynamics.EDIT_PATH, "--path", help="the latent path: exact (through every observed frame; extrapolating from "
                                      "the last) or initial (one solve from the first frame, as in the paper)")
PATH = O(DEFAULT_PATH, "--path", help="auto: each span drawn between its kept frames by the mean of the spline "
                                      "with detail and the real frames' optical flow, unless the spline, the flow or "
                                      "their fusion predicts its own hidden kept frames clearly better (logged); "
                                      "exact (the fitted dynamics "
                                      "through every observed frame), initial (one solve from the first frame, as in "
                                      "the paper), or linear, slerp, spline (that interpolation of the codes; the "
                                      "dynamics past the last frame)")
PER_STRETCH = O(False, help="with --path auto: choose for each stretch between kept frames from the checks "
                             "around it, instead of one way for the whole span (a passage the generator cannot "
                             "draw, an occluder); checks up to 32 kept frames instead of 8")
FIDELITY = O(RENDER_FIDELITY, help="detail: the video's own detail carried along the path (needs the source video); "
                              "latent: the generator's render alone")
FIDELITY_LATENT = O(EDIT_FIDELITY, "--fidelity", help="latent: the generator's render alone; detail: the video's own "
                                                 "detail carried along the path (needs the source video)")
FULL_FRAME = O(False, help="paste the rendered face back into the whole picture (codes of a video inverted "
                           "with --align)")
# How a video is read and inverted: the same options wherever a command takes a video; the defaults are the configs'.
_R, _I, _P = ReadConfig(), InversionConfig(), PTIConfig()
READ = dict(generator=GENERATOR, space=O(_I.space, help="w+ or w"),
            steps=O(_I.steps, help="inversion steps per frame after the first (default: 0 with the generator's "
                                   "encoder, whose codes are kept and the generator tuned to them; 100 without)"),
            steps_first=O(_I.steps_first, help="inversion steps for the first frame"),
            batch_size=O(_I.batch_size, help="frames optimised together"),
            perceptual_weight=O(_I.perceptual_weight, help="weight of an ST-LPIPS term in the loss (about 3x slower)"),
            every=O(_R.every, help="invert every n-th frame only"),
            resize=O(_R.resize, help="centre-crop and resize frames to the generator's size"),
            align=O(_R.align, help="crop the face of each frame FFHQ-style first (needs the extra 'face')"),
            sigma=O(_R.sigma, help="with --align: temporal smoothing of the face crop, in frames"),
            pti=O(_I.tune, "--pti/--no-pti", help="pivotal tuning: fine-tune a copy of the generator on the whole "
                                                  "video around its codes (the weight delta is stored with the "
                                                  "codes); default: when the codes are the encoder's (0 steps)"),
            pti_steps=O(_P.steps, help="tuning steps"),
            init=O(_I.init, help="where inversion starts: auto (the generator's encoder if it has one, else "
                                 "previous), encoder, mean, previous (warm start from the previous frame)"),
            shots=O("on" if _R.shots else "off", help="on: find cuts and fit every shot on its own; off: one "
                                                      "trajectory across the video"),
            shot_threshold=O(_R.shot_threshold, help="content score (0-255) from which a frame can start a new shot"),
            min_face_share=O(_R.min_face_share, help="with --align: refuse a video with a face in fewer of its "
                                                     "frames"),
            bridge=O(_R.bridge, help="with --align: faceless gaps up to this many seconds are bridged; longer ones "
                                     "are passed through and split the video into face tracks"),
            min_face=O(_R.min_face, help="with --align: faces smaller than this (crop side, pixels) count as "
                                         "faceless"))
# The READ options whose default (None) is chosen for the generator: their types.
_OPTIONAL = {"steps": Optional[int], "pti": Optional[bool]}
# Fitting, where a command fits: defaults from FitConfig.
_F = FitConfig()
ITERS = O(_F.iters, help="fitting iterations of a per-video field (mlp, cde, ...; the motion prior ignores it)")
SUBSPACE_DIM = O(_F.subspace_dim, help="PCA components of the video's latents for a per-video field (0: full "
                                       "space; the motion prior ignores it)")


def _run_spec(generator: str, every: int, resize: bool, align: bool, sigma: float, space: str, steps: int | None,
              steps_first: int, batch_size: int, perceptual_weight: float, init: str, pti: bool | None, pti_steps: int,
              shots: str, shot_threshold: float, min_face_share: float, bridge: float, min_face: float,
              **rest) -> RunSpec:
    """A RunSpec from the READ options (and any other RunSpec fields in ``rest``).

    Raises:
        InputError: --shots other than on or off, or what the configs refuse.
    """
    if shots not in ("on", "off"):
        raise InputError(f"--shots {shots!r}: choose on or off")
    inversion = InversionConfig(space=space, steps_first=steps_first, steps=steps, batch_size=batch_size,
                                perceptual_weight=perceptual_weight, init=init, tune=pti,
                                tuning=PTIConfig(steps=pti_steps))
    read = ReadConfig(every=every, resize=resize, align=align, sigma=sigma, shots=shots == "on",
                      shot_threshold=shot_threshold, min_face_share=min_face_share, bridge=bridge, min_face=min_face)
    return RunSpec(generator=generator, read=read, inversion=inversion, **rest)


def _read_options(command):
    """Give ``command`` the READ options; they reach it gathered in its ``read`` dict."""
    signature = inspect.signature(command, eval_str=True)
    extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v, annotation=_OPTIONAL.get(k, type(v.default)))
             for k, v in READ.items()]

    @functools.wraps(command)
    def run(**kwargs):
        return command(**{k: v for k, v in kwargs.items() if k not in READ}, read={k: kwargs[k] for k in READ})
    run.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "read"]
                                          + extra)
    run.__annotations__ = {k: p.annotation for k, p in run.__signature__.parameters.items()}
    return run
