"""StyleGAN2 training on the toy-face world.

Non-saturating logistic loss, lazy R1 on reals, style mixing, optional differentiable
augmentation (``dynode.generators.augment``) and lazy path-length regularisation, an EMA
generator, resumable state, periodic sample grids and exports of the EMA generator as a model
folder. Real images are rendered fresh each step from ``dynode.data.toyfaces`` (rendering is
~1 ms an image, far below a training step), so there is no dataset cache and no overfitting to
a finite set.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from dynode.data.toyfaces import render, sample_factors
from dynode.config import _Config
from dynode.errors import InputError
from dynode.generators.augment import diff_augment, parse_policy
from dynode.generators.discriminator import Discriminator
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.io.checkpoints import atomic_path, save_model, torch_load
from dynode.io.images import save_grid
from dynode.seeding import seeded


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Training hyper-parameters. ``kimg`` is the total length (thousands of real images shown).

    Args:
        augment: DiffAugment policy for both D inputs, e.g. "color,translation" ("" = none).
        pl_weight: weight of the path-length regulariser on G (0 = off), applied every
            ``pl_every`` steps on half the batch, as in StyleGAN2.
    """

    generator: StyleGAN2Config = field(default_factory=lambda: StyleGAN2Config(
        resolution=64, w_dim=128, n_mlp=4, channels={4: 64, 8: 64, 16: 64, 32: 32, 64: 32}))
    kimg: float = 100.0
    batch: int = 8
    lr: float = 0.002
    r1_gamma: float = 0.1
    r1_every: int = 16
    mixing_prob: float = 0.9
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    seed: int = 0
    snapshot_kimg: float = 5.0
    augment: str = ""
    pl_weight: float = 0.0
    pl_every: int = 4
    pl_decay: float = 0.01

    def __post_init__(self):
        positive = {k: getattr(self, k) for k in ("kimg", "lr", "ema_kimg", "snapshot_kimg")}
        at_least_one = {k: getattr(self, k) for k in ("r1_every", "pl_every")}
        non_negative = {k: getattr(self, k) for k in ("r1_gamma", "ema_rampup", "pl_weight", "pl_decay")}
        bad = [k for k, v in positive.items() if not v > 0] + [k for k, v in at_least_one.items() if v < 1] \
            + [k for k, v in non_negative.items() if not v >= 0]
        if not 0 <= self.mixing_prob <= 1:
            bad.append("mixing_prob")
        if self.batch < 2 or self.batch % 2:  # real and fake halves, and the path-length half batch
            bad.append("batch")
        if bad:
            raise InputError(f"TrainConfig: invalid {', '.join(f'{k}={getattr(self, k)}' for k in bad)} "
                             "(kimg, lr, ema_kimg, snapshot_kimg > 0; batch even and >= 2; r1_every, pl_every >= 1; "
                             "r1_gamma, ema_rampup, pl_weight, pl_decay >= 0; mixing_prob in [0, 1])")
        parse_policy(self.augment)


@dataclass
class TrainResult:
    out_dir: Path
    kimg: float
    seconds: float
    images_per_second: float
    skipped_r1: int


def _requires_grad(model, flag):
    for p in model.parameters():
        p.requires_grad_(flag)


def _sample_z(batch, w_dim, mixing_prob, device, g):
    z = torch.randn(batch, w_dim, generator=g).to(device)
    if torch.rand((), generator=g).item() < mixing_prob:
        return z, torch.randn(batch, w_dim, generator=g).to(device)
    return z, None


def _mix_layer(num_ws, g):
    return int(torch.randint(1, num_ws, (), generator=g))


