"""Edit directions learned through the generator: a W+ offset that moves one attribute and keeps the rest.

An InterFaceGAN normal is fitted to a linear boundary among sampled W codes and added to every
layer; on a small generator it barely moves shape attributes (a smile) and drags others along
(a hair colour that adds glasses). Here the offset itself is trained, as the Latent Transformer
trains its edits, through the generator and an attribute reader (the toy-face probe, or one trained
from a user's labelled frames, :mod:`dynode.edit.examples`):

    loss = -min(s * (a(G(w + s d)) - a(G(w)))_target, gain_cap)
           + other_weight * mean |a(G(w + s d)) - a(G(w))|_others
           + pixel_weight * mean |G(w + s d) - G(w)| + norm_weight * |d|^2

over codes w drawn from the generator's samples and from the encoder's codes of toy-face frames
(the codes inversion gives) or of a user's example frames, with a random sign s per code, so that negative strengths move the
attribute the other way. ``d`` lives on every W+ layer unless layers are given: the norm term
leaves the layers that do not help near zero. Strength 1 is then calibrated to move the attribute
by ``unit_change`` of its range on the generator's samples, so a strength means the same visible
amount for every learned direction.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn

from dynode.config.training import LearnConfig
from dynode.edit.directions import EDITABLE, Direction, sample_w
from dynode.errors import InputError
from dynode.inversion.encoder import toy_frames
from dynode.types import Generator


def _pool(generator: Generator, config: LearnConfig, encoder, rng: torch.Generator,
          frames: torch.Tensor | None) -> torch.Tensor:
    """The codes the offset trains on: (pool [+ inverted], num_ws, w_dim), samples then the encoder's codes
    of ``frames`` (default: as many toy-face frames as the pool)."""
    codes = sample_w(generator, config.pool, config.seed)[:, None].repeat(1, generator.num_ws, 1)
    if encoder is not None and config.toy:
        if frames is None:
            frames = toy_frames(config.pool, generator.resolution, rng)
        with torch.no_grad():
            codes = torch.cat([codes, encoder.encode(generator, frames.to(generator.device)).cpu()])
    return codes


@torch.no_grad()
def _read(generator: Generator, reader: nn.Module, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.cat([generator.synthesis(c.to(generator.device)) for c in codes.split(64)])
    return images, torch.cat([reader(x) for x in images.split(64)])


def _calibrated(generator: Generator, reader: nn.Module, d: torch.Tensor, name: str, attribute: str,
                others: list[int], config: LearnConfig) -> tuple[float, dict]:
    """The share of the trained offset ``d`` that strength 1 adds, so that it moves the attribute by
    ``unit_change`` on samples the offset never trained on, and what was measured on the way."""
    target = reader.attributes.index(attribute)
    check = sample_w(generator, config.pool, config.seed + 1)[:, None].repeat(1, generator.num_ws, 1)
    _, before = _read(generator, reader, check)
    _, after = _read(generator, reader, check + d)
    moved = float((after - before)[:, target].mean())
    if moved < 0.01:
        raise InputError(f"learn_direction: the offset for {name!r} moves {attribute} by only {moved:.3f} on "
                         "the generator's samples; more steps, other layers or another reader may help")
    # A few secant steps, the response being curved.
    scale = config.unit_change / moved
    for _ in range(3):
        _, unit = _read(generator, reader, check + scale * d)
        reached = float((unit - before)[:, target].mean())
        if abs(reached - config.unit_change) < 0.1 * config.unit_change or reached <= 0:
            break
        scale *= config.unit_change / reached
    else:
        _, unit = _read(generator, reader, check + scale * d)
    return scale, {"steps": config.steps, "seed": config.seed, "trained_change": round(moved, 4),
                   "unit_change": round(float((unit - before)[:, target].mean()), 4),
                   "others_change_at_unit": round(float((unit - before)[:, others].abs().mean()), 4)
                   if others else None}


def learn_direction(generator: Generator, reader: nn.Module, name: str,
                    layers: tuple[int, ...] | None = None, config: LearnConfig = LearnConfig(),
                    encoder=None, progress: Callable[[int, int, float], None] | None = None,
                    frames: torch.Tensor | None = None) -> Direction:
    """A learned direction for the attribute ``name`` edits: that of :data:`dynode.edit.directions.EDITABLE`
    for the toy-face probe, the reader's own for a reader with one output (:mod:`dynode.edit.examples`).

    Args:
        generator: the generator (its weights are not changed).
        reader: reads the attributes it names (``reader.attributes``) from renders, each in [0, 1].
        layers: W+ layers the offset may use (None: all).
        encoder: the generator's encoder, for codes like inversion's (None: sampled codes only).
        progress: called as progress(step, steps, loss).
        frames: (N, 3, R, R) the frames whose encoder codes train beside the samples (default: toy-face
            frames).

    Returns:
        A (num_ws, w_dim) direction of method "learned" whose strength 1 moves the attribute by
        ``config.unit_change`` on the generator's samples; ``info`` holds that calibration and
        the other attributes' mean change at strength 1.

    Raises:
        InputError: a name with no attribute, or an offset that does not move the attribute.
    """
    names = reader.attributes
    attribute = names[0] if len(names) == 1 else EDITABLE.get(name)
    if attribute not in names:
        raise InputError(f"learn_direction: no attribute for {name!r}; known: {sorted(EDITABLE)}")
    start = time.time()
    target = names.index(attribute)
    others = [i for i in range(len(names)) if i != target]
    rng = torch.Generator().manual_seed(config.seed)
    device = generator.device
    generator.requires_grad_(False)
    reader.requires_grad_(False)
    pool = _pool(generator, config, encoder, rng, frames)
    images, readings = _read(generator, reader, pool)
    mask = torch.zeros(generator.num_ws, 1, device=device)
    mask[list(range(generator.num_ws)) if layers is None else list(layers)] = 1
    offset = torch.zeros(generator.num_ws, generator.w_dim, device=device, requires_grad=True)
    opt = torch.optim.Adam([offset], lr=config.lr)
    n_samples = config.pool
    for step in range(config.steps):
        pick = torch.randint(n_samples, (config.samples,), generator=rng)
        if len(pool) > n_samples and config.toy:
            pick = torch.cat([pick, n_samples + torch.randint(len(pool) - n_samples, (config.toy,), generator=rng)])
        sign = (torch.randint(2, (len(pick),), generator=rng) * 2 - 1).float().to(device)
        edited = generator.synthesis(pool[pick].to(device) + sign[:, None, None] * (mask * offset))
        change = reader(edited) - readings[pick].to(device)
        gain = (sign * change[:, target]).clamp(max=config.gain_cap)
        kept = change[:, others].abs().mean() if others else 0.0
        loss = -gain.mean() + config.other_weight * kept \
            + config.pixel_weight * (edited - images[pick].to(device)).abs().mean() \
            + config.norm_weight * offset.pow(2).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step + 1, config.steps, float(loss))
    d = (mask * offset).detach().cpu()
    scale, info = _calibrated(generator, reader, d, name, attribute, others, config)
    info["seconds"] = round(time.time() - start, 1)
    norm = float(d.norm())
    return Direction(name, d, norm * scale, layers, "learned", attribute, generator.record.id or None, info)
