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


class _Starts:
    """Where each batch's optimisation starts (``config.init``, see :func:`invert`), batch after batch."""

    def __init__(self, generator: Generator, encoder, config: InversionConfig):
        self.generator, self.encoder, self.config, self.mode = generator, encoder, config, config.init
        w_avg = generator.mean_latent.detach()
        self.mean = w_avg[None] if config.space == "w" else w_avg[None, None].repeat(1, generator.num_ws, 1)
        self.last, self.last_guess = self.mean, None

    def resume(self, last: torch.Tensor, last_image: torch.Tensor) -> None:
        """Continue after an interrupted run whose last code is ``last``, of the frame ``last_image``."""
        if self.mode in ("previous", "encoder"):
            self.last = last
            if self.mode == "encoder":
                self.last_guess = _encoded(self.encoder, self.generator, last_image, self.config)

    def steps(self, head: bool) -> int:
        """Optimisation steps of a batch (``head``: it starts afresh)."""
        return self.config.steps_first if head and self.mode != "encoder" else self.config.steps

    def before(self, images: torch.Tensor, head: bool) -> torch.Tensor:
        """The starting codes of the batch of ``images``."""
        if self.mode != "encoder":
            return (self.mean if head else self.last).expand(len(images), *self.last.shape[1:])
        guess = _encoded(self.encoder, self.generator, images, self.config)
        # The first frame from the encoder's code; later ones from the previous frame's solution
        # moved by the encoder's change between the frames (its codes are rough, its changes less so).
        start = guess if head or not self.config.steps else self.last + guess - self.last_guess
        self.last_guess = guess[-1:]
        return start

    def after(self, codes: torch.Tensor) -> None:
        """Record a batch's solved codes: a warm start begins the next batch from its last."""
        self.last = codes[-1:] if self.mode in ("previous", "encoder") else self.mean


def _check_frames(generator: Generator, images: torch.Tensor, times: torch.Tensor) -> None:
    """InputError unless ``images`` are (T, 3, R, R) at the generator's resolution with one time each."""
    res = generator.resolution
    if images.dim() != 4 or images.shape[1:] != (3, res, res):
        raise InputError(f"invert(): expected frames of shape (T, 3, {res}, {res}) for this generator, got "
                         f"{tuple(images.shape)}; resize or align the video to {res}x{res} first")
    if len(times) != len(images):
        raise InputError(f"invert(): {len(images)} frames but {len(times)} times")


def _batches(frames: int, restarts: Sequence[int], size: int) -> tuple[list[int], list[list[int]]]:
    """The frames that start afresh (the first, and each restart), and the batches of frame indices in order:
    each such frame alone, then the frames up to the next one in batches of ``size``."""
    heads = sorted({0, *(int(r) for r in restarts if 0 < int(r) < frames)})
    batches = []
    for first, stop in zip(heads, heads[1:] + [frames]):
        batches += [[first]] + [list(range(i, min(i + size, stop))) for i in range(first + 1, stop, size)]
    return heads, batches


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
    _check_frames(generator, images, times)
    generator.requires_grad_(False)
    device = generator.device
    images = images.to(device)
    start = time.time()
    config = config.resolved(encoder is not None)
    starts = _Starts(generator, encoder, config)
    codes, losses, psnrs = [], [], []
    heads, batches = _batches(len(images), restarts, config.batch_size)
    finished = 0
    if done is not None:
        n = len(done[0])
        if n not in [b[0] for b in batches] + [len(images)]:
            raise InputError(f"invert(): {n} frames already done is not a batch boundary of this config")
        codes, losses, psnrs = [[x.to(device)] for x in done]
        finished = n
        if n:
            starts.resume(done[0][-1:].to(device), images[n - 1:n])
    for idx in batches:
        if idx[0] < finished:
            continue
        head = idx[0] in heads
        c, loss, p = _optimise(generator, starts.before(images[idx], head), images[idx], starts.steps(head), config)
        codes.append(c)
        losses.append(loss)
        psnrs.append(p)
        starts.after(c)
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
                          InversionStats(config, config.init, seconds, seconds / len(images)))
