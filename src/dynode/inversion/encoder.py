"""An iterative encoder for inversion (ReStyle, Alaluf et al. 2021): the target image and the current
reconstruction in, a correction of the current W+ codes out, applied ``passes`` times from the mean
code. Inversion starts every frame from its codes and needs few optimisation steps after it.

Training (``dynode train-encoder``) runs through the generator, as pSp and e4e do: every pass is
rendered and scored against the target by pixels (mean squared error), the last also by ST-LPIPS
(the perceptual network costs more than the generator, so once a step). Half a batch
(or all of it) is the generator's own samples (mapped codes, style-mixed at a random layer, a
little per-layer jitter, so that W+ codes like those inversion finds are covered), where the codes
are known and a code loss (in units of their spread) keeps the answers near them; the rest can be
frames of the toy-face world (``EncoderConfig.toy``), the real images of the bundled generator's
domain, never the seeds of a benchmark or test. For those e4e's idea keeps codes editable: each
layer's code is pulled towards the codes' mean over layers (``delta_weight``). Each pass's loss is
taken on its own (the passes between are not differentiated through), as ReStyle trains.

The run is resumable (``state.pt``, with ``log.jsonl``: the loss and the last pass's PSNR every 50
steps), can start from another encoder's weights (``warm``; a one-pass encoder of an older dynode
has its first layer widened), and exports ``encoder/`` into the generator's model folder: weights and
a config that records the generator's id, so an encoder for another generator is refused.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dynode.config.training import EncoderConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.errors import CheckpointError, InputError
from dynode.generators import resolve
from dynode.io.checkpoints import atomic_path, load_model_files, save_model, torch_load
from dynode.metrics.image import psnr
from dynode.metrics.perceptual import stlpips
from dynode.types import Generator

ENCODER_FOLDER = "encoder"
# Seeds of the toy-face videos the encoder trains on: far from every benchmark and test seed (< 10000).
TOY_SEEDS = 1_000_000


class Encoder(nn.Module):
    """(target, current render) (B, 3, R, R) each, in [-1, 1], and the current W+ codes (B, num_ws,
    w_dim) -> corrected codes: a strided CNN down to 4x4 over the two images, then a linear head
    predicting the correction (scaled by ``spread``). :meth:`encode` applies it ``passes`` times from
    the mean code."""

    def __init__(self, resolution: int, num_ws: int, w_dim: int, width: int = 32, passes: int = 3):
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise InputError(f"Encoder: resolution must be a power of two >= 8, got {resolution}")
        if passes < 1:
            raise InputError(f"Encoder: passes must be >= 1, got {passes}")
        self.resolution, self.num_ws, self.w_dim, self.width, self.passes = resolution, num_ws, w_dim, width, passes
        layers, ch, res = [nn.Conv2d(6, width, 3, padding=1), nn.LeakyReLU(0.2)], width, resolution
        while res > 4:
            out = min(ch * 2, 8 * width)
            layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            ch, res = out, res // 2
        layers += [nn.Conv2d(ch, width, 1), nn.LeakyReLU(0.2), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * 16, num_ws * w_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("spread", torch.ones(()))

    def forward(self, images: torch.Tensor, current: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        offset = self.head(self.features(torch.cat([images, current], 1))).view(len(images), self.num_ws, self.w_dim)
        return codes + self.spread * offset

    def start(self, generator: Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first pass's input: the mean code (n, num_ws, w_dim) and its render (n, 3, R, R)."""
        codes = self.w_avg[None, None].expand(n, self.num_ws, self.w_dim)
        with torch.no_grad():
            image = generator.synthesis(codes[:1])
        return codes, image.expand(n, *image.shape[1:])

    @torch.no_grad()
    def encode(self, generator: Generator, images: torch.Tensor, passes: int | None = None) -> torch.Tensor:
        """The codes of ``images`` after ``passes`` passes (default: those it was trained with), 32 at a time."""
        out = []
        for chunk in images.split(32):
            codes, current = self.start(generator, len(chunk))
            for _ in range(passes or self.passes):
                codes = self(chunk, current, codes)
                current = generator.synthesis(codes)
            out.append(codes)
        return torch.cat(out)


@torch.no_grad()
def sample_codes(generator: Generator, n: int, config: EncoderConfig, spread: float, rng: torch.Generator) \
        -> torch.Tensor:
    """Training codes (n, num_ws, w_dim): mapped samples, style-mixed at a random layer with
    probability ``config.mixing``, jittered per layer."""
    device = generator.device
    z = torch.randn(2, n, generator.w_dim, generator=rng).to(device)
    w = generator.mapping(z.flatten(0, 1), truncation=config.truncation).view(2, n, -1)
    ws = w[0][:, None].repeat(1, generator.num_ws, 1)
    cut = torch.randint(1, generator.num_ws, (n,), generator=rng).to(device)
    mixed = (torch.rand(n, generator=rng).to(device) < config.mixing)[:, None] \
        & (torch.arange(generator.num_ws, device=device)[None] >= cut[:, None])
    ws = torch.where(mixed[..., None], w[1][:, None].expand_as(ws), ws)
    return ws + config.jitter * spread * torch.randn(ws.shape, generator=rng).to(device)