def _path_length_penalty(G, batch, pl_mean, decay, g):
    """StyleGAN2's path-length regulariser: the Jacobian norm of image w.r.t. w, held near its mean.

    Returns (penalty, updated running mean).
    """
    z = torch.randn(batch, G.w_dim, generator=g).to(pl_mean.device)
    ws = G.mapping(z)[:, None].repeat(1, G.num_ws, 1)
    img = G.synthesis(ws, randomize_noise=True)
    noise = torch.randn(img.shape, generator=g).to(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()
    # Start the running mean at the first measurement (a run resumed without it, or a new one),
    # so that the first penalties do not pull every path length towards zero.
    pl_mean = lengths.mean().detach() if pl_mean == 0 else pl_mean + decay * (lengths.mean().detach() - pl_mean)
    return (lengths - pl_mean).pow(2).mean(), pl_mean


@dataclass
class _Run:
    """A training run's models, optimisers and counters (what ``state.pt`` holds)."""

    G: StyleGAN2Generator
    D: Discriminator
    G_ema: StyleGAN2Generator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    step: int = 0
    images_seen: int = 0
    pl_mean: torch.Tensor | None = None
    seconds: float = 0.0  # training time before this session

    def save(self, out_dir: Path, config: TrainConfig, fixed_z: torch.Tensor, seconds: float) -> None:
        """A sample grid, the EMA generator's export, the resumable state and a log line."""
        self.G_ema.update_w_avg()
        with torch.no_grad():
            save_grid(out_dir / "samples" / f"{self.images_seen // 1000:06d}kimg.png",
                      self.G_ema(fixed_z, randomize_noise=False), ncol=8, scale=2)
        save_model(out_dir / "export", self.G_ema, "stylegan2", config.generator.to_dict(),
                   info={"kimg": self.images_seen / 1000, "train_seconds": round(seconds)})
        payload = {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                   "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step,
                   "images_seen": self.images_seen, "pl_mean": self.pl_mean.item(), "seconds": seconds,
                   "config": json.dumps(config.to_dict())}
        with atomic_path(out_dir / "state.pt") as tmp:
            torch.save(payload, tmp)
        with open(out_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"kimg": self.images_seen / 1000, "step": self.step, "wall_s": seconds}) + "\n")


def _start(config: TrainConfig, state: dict | None, device: str) -> _Run:
    """New models and optimisers (torch's generator seeded by the caller), loaded from ``state`` when resuming."""
    gcfg = config.generator
    G = StyleGAN2Generator(gcfg).to(device)
    D = Discriminator(gcfg).to(device)
    G_ema = copy.deepcopy(G).eval()
    ratio = config.r1_every / (config.r1_every + 1)
    run = _Run(G, D, G_ema, torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.0, 0.99)),
               torch.optim.Adam(D.parameters(), lr=config.lr * ratio, betas=(0.0, 0.99**ratio)),
               pl_mean=torch.zeros((), device=device))
    if state is None:
        return run
    for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
        getattr(run, name).load_state_dict(state[name])
    run.step, run.images_seen = int(state["step"]), int(state["images_seen"])
    run.pl_mean = torch.as_tensor(state.get("pl_mean", 0.0), dtype=torch.float32).to(device)
    run.seconds = float(state.get("seconds", 0.0))
    for opt, lr in ((run.opt_g, config.lr), (run.opt_d, config.lr * ratio)):
        for group in opt.param_groups:
            group["lr"] = lr
    return run


