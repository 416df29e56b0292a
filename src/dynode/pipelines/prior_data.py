"""The training data of ``dynode train-prior``: many videos' codes, from the toy-face world (inverted
as Ray tasks, as the batch runner runs videos) or from a user's latents artifacts, for
:func:`dynode.dynamics.prior_training.train_prior`.

    codes = toy_codes("toyfaces64", videos=256, cache="runs/prior/codes")   # Ray tasks, cached per video
    codes += artifact_codes(["batch_out/"], models.record.id, fps=8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import torch
from safetensors.torch import load_file, save_file

from dynode.baselines import linear
from dynode.config import InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.dynamics.prior import PRIOR_SEEDS
from dynode.errors import InputError
from dynode.inversion import invert
from dynode.io.checkpoints import atomic_path, load_latents
from dynode.pipelines.batch import as_completed
from dynode.pipelines.models import Models
from dynode.times import frame_times

Codes = tuple[torch.Tensor, torch.Tensor]  # times (T,) seconds, codes (T, num_ws, w_dim)


def _toy_chunk(generator: str, seeds: list[int], seconds: float, fps: float, steps: int) -> list[torch.Tensor]:
    """Codes of toy-face videos ``seeds`` (a Ray task): rendered, then the generator's encoder (and
    ``steps`` optimisation steps a frame, when > 0), as inversion starts."""
    models = Models.from_pretrained(generator)
    times = frame_times(seconds, fps)
    out = []
    for seed in seeds:
        frames = ToyFaceVideo(seed).render(times, models.generator.resolution)
        if steps:
            codes = invert(models.generator, frames, times, InversionConfig(steps=steps, init="encoder"),
                           encoder=models.encoder).latents
        else:
            with torch.no_grad():
                codes = models.encoder.encode(models.generator, frames)
        out.append(codes.float().contiguous())
    return out


def toy_codes(models: Models, videos: int, cache: str | Path, seconds: float = 32.0, fps: float = 8.0,
              steps: int = 0, workers: int | None = None, address: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[Codes]:
    """Codes of ``videos`` toy-face videos (seeds from ``PRIOR_SEEDS`` up, apart from every benchmark,
    test and encoder seed), inverted as the pipeline starts: the generator's encoder, plus ``steps``
    optimisation steps a frame when > 0. Chunks of videos run as Ray tasks (this machine's CPUs, or
    the cluster at ``address``); each video's codes are cached in ``cache`` as they arrive, so an
    interrupted run continues.

    Raises:
        InputError: a generator without an encoder, or videos < 3 (one is held out to validate).
    """
    if models.encoder is None:
        raise InputError(f"toy videos for a prior are inverted with the generator's encoder; "
                         f"{models.record.name or 'this generator'} has none (train one: dynode train-encoder)")
    if videos < 3:
        raise InputError(f"a prior needs at least 3 videos (one is held out to validate), got {videos}")
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"{seconds:g}s_{fps:g}fps_{steps}steps"
    path = lambda seed: cache / f"toy{seed}_{tag}.safetensors"  # noqa: E731
    seeds = [PRIOR_SEEDS + i for i in range(videos)]
    todo = [s for s in seeds if not path(s).is_file()]
    done = videos - len(todo)
    if progress:
        progress(done, videos)
    if todo:
        jobs = {tuple(todo[i:i + 8]): (models.record.name, todo[i:i + 8], seconds, fps, steps)
                for i in range(0, len(todo), 8)}
        for chunk, out in as_completed(_toy_chunk, jobs, address, workers, retries=1):
            if isinstance(out, Exception):
                raise out
            for seed, codes in zip(chunk, out):
                with atomic_path(path(seed)) as tmp:
                    save_file({"codes": codes}, str(tmp))
            done += len(chunk)
            if progress:
                progress(done, videos)
    times = frame_times(seconds, fps)
    return [(times, load_file(str(path(s)))["codes"]) for s in seeds]


def artifact_codes(inputs: Iterable[str | Path], generator_id: str, fps: float = 8.0) -> list[Codes]:
    """Codes of the latents artifacts named by ``inputs`` (files, or folders searched for
    ``*.safetensors`` latents, e.g. a ``dynode batch`` output), resampled linearly to ``fps`` so that
    videos of any rate train one prior.

    Raises:
        InputError: nothing found, an artifact of another generator, or one shorter than two frames.
    """
    files = []
    for item in map(Path, inputs):
        files += sorted(item.rglob("latents*.safetensors")) if item.is_dir() else [item]
    if not files:
        raise InputError(f"no latents artifacts (latents*.safetensors) in {[str(i) for i in inputs]}")
    out = []
    for file in files:
        seq = load_latents(file)
        if seq.generator.id != generator_id:
            raise InputError(f"{file}: codes of generator {seq.generator.id}, not of {generator_id}")
        if len(seq) < 2:
            raise InputError(f"{file}: a prior learns motion from at least two frames, this has {len(seq)}")
        t = seq.times - seq.times[0]
        grid = frame_times(float(t[-1]) + 1 / fps, fps)
        grid = grid[grid <= t[-1]]
        out.append((grid, linear(t, seq.latents, grid)))
    return out