def toy_frames(n: int, resolution: int, rng: torch.Generator) -> torch.Tensor:
    """``n`` frames of the toy-face world (n, 3, R, R): each from its own video of the training seeds
    (:data:`TOY_SEEDS` on), at a random time of its first minute."""
    seeds = torch.randint(TOY_SEEDS, 2 * TOY_SEEDS, (n,), generator=rng)
    times = torch.rand(n, generator=rng, dtype=torch.float64) * 60
    return torch.cat([ToyFaceVideo(int(s)).render(t[None], resolution) for s, t in zip(seeds, times)])


def _batch(generator: Generator, config: EncoderConfig, spread: float, rng: torch.Generator):
    """A training batch: target images, and the codes of those that are samples (the first ones)."""
    toys = round(config.batch * config.toy)
    codes = sample_codes(generator, config.batch - toys, config, spread, rng)
    with torch.no_grad():
        images = generator.synthesis(codes)
    if toys:
        images = torch.cat([images, toy_frames(toys, generator.resolution, rng).to(generator.device)])
    return images, codes


def _pass_loss(generator: Generator, enc: Encoder, images, current, codes, known, config: EncoderConfig,
               last: bool):
    """One pass: the corrected codes, their render, and the loss of the pass (ST-LPIPS on the last)."""
    new = enc(images, current, codes)
    render = generator.synthesis(new)
    loss = config.image_weight * (render - images).pow(2).mean()
    if config.perceptual_weight and last:
        loss = loss + config.perceptual_weight * stlpips(render, images).mean()
    if config.code_weight and len(known):
        loss = loss + config.code_weight * ((new[:len(known)] - known) / enc.spread).pow(2).mean()
    if config.delta_weight:
        loss = loss + config.delta_weight * ((new - new.mean(1, keepdim=True)) / enc.spread).pow(2).mean()
    return new, render, loss


