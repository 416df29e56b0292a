"""Helpers shared by the benchmark scripts: toy-face videos inverted once and cached on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from dynode.config import InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.inversion import invert
from dynode.io.checkpoints import atomic_path
from dynode.io.images import from_uint8, to_uint8
from dynode.types import LatentSequence


def inverted(gen, generator: str, seed: int, times: torch.Tensor, cfg: InversionConfig, cache: Path | None):
    """Frames (uint8) of toy-face video ``seed`` at ``times`` and their inversion, cached on disk by
    seed, times and config."""
    frames = to_uint8(ToyFaceVideo(seed).render(times, gen.resolution))
    path = None
    if cache is not None:
        key = f"{generator.replace('/', '_')}_s{seed}_n{len(times)}_{float(times[1] - times[0]):.5f}_{cfg.hash()}"
        path = cache / f"{key}.safetensors"
        if path.is_file():
            return frames, LatentSequence.load(path)
    seq = invert(gen, from_uint8(frames), times, cfg, generator)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        seq.save(path)
    return frames, seq


def timed(fn):
    """(fn(), seconds)."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def save_report(out: Path, name: str, table: str, report: dict) -> None:
    """Write ``name``.md (the markdown table) and ``name``.json (the report) into ``out``, atomically."""
    for suffix, text in ((".md", table), (".json", json.dumps(report, indent=2))):
        with atomic_path(out / f"{name}{suffix}") as tmp:
            tmp.write_text(text)
