"""Helpers shared by the benchmark scripts: toy-face videos inverted once and cached on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from dynode.config import InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.io.checkpoints import atomic_path, load_latents, save_latents
from dynode.io.images import from_uint8, to_uint8
from dynode.metrics import psnr, ssim, stlpips
from dynode.pipelines import Models, VideoPipeline
from dynode.types import Frames

METRICS = ("psnr", "ssim", "stlpips", "smoothness")


def inverted(models: Models, seed: int, times: torch.Tensor, cfg: InversionConfig, cache: Path | None,
             motion: float = 1.0) -> VideoPipeline:
    """A pipeline of toy-face video ``seed`` at ``times`` (its frames in memory) with its inversion,
    cached on disk by generator, seed, times and config; ``motion`` scales the video's motion (see ToyFaceVideo)."""
    gen = models.generator
    frames = Frames(to_uint8(ToyFaceVideo(seed, motion).render(times, gen.resolution)), times,
                    1 / float(times[1] - times[0]))
    path = None
    if cache is not None:
        key = f"{gen.record.id or 'memory'}_s{seed}_n{len(times)}_{float(times[1] - times[0]):.5f}_{cfg.hash()}" \
            + (f"_m{motion:g}" if motion != 1 else "")
        path = cache / f"{key}.safetensors"
        if path.is_file():
            return VideoPipeline(models, load_latents(path), frames=frames)
    pipe = VideoPipeline.from_frames(frames, models, cfg, fit=None)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        save_latents(path, pipe.sequence)
    return pipe


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


def smoothness(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean |second difference of pred - second difference of truth| in 0-255 levels."""
    d2 = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    return float((d2(pred) - d2(truth)).abs().mean() * 127.5)


def scores(pred: np.ndarray, truth: torch.Tensor, rows: list[int], seconds: float) -> dict:
    """PSNR, SSIM and ST-LPIPS of uint8 frames ``pred`` against ``truth`` at ``rows``, smoothness over all."""
    x = from_uint8(pred)
    with torch.no_grad():
        return {"psnr": float(psnr(x[rows], truth[rows]).mean()), "ssim": float(ssim(x[rows], truth[rows]).mean()),
                "stlpips": float(stlpips(x[rows], truth[rows]).mean()), "smoothness": smoothness(x, truth),
                "seconds": seconds, "render_seconds": seconds}