def _encoder_files(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The config and weights of the encoder folder ``folder`` (CheckpointError: unreadable, or not an encoder)."""
    meta, tensors = load_model_files(folder)
    if meta.get("architecture") != "encoder":
        raise CheckpointError(f"{folder}: not an encoder (architecture {meta.get('architecture')!r})")
    return meta.get("config") or {}, tensors


def warm_weights(encoder: Encoder, folder: str | Path) -> None:
    """Start ``encoder`` from the weights of the encoder in ``folder`` (of the same size; a one-pass
    encoder's first layer, which reads the target alone, is widened with zeros for the current render).

    Raises:
        CheckpointError: unreadable, not an encoder, or of another size.
    """
    _, tensors = _encoder_files(folder)
    first = tensors.get("features.0.weight")
    if first is not None and first.shape[1] == 3:
        tensors["features.0.weight"] = torch.cat([first, torch.zeros_like(first)], 1)
    try:
        encoder.load_state_dict(tensors)
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: encoder weights of another size than this run's ({e})") from e


def train_encoder(generator: Generator, config: EncoderConfig = EncoderConfig(), out: str | Path | None = None,
                  export: str | Path | None = None, resume: str | Path | None = None, minutes: float | None = None,
                  progress: Callable[[int, int, float], None] | None = None,
                  warm: str | Path | None = None) -> tuple[Encoder, dict]:
    """Train an encoder for ``generator`` through it (see the module). With ``out`` the run keeps
    ``out/state.pt`` (every 100 steps; resumable with ``resume``) and ``out/log.jsonl``; with ``export``
    the encoder is written there as a model folder (e.g. :func:`encoder_folder` of the generator);
    ``warm`` starts a new run from the weights of an encoder folder (see :func:`warm_weights`).

    Returns:
        The encoder (eval mode) and stats: steps, final loss, the last pass's PSNR, seconds.

    Raises:
        CheckpointError: a resume state for another generator or configuration, or bad ``warm`` weights.
    """
    start = time.time()
    device = generator.device
    generator.requires_grad_(False)
    rng = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        w = generator.mapping(torch.randn(4000, generator.w_dim, generator=rng).to(device))
        spread = float(w.std(0).mean())
    enc = Encoder(generator.resolution, generator.num_ws, generator.w_dim, config.width, config.passes)
    if warm is not None:
        warm_weights(enc, warm)
    enc = enc.to(device)
    enc.w_avg.copy_(generator.mean_latent.detach())
    enc.spread.fill_(spread)
    opt = torch.optim.Adam(enc.parameters(), lr=config.lr)
    step, loss_value, quality, seconds = 0, float("nan"), float("nan"), 0.0
    if resume is not None:
        state = torch_load(resume, "an encoder run", device)
        if state.get("generator_id") != generator.record.id or state.get("config") != json.dumps(config.to_dict()):
            raise CheckpointError(f"{resume}: a run for generator {state.get('generator_id')} with "
                                  f"{state.get('config')}; this one is {generator.record.id} with {config.to_dict()}")
        enc.load_state_dict(state["encoder"])
        opt.load_state_dict(state["optimizer"])
        step, seconds = int(state["step"]), float(state.get("seconds", 0.0))
        rng.set_state(state["rng"])
    enc.train()
    log = None if out is None else Path(out) / "log.jsonl"
    while step < config.steps and (minutes is None or time.time() - start < 60 * minutes):
        for group in opt.param_groups:  # cosine decay to 5% over the run
            group["lr"] = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / config.steps)))
        images, known = _batch(generator, config, spread, rng)
        codes, current = enc.start(generator, len(images))
        total = 0.0
        for k in range(config.passes):
            codes, current, loss = _pass_loss(generator, enc, images, current, codes, known, config,
                                              k == config.passes - 1)
            total = total + loss / config.passes
            codes, current = codes.detach(), current.detach()
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        step, loss_value = step + 1, total.item()
        if progress is not None:
            progress(step, config.steps, loss_value)
        if log is not None and (step % 50 == 0 or step == config.steps):
            quality = float(psnr(current, images).mean())
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as f:
                f.write(json.dumps({"step": step, "seconds": round(seconds + time.time() - start, 1),
                                    "loss": round(loss_value, 5), "psnr": round(quality, 3)}) + "\n")
        if out is not None and step % 100 == 0:
            _checkpoint(Path(out), enc, opt, step, rng, generator, config, seconds + time.time() - start)
    enc.eval().requires_grad_(False)
    seconds += time.time() - start
    stats = {"steps": step, "loss": round(loss_value, 5), "psnr": round(quality, 3), "seconds": round(seconds, 1),
             "config": config.to_dict()}
    if out is not None:
        _checkpoint(Path(out), enc, opt, step, rng, generator, config, seconds)
    if export is not None:
        export_encoder(export, enc, generator, stats)
    return enc, stats


def _checkpoint(out: Path, enc: Encoder, opt, step: int, rng: torch.Generator, generator: Generator,
                config: EncoderConfig, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "state.pt") as tmp:
        torch.save({"encoder": enc.state_dict(), "optimizer": opt.state_dict(), "step": step, "rng": rng.get_state(),
                    "generator_id": generator.record.id, "config": json.dumps(config.to_dict()),
                    "seconds": seconds}, tmp)


def export_encoder(folder: str | Path, encoder: Encoder, generator: Generator, info: dict | None = None) -> Path:
    """Write ``encoder`` as a model folder recording the generator it was made for."""
    config = {"resolution": encoder.resolution, "num_ws": encoder.num_ws, "w_dim": encoder.w_dim,
              "width": encoder.width, "passes": encoder.passes, "generator_id": generator.record.id}
    return save_model(folder, encoder, "encoder", config, info)


def encoder_folder(generator: Generator) -> Path | None:
    """Where ``generator``'s encoder lives (its model folder's ``encoder/``), None for an in-memory generator."""
    if not generator.record.name:
        return None
    return resolve(generator.record.name) / ENCODER_FOLDER


def load_encoder(folder: str | Path, generator: Generator) -> Encoder:
    """The encoder in ``folder``, checked to be made for ``generator``.

    Raises:
        CheckpointError: unreadable, not an encoder, one of an older dynode (one pass, the target
            alone), or made for another generator (both ids named).
    """
    config, tensors = _encoder_files(folder)
    if config.get("generator_id") != generator.record.id:
        raise CheckpointError(f"{folder}: an encoder for generator {config.get('generator_id')}, but these frames "
                              f"go to generator {generator.record.id or '(built in memory)'}", "encoder")
    if "passes" not in config:
        raise CheckpointError(f"{folder}: a one-pass encoder of an older dynode; retrain it with `dynode train-encoder "
                              f"--warm {folder}` (its weights start the new run)", "encoder")
    enc = Encoder(config["resolution"], config["num_ws"], config["w_dim"], config["width"], config["passes"])
    try:
        enc.load_state_dict(tensors)
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: encoder weights do not fit its config ({e})") from e
    return enc.eval().requires_grad_(False).to(generator.device)