def _step(run: _Run, config: TrainConfig, data_gen: torch.Generator, device: str, stats: dict) -> bool:
    """One discriminator step (with lazy R1), one generator step (with lazy path-length regularisation)
    and the EMA update; False when a NaN R1 was skipped."""
    G, D, gcfg, b = run.G, run.D, config.generator, config.batch
    r1_ok = True

    def D_aug(images):
        return D(diff_augment(images, config.augment, data_gen))

    real = render(sample_factors(b, data_gen), gcfg.resolution).to(device)
    _requires_grad(G, False)
    _requires_grad(D, True)
    z, mix = _sample_z(b, gcfg.w_dim, config.mixing_prob, device, data_gen)
    with torch.no_grad():
        fake = G(z, mix_z=mix, mix_layer=_mix_layer(gcfg.num_ws, data_gen))
    d_loss = F.softplus(D_aug(fake)).mean() + F.softplus(-D_aug(real)).mean()
    run.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    run.opt_d.step()
    stats["d"] = d_loss.item()
    if run.step % config.r1_every == 0:
        real_r = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(D_aug(real_r).sum(), real_r, create_graph=True)
        r1 = grad.pow(2).flatten(1).sum(1).mean()
        r1_ok = bool(torch.isfinite(r1))
        if r1_ok:  # a NaN R1 would poison D: that regularisation step is skipped
            run.opt_d.zero_grad(set_to_none=True)
            (config.r1_gamma / 2 * r1 * config.r1_every).backward()
            run.opt_d.step()
            stats["r1"] = r1.item()
    _requires_grad(G, True)
    _requires_grad(D, False)
    z, mix = _sample_z(b, gcfg.w_dim, config.mixing_prob, device, data_gen)
    g_loss = F.softplus(-D_aug(G(z, mix_z=mix, mix_layer=_mix_layer(gcfg.num_ws, data_gen)))).mean()
    run.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    run.opt_g.step()
    stats["g"] = g_loss.item()
    if config.pl_weight > 0 and run.step % config.pl_every == 0:
        penalty, run.pl_mean = _path_length_penalty(G, max(b // 2, 1), run.pl_mean, config.pl_decay, data_gen)
        run.opt_g.zero_grad(set_to_none=True)
        (config.pl_weight * config.pl_every * penalty).backward()
        run.opt_g.step()
        stats["pl"] = penalty.item()
    # EMA of the generator weights, half-life ema_kimg (shorter during the ramp-up).
    run.images_seen += b
    run.step += 1
    ema_images = min(config.ema_kimg * 1000, run.images_seen * config.ema_rampup)
    beta = 0.5 ** (b / max(ema_images, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(run.G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1 - beta)
    return r1_ok


def train(config: TrainConfig, out_dir: str | Path, resume: str | Path | None = None,
          minutes: float | None = None, device: str = "cpu",
          progress: Callable[[float, float, dict], None] | None = None) -> TrainResult:
    """Train (or continue training) a generator; writes state.pt, samples and ``export/``.

    torch's generator is seeded with ``config.seed`` for the run and restored after (see
    :func:`dynode.seeding.seeded`).

    Args:
        config: hyper-parameters. When resuming, the run's generator architecture, step count and
            optimiser state are kept and every other field comes from this config, so a run can
            go on with another learning rate, batch, augmentation or regulariser.
        out_dir: run folder; ``state.pt`` (resumable), ``samples/*.png``, ``export/`` (EMA model).
        resume: a ``state.pt`` to continue from.
        minutes: stop after this wall time even if ``kimg`` is not reached (a snapshot is written).
        device: torch device.
        progress: called as progress(kimg_done, kimg_total, stats) after each step.
    """
    out_dir = Path(out_dir)
    state = None
    if resume is not None:
        state = torch_load(resume, "a training run")
        run_generator = json.loads(state["config"])["generator"]
        config = replace(config, generator=StyleGAN2Config.from_dict(run_generator))
    out_dir.mkdir(parents=True, exist_ok=True)
    with seeded(config.seed):
        run = _start(config, state, device)
        data_gen = torch.Generator().manual_seed(config.seed * 1000 + run.step)
        fixed_z = torch.randn(32, config.generator.w_dim, generator=torch.Generator().manual_seed(123)).to(device)
        t0, start_images, skipped, stats = time.time(), run.images_seen, 0, {}
        every = config.snapshot_kimg * 1000
        next_snapshot = (run.images_seen // int(every) + 1) * every
        with open(out_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"start_kimg": run.images_seen / 1000, "device": str(device),
                                 "config": config.to_dict()}) + "\n")
        while run.images_seen < config.kimg * 1000:
            if minutes is not None and time.time() - t0 > minutes * 60:
                break
            skipped += not _step(run, config, data_gen, device, stats)
            if progress is not None:
                progress(run.images_seen / 1000, config.kimg, stats)
            if run.images_seen >= next_snapshot:
                run.save(out_dir, config, fixed_z, time.time() - t0 + run.seconds)
                next_snapshot += every
        run.save(out_dir, config, fixed_z, time.time() - t0 + run.seconds)
    seconds = time.time() - t0
    return TrainResult(out_dir, run.images_seen / 1000, seconds + run.seconds,
                       (run.images_seen - start_images) / max(seconds, 1e-9), skipped)
