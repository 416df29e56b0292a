"""Optimisation-based inversion of video frames into W or W+, warm-started frame to frame."""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import torch

from dynode.config import InversionConfig
from dynode.errors import InputError
from dynode.metrics.image import psnr, ssim
from dynode.metrics.perceptual import stlpips
from dynode.types import Generator, InversionStats, LatentSequence


def _lr_at(step: int, total: int, peak: float) -> float:
    """Cosine ramp-down over the last quarter, short linear warm-up (as in StyleGAN2's projector)."""
    frac = step / max(total, 1)
    ramp = min(1.0, (1 - frac) / 0.25)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return peak * ramp * min(1.0, frac / 0.05 + 0.05)


def _loss(gen: Generator, codes: torch.Tensor, target: torch.Tensor, cfg: InversionConfig):
    img = gen.synthesis(codes)
    per_frame = (img - target).pow(2).flatten(1).mean(1) + cfg.ssim_weight * (1 - ssim(img, target))
    if cfg.perceptual_weight:
        per_frame = per_frame + cfg.perceptual_weight * stlpips(img, target)
    return per_frame, img


def _optimise(gen, init, target, steps, cfg):
    codes = init.clone().requires_grad_(True)
    opt = torch.optim.Adam([codes], lr=cfg.lr, betas=(0.9, 0.999))
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, cfg.lr)
        per_frame, _ = _loss(gen, codes, target, cfg)
        opt.zero_grad(set_to_none=True)
        per_frame.sum().backward()
        opt.step()
    with torch.no_grad():
        per_frame, img = _loss(gen, codes, target, cfg)
    return codes.detach(), per_frame, psnr(img, target)


def _encoded(encoder, generator: Generator, images: torch.Tensor, config: InversionConfig) -> torch.Tensor:
    """The encoder's codes for images after ``config.passes`` passes, in the inversion's space (W: the
    mean over layers)."""
    codes = encoder.encode(generator, images, config.passes)
    return codes.mean(1) if config.space == "w" else codes


def invert(generator: Generator, images: torch.Tensor, times: torch.Tensor,
           config: InversionConfig = InversionConfig(), progress: Callable[[int, int], None] | None = None,
           encoder: torch.nn.Module | None = None, done: tuple[torch.Tensor, ...] | None = None,
           checkpoint: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
           restarts: Sequence[int] = ()) -> LatentSequence:
    """Invert every frame of a video.

    Where each batch of ``batch_size`` frames starts (``config.init``): ``previous`` (the first
    frame from the mean code with ``steps_first`` steps, each later batch from the last code of
    the previous batch: warm start), ``mean`` (every batch from the mean code), ``encoder``
    (the first frame from ``encoder``'s code, each later frame from the previous batch's last
    code plus the encoder's change between the two frames; ``steps`` steps each, no cold start;
    with 0 steps every code is the encoder's), ``auto`` (the encoder if one is given, else
    ``previous``). The generator is not tuned here (see :func:`dynode.inversion.pivotal_tuning`).

    Args:
        generator: the generator (its parameters are not changed).
        images: float32 (T, 3, R, R) in [-1, 1], R the generator's resolution.
        times: (T,) seconds, strictly increasing.
        config: inversion settings.
        progress: called as progress(frames_done, frames_total).
        encoder: an :class:`dynode.inversion.encoder.Encoder` (its ``encode``, ``config.passes``
            passes), for init ``encoder`` or ``auto``.
        done: (codes, losses, psnr) of the first frames, already inverted by an interrupted run
            with the same frames and config (they continue where it stopped, as it would have).
        checkpoint: called with (codes, losses, psnr) of every frame inverted so far after each
            batch (to keep them for a resume).
        restarts: frames that start afresh as the first frame does (the first frames of a
            video's later shots): no warm start from the frame before.

    Returns:
        LatentSequence with (T, num_ws, w_dim) codes (W codes broadcast), per-frame loss and PSNR.

    Raises:
        InputError: images of the wrong shape or resolution, times of the wrong length, or init
            ``encoder`` (or 0 steps) without an encoder.
    """
    res = generator.resolution
    if images.dim() != 4 or images.shape[1:] != (3, res, res):
        raise InputError(f"invert(): expected frames of shape (T, 3, {res}, {res}) for this generator, got "
                         f"{tuple(images.shape)}; resize or align the video to {res}x{res} first")
    if len(times) != len(images):
        raise InputError(f"invert(): {len(images)} frames but {len(times)} times")
    generator.requires_grad_(False)
    device = generator.device
    images = images.to(device)
    start = time.time()
    config = config.resolved(encoder is not None)
    init_mode = config.init
    w_avg = generator.mean_latent.detach()
    mean = w_avg[None] if config.space == "w" else w_avg[None, None].repeat(1, generator.num_ws, 1)
    init = mean
    codes, losses, psnrs = [], [], []
    heads = sorted({0, *(int(r) for r in restarts if 0 < int(r) < len(images))})
    batches = []
    for first, stop in zip(heads, heads[1:] + [len(images)]):
        batches += [[first]] + [list(range(i, min(i + config.batch_size, stop)))
                                for i in range(first + 1, stop, config.batch_size)]
    finished = 0
    if done is not None:
        n = len(done[0])
        if n not in [b[0] for b in batches] + [len(images)]:
            raise InputError(f"invert(): {n} frames already done is not a batch boundary of this config")
        codes, losses, psnrs = [[x.to(device)] for x in done]
        finished = n
        if n and init_mode in ("previous", "encoder"):
            init = done[0][-1:].to(device)
            if init_mode == "encoder":
                last_guess = _encoded(encoder, generator, images[n - 1:n], config)
    for idx in batches:
        if idx[0] < finished:
            continue
        head = idx[0] in heads
        steps = config.steps_first if head and init_mode != "encoder" else config.steps
        if init_mode == "encoder":
            guess = _encoded(encoder, generator, images[idx], config)
            # The first frame from the encoder's code; later ones from the previous frame's solution
            # moved by the encoder's change between the frames (its codes are rough, its changes less so).
            start_codes = guess if head or not config.steps else init + guess - last_guess
            last_guess = guess[-1:]
        else:
            start_codes = (mean if head else init).expand(len(idx), *init.shape[1:])
        c, loss, p = _optimise(generator, start_codes, images[idx], steps, config)
        codes.append(c)
        losses.append(loss)
        psnrs.append(p)
        init = c[-1:] if init_mode in ("previous", "encoder") else mean
        finished += len(idx)
        if checkpoint is not None:
            checkpoint(*(torch.cat(x).cpu() for x in (codes, losses, psnrs)))
        if progress is not None:
            progress(finished, len(images))
    codes = torch.cat(codes)
    if config.space == "w":
        codes = codes[:, None].repeat(1, generator.num_ws, 1)
    seconds = time.time() - start
    return LatentSequence(times, codes.cpu(), torch.cat(losses).cpu(), torch.cat(psnrs).cpu(),
                          generator.record, config.space,
                          InversionStats(config, init_mode, seconds, seconds / len(images)))
