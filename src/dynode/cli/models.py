"""The model commands: convert, train-gan, train-attributes, directions list|fit|show."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import List, Optional

import typer

from dynode.cli.common import DEVICE, GENERATOR, O, SEED, _bar, _device, _errors, _numbers, app, say
from dynode.config import DEFAULT_GENERATOR
from dynode.errors import InputError


@app.command()
def convert(checkpoint: Path = typer.Argument(..., help="rosinality StyleGAN2 .pt/.pth or NVlabs StyleGAN2-ADA .pkl"),
            out: Path = O(..., "--out", "-o", help="model folder to write (use it as --generator)"),
            lr_mlp: Optional[float] = O(None, help="mapping learning-rate multiplier the source was trained with "
                                                   "(default: from the file, else 0.01)"),
            samples: int = O(8, help="also write samples.png with this many samples (0: none)")) -> None:
    """Convert a foreign StyleGAN2 checkpoint into a dynode model folder (no code from the file is run)."""
    from dynode.generators.convert import write_converted
    with _errors():
        model, source = write_converted(checkpoint, out, lr_mlp, samples)
        say(f"{source['format']} checkpoint, {model.resolution}x{model.resolution}, w_dim {model.w_dim}, "
            f"{model.num_ws} W+ layers -> {out}")


def _saved_state(state: Path) -> str:
    """What an interrupted training keeps: its last saved state, and how to continue from it."""
    return f"the last saved state is kept: add --resume {state} to continue" if state.is_file() else ""


@app.command("train-gan")
def train_gan(out: Path = O(Path("runs") / DEFAULT_GENERATOR, "--out", "-o", help="run folder"),
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
    with _errors(partial(_saved_state, out / "state.pt")):
        config = TrainConfig(kimg=kimg, batch=batch, lr=lr, augment=augment, pl_weight=pl_weight, seed=seed)
        with _bar("training (kimg)") as update:
            result = train(config, out, resume, minutes, _device(device, seed), progress=update)
        say(f"{result.kimg:.1f} kimg in {result.seconds / 60:.1f} min ({result.images_per_second:.1f} img/s) "
            f"-> {out}/export")


@app.command("train-encoder")
def train_encoder_cmd(generator: str = GENERATOR,
                      out: Path = O(Path("runs/encoder"), "--out", "-o", help="run folder (resumable state.pt)"),
                      steps: int = O(3000, help="Adam steps"), batch: int = O(16, help="images a step"),
                      lr: float = O(1e-3, help="Adam learning rate (cosine decay to 5%)"),
                      passes: int = O(3, help="corrections from the mean code (ReStyle's iterations)"),
                      perceptual_weight: float = O(0.2, help="ST-LPIPS of the last pass's render (pixels weigh 1)"),
                      code_weight: float = O(0.01, help="the samples' codes, in spreads squared"),
                      toy: float = O(0.0, help="share of each batch from the toy-face world (for a toy-face generator)"),
                      warm: Optional[Path] = O(None, help="start from this encoder folder's weights"),
                      minutes: Optional[float] = O(None, help="stop after this wall time"),
                      resume: Optional[Path] = O(None, help="state.pt of a run to continue"),
                      device: str = DEVICE, seed: int = SEED) -> None:
    """Train an iterative encoder (target and current render in, a correction out) through the generator.

    The encoder is exported into the generator's model folder (encoder/), where `--init auto`
    (the default) finds it.
    """
    from dynode.generators import load_generator
    from dynode.config.training import EncoderConfig
    from dynode.inversion.encoder import encoder_folder, train_encoder
    with _errors(partial(_saved_state, out / "state.pt")):
        gen = load_generator(generator, _device(device, seed))
        config = EncoderConfig(steps=steps, batch=batch, lr=lr, passes=passes, perceptual_weight=perceptual_weight,
                               code_weight=code_weight, toy=toy, seed=seed)
        with _bar("training encoder") as update:
            _, stats = train_encoder(gen, config, out, encoder_folder(gen), resume, minutes, update, warm)
        say(f"{stats['steps']} steps in {stats['seconds']:.0f} s, loss {stats['loss']:.4f}, "
            f"last pass {stats['psnr']:.2f} dB -> {encoder_folder(gen)}")


@app.command("train-prior")
def train_prior_cmd(generator: str = GENERATOR,
                    toy: int = O(0, help="this many toy-face videos (seeds from 2,000,000 up), inverted with the "
                                         "generator's encoder"),
                    latents: Optional[List[Path]] = O(None, "--latents", help="latents artifacts, or folders of them "
                                                                              "(e.g. a `dynode batch` output)"),
                    out: Path = O(Path("runs/prior"), "--out", "-o", help="run folder (codes cache, state.pt, log)"),
                    export: Optional[Path] = O(None, help="write the prior here (default: the generator's folder, "
                                                          "prior/)"),
                    seconds: float = O(32.0, help="length of each toy video"),
                    fps: float = O(8.0, help="rate of the training codes (artifacts are resampled to it)"),
                    inversion_steps: int = O(0, help="optimisation steps a toy frame after the encoder (0: none)"),
                    components: int = O(32, help="principal components of the codes the prior moves in"),
                    resonators: int = O(4, help="stochastic resonators per component"),
                    smoothness: str = O("5/2", help="the resonators' Matern order: 1/2, 3/2, 5/2 or inf (analytic)"),
                    steps: int = O(1500, help="Adam steps"), lr: float = O(0.02, help="Adam learning rate"),
                    workers: Optional[int] = O(None, help="Ray workers inverting the toy videos (default: all CPUs; 1: in this process, without Ray)"),
                    address: Optional[str] = O(None, help="join this Ray cluster instead"),
                    seed: int = SEED) -> None:
    """Train a motion prior across many videos' codes and export it into the generator's model folder (prior/).

    `dynode fit --field prior` conditions it on a video. Resumable: the codes are cached per video
    and training continues from OUT/state.pt.
    """
    from dynode.config.training import PriorConfig
    from dynode.dynamics.prior import PRIOR_FOLDER
    from dynode.dynamics.prior_training import train_prior
    from dynode.generators import resolve
    from dynode.pipelines import Models
    from dynode.pipelines.prior_data import artifact_codes, toy_codes
    from dynode.plots import curve_figure
    with _errors(lambda: f"the toy videos' codes and the last saved state are kept in {out}; run the same command "
                         "again to continue"):
        if not toy and not latents:
            raise InputError("nothing to train on: give --toy N and/or --latents FOLDER")
        config = PriorConfig(components=components, resonators=resonators, smoothness=smoothness, steps=steps, lr=lr,
                             seed=seed)
        models = Models.from_pretrained(generator)
        if not models.record.name:
            raise InputError(f"{generator}: a prior is exported into a model folder; give a bundled name or folder")
        codes = []
        if toy:
            with _bar("inverting toy videos") as update:
                codes += toy_codes(models, toy, out / "codes", seconds, fps, inversion_steps, workers, address,
                                   update)
        if latents:
            codes += artifact_codes(latents, models.record.id, fps)
        export = export or resolve(models.record.name) / PRIOR_FOLDER
        with _bar("training prior") as update:
            _, stats = train_prior(codes, config, out, export, update, models.record.id,
                                   {"toy_videos": toy, "toy_seconds": seconds, "inversion_steps": inversion_steps})
        curve_figure(out / "log.jsonl", out / "curve.png", ("loss", "validation"),
                     "motion prior: predictive NLL a value (training, held-out videos)")
        say(f"{stats['videos']} videos, {stats['frames']} frames; {stats['steps']} steps in {stats['seconds']:.0f} s, "
            f"held-out loss {stats['validation']:.3f} -> {export} (curve: {out / 'curve.png'})")


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
def directions_fit(method: str = O("learned", help="how: learned (an offset trained through the generator and the "
                                                  "toy-face probe: the attribute moves, the others stay; a few "
                                                  "minutes a direction), interfacegan (labelled by the toy-face "
                                                  "probe), sefa, ganspace or user"),
                   generator: str = GENERATOR,
                   out: Optional[Path] = O(None, "--out", "-o", help="directions file (default: the generator's "
                                                                     "own library)"),
                   count: int = O(5, help="sefa/ganspace: how many directions"),
                   layers: Optional[str] = O(None, help="W+ layers the directions act on: coarse, middle, fine, "
                                                        "0-3... (default all)"),
                   samples: int = O(4000, help="interfacegan: labelled samples; others: samples that measure "
                                               "each direction's spread"),
                   vector: Optional[Path] = O(None, help="user: a .npy vector (w_dim,) or (num_ws, w_dim), e.g. an "
                                                             "InterFaceGAN boundary file (1, w_dim)"),
                   name: Optional[str] = O(None, help="user: the direction's name; learned: the one to learn "
                                                      "(default: every named edit)"),
                   examples: Optional[Path] = O(None, help="learned: a folder of example frames, with/ (showing "
                                                           "the attribute) and without/, framed as the generator "
                                                           "draws: --name is learned through a reader trained "
                                                           "from them (on the encoder's codes, else ImageNet "
                                                           "features)"),
                   seed: int = SEED) -> None:
    """Find directions and add them to a directions file (replacing those of the same names)."""
    from dynode.edit import add_to_library, library_path, load_vector, parse_layers
    from dynode.edit.find import find_directions, learn_from_examples
    from dynode.generators import load_generator
    with _errors():
        _device("cpu", seed)
        gen = load_generator(generator)
        if examples is not None:
            if method != "learned" or not name:
                raise InputError("--examples learns one direction: give --method learned and its --name")
            direction, stats = learn_from_examples(gen, examples, name, parse_layers(layers, gen.num_ws), seed)
            found = [direction]
            say(f"reader of {name!r} on {stats['features']} features: {stats['with']} frames with, "
                f"{stats['without']} without; held-out accuracy {stats['heldout_accuracy']:.0%}")
        else:
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
    from dynode.io.images import save_grid
    from dynode.pipelines import Models, VideoPipeline
    from dynode.render import direction_strip
    with _errors():
        columns = _numbers(strengths, "--strengths")
        pipe = VideoPipeline.from_artifacts(latents) if latents is not None else None
        models = pipe.models if pipe else Models.from_pretrained(generator)
        names = names or list(models.directions)
        if not names:
            raise InputError(f"no directions stored with {models.record.label} and none named")
        strip = direction_strip(models.generator, [models.direction(n) for n in names], columns,
                                pipe.sequence.latents[0] if pipe else None, seed)
        save_grid(out, strip, ncol=len(columns), scale=scale)
        say(f"{len(names)} directions x {len(columns)} strengths ({', '.join(names)}) -> {out}")
