"""Pivotal tuning: adapt a copy of the generator to a video so out-of-domain faces reconstruct.

After inversion, the codes are held fixed as pivots and the synthesis weights are fine-tuned
so that G(pivot_i) matches frame i (pixel MSE + SSIM term). A locality regulariser keeps the
rest of the latent space in place: codes a few standard deviations from a pivot, towards a
random sample, must render as the original generator rendered them. Only the change of the
weights (the delta) is kept; it travels with the video's artifacts, and
:meth:`dynode.VideoPipeline.from_artifacts` reloads the generator with it for every later stage.
"""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from dynode.config import PTIConfig
from dynode.errors import InputError
from dynode.types import Generator, TuningStats
from dynode.metrics.image import psnr, ssim


def tunable(generator: Generator) -> dict[str, torch.nn.Parameter]:
    """The synthesis network's parameters (the mapping network stays as it is)."""
    return {k: p for k, p in generator.named_parameters() if not k.startswith("style.")}


def pivotal_tuning(generator: Generator, images: torch.Tensor, pivots: torch.Tensor,
                   config: PTIConfig = PTIConfig(), seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, torch.Tensor], TuningStats]:
    """Tune a copy of ``generator`` on (T, 3, R, R) images at their (T, num_ws, w_dim) pivots.

    Returns:
        (delta, stats): the change of each synthesis parameter (name -> tensor, on the CPU) and
        how it went (the reconstruction PSNR at the pivots before and after, the seconds taken).
    """
    if images.shape[0] != pivots.shape[0] or pivots.shape[1:] != (generator.num_ws, generator.w_dim):
        raise InputError(f"pivotal_tuning: {images.shape[0]} images need as many pivots of shape "
                         f"({generator.num_ws}, {generator.w_dim}), got {tuple(pivots.shape)}")
    start = time.time()
    device = generator.device
    images, pivots = images.to(device), pivots.to(device)
    tuned = copy.deepcopy(generator).train(False)
    params = tunable(tuned)
    for p in tuned.parameters():
        p.requires_grad_(False)
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.Adam(params.values(), lr=config.lr)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        before = float(psnr(generator.synthesis(pivots), images).mean())
        z = torch.randn(2000, generator.w_dim, generator=g).to(device)
        spread = generator.mapping(z).std(0).norm()
    for step in range(config.steps):
        idx = torch.randint(len(images), (min(config.batch_size, len(images)),), generator=g)
        img = tuned.synthesis(pivots[idx])
        target = images[idx]
        loss = (img - target).pow(2).flatten(1).mean(1).mean() + config.ssim_weight * (1 - ssim(img, target)).mean()
        if config.locality_weight and step % config.locality_every == 0:
            w_z = generator.mapping(torch.randn(len(idx), generator.w_dim, generator=g).to(device))[:, None]
            away = w_z - pivots[idx]
            near = pivots[idx] + config.locality_distance * spread * away / away.flatten(1).norm(dim=1)[:, None, None]
            with torch.no_grad():
                reference = generator.synthesis(near)
            loss = loss + config.locality_every * config.locality_weight * (tuned.synthesis(near) - reference).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step + 1, config.steps)
    originals = dict(generator.named_parameters())
    with torch.no_grad():
        after = float(psnr(tuned.synthesis(pivots), images).mean())
        delta = {k: (p - originals[k]).detach().cpu() for k, p in params.items()}
    return delta, TuningStats(config, round(before, 3), round(after, 3), round(time.time() - start, 2))

