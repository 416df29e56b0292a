"""An encoder initialiser for inversion: image -> W+ codes in one pass, trained on the generator's
own samples (as e4e/pSp give STIT its starting codes).

Inversion then starts every frame from the encoder's code instead of the mean code or the
previous frame's, and needs far fewer optimisation steps to reach the same reconstruction.

Training (``dynode train-encoder``): each step samples codes from the generator (W, with style
mixing and a little per-layer jitter so that W+ codes like those inversion finds are covered),
renders them, and fits the encoder to give the codes back (mean squared error in W+, in units
of the codes' spread). The generator is only run forwards, so a step is cheap. The run is
resumable (``state.pt``) and exports ``encoder/`` into the generator's model folder: weights and
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

from dynode.config import EncoderConfig
from dynode.errors import CheckpointError, InputError
from dynode.io.checkpoints import atomic_path, load_model_files, save_model, torch_load
from dynode.types import Generator

ENCODER_FOLDER = "encoder"


class Encoder(nn.Module):
    """Images (B, 3, R, R) in [-1, 1] -> W+ codes (B, num_ws, w_dim): a strided CNN down to 4x4,
    then a linear head predicting the offset from the mean code (scaled by ``spread``)."""

    def __init__(self, resolution: int, num_ws: int, w_dim: int, width: int = 32):
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise InputError(f"Encoder: resolution must be a power of two >= 8, got {resolution}")
        self.resolution, self.num_ws, self.w_dim, self.width = resolution, num_ws, w_dim, width
        layers, ch, res = [nn.Conv2d(3, width, 3, padding=1), nn.LeakyReLU(0.2)], width, resolution
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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        offset = self.head(self.features(images)).view(len(images), self.num_ws, self.w_dim)
        return self.w_avg + self.spread * offset


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


def train_encoder(generator: Generator, config: EncoderConfig = EncoderConfig(), out: str | Path | None = None,
                  export: str | Path | None = None, resume: str | Path | None = None, minutes: float | None = None,
                  progress: Callable[[int, int, float], None] | None = None) -> tuple[Encoder, dict]:
    """Train an encoder for ``generator`` on its own samples (see the module). With ``out`` the
    run keeps ``out/state.pt`` (every 500 steps; resumable with ``resume``); with ``export`` the
    encoder is written there as a model folder (e.g. :func:`encoder_folder` of the generator).

    Returns:
        The encoder (eval mode) and stats: steps, final loss, seconds.

    Raises:
        CheckpointError: a resume state for another generator or configuration.
    """
    start = time.time()
    device = generator.device
    rng = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        w = generator.mapping(torch.randn(4000, generator.w_dim, generator=rng).to(device))
        spread = float(w.std(0).mean())
    enc = Encoder(generator.resolution, generator.num_ws, generator.w_dim, config.width).to(device)
    enc.w_avg.copy_(generator.mean_latent.detach())
    enc.spread.fill_(spread)
    opt = torch.optim.Adam(enc.parameters(), lr=config.lr)
    step, loss_value = 0, float("nan")
    if resume is not None:
        state = torch_load(resume, "an encoder run", device)
        if state.get("generator_id") != generator.record.id or state.get("config") != json.dumps(config.to_dict()):
            raise CheckpointError(f"{resume}: a run for generator {state.get('generator_id')} with "
                                  f"{state.get('config')}; this one is {generator.record.id} with {config.to_dict()}")
        enc.load_state_dict(state["encoder"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
        rng.set_state(state["rng"])
    enc.train()
    while step < config.steps and (minutes is None or time.time() - start < 60 * minutes):
        for group in opt.param_groups:  # cosine decay to 5% over the run
            group["lr"] = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / config.steps)))
        codes = sample_codes(generator, config.batch, config, spread, rng)
        with torch.no_grad():
            images = generator.synthesis(codes)
        loss = ((enc(images) - codes) / spread).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step, loss_value = step + 1, loss.item()
        if progress is not None:
            progress(step, config.steps, loss_value)
        if out is not None and (step % 500 == 0 or step == config.steps):
            _checkpoint(Path(out), enc, opt, step, rng, generator, config)
    enc.eval().requires_grad_(False)
    stats = {"steps": step, "loss": round(loss_value, 5), "seconds": round(time.time() - start, 1),
             "config": config.to_dict()}
    if out is not None:
        _checkpoint(Path(out), enc, opt, step, rng, generator, config)
    if export is not None:
        export_encoder(export, enc, generator, stats)
    return enc, stats


def _checkpoint(out: Path, enc: Encoder, opt, step: int, rng: torch.Generator, generator: Generator,
                config: EncoderConfig) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "state.pt") as tmp:
        torch.save({"encoder": enc.state_dict(), "optimizer": opt.state_dict(), "step": step, "rng": rng.get_state(),
                    "generator_id": generator.record.id, "config": json.dumps(config.to_dict())}, tmp)


def export_encoder(folder: str | Path, encoder: Encoder, generator: Generator, info: dict | None = None) -> Path:
    """Write ``encoder`` as a model folder recording the generator it was made for."""
    config = {"resolution": encoder.resolution, "num_ws": encoder.num_ws, "w_dim": encoder.w_dim,
              "width": encoder.width, "generator_id": generator.record.id}
    return save_model(folder, encoder, "encoder", config, info)


def encoder_folder(generator: Generator) -> Path | None:
    """Where ``generator``'s encoder lives (its model folder's ``encoder/``), None for an in-memory generator."""
    if not generator.record.name:
        return None
    from dynode.generators import resolve
    return resolve(generator.record.name) / ENCODER_FOLDER


def load_encoder(folder: str | Path, generator: Generator) -> Encoder:
    """The encoder in ``folder``, checked to be made for ``generator``.

    Raises:
        CheckpointError: unreadable, not an encoder, or made for another generator (both ids named).
    """
    meta, tensors = load_model_files(folder)
    config = meta.get("config") or {}
    if meta.get("architecture") != "encoder":
        raise CheckpointError(f"{folder}: not an encoder (architecture {meta.get('architecture')!r})")
    if config.get("generator_id") != generator.record.id:
        raise CheckpointError(f"{folder}: an encoder for generator {config.get('generator_id')}, but these frames "
                              f"go to generator {generator.record.id or '(built in memory)'}", "encoder")
    enc = Encoder(config["resolution"], config["num_ws"], config["w_dim"], config["width"])
    try:
        enc.load_state_dict(tensors)
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: encoder weights do not fit its config ({e})") from e
    return enc.eval().requires_grad_(False).to(generator.device)
