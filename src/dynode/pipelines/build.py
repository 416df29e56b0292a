"""Building a fitted video's parts: a video read, frames inverted (resumably, each span's first frame afresh), codes
tuned (pivotal tuning, with the tuned PSNR), parts fitted and saved, and codes or trajectories read back from artifacts.
:class:`~dynode.pipelines.video.VideoPipeline` chains these; each is a plain function of its inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dynode.config import FitConfig, InversionConfig, PTIConfig, ReadConfig
from dynode.dynamics import Trajectory, field_for, fit, load_trajectories, load_trajectory, save_trajectories, save_trajectory
from dynode.errors import CheckpointError, InputError
from dynode.inversion import invert, pivotal_tuning
from dynode.inversion.resume import resume
from dynode.io.checkpoints import artifact_kind, load_latents
from dynode.io.images import from_uint8
from dynode.io.source import read_source
from dynode.metrics import psnr
from dynode.pipelines.models import Models
from dynode.pipelines.spans import Part, select_frames
from dynode.types import Frames, LatentSequence, Source, Span

Progress = Callable[[int, int], None]  # (frames done, frames in all)
FitProgress = Callable[[int, int, float], None]  # (iterations done, in all, loss)
Log = Callable[[str], None]


def read_video(video: str | Path, resolution: int, read: ReadConfig,
               log: Log) -> tuple[Frames, Source]:
    """A video's frames to invert and its record (:func:`dynode.io.source.read_source`, with the face
    aligner when ``read.align``)."""
    aligner = None
    if read.align:
        from dynode.align.face import align_reader as aligner
    return read_source(video, resolution, read, log, aligner)


def invert_frames(models: Models, frames: Frames, inversion: InversionConfig, progress: Progress | None,
                  log: Log, source: Source | None = None, partial: str | Path | None = None,
                  tune_progress: Progress | None = None) -> tuple[Models, LatentSequence]:
    """The codes of ``frames`` (uint8, the generator's size), recording ``source``, and the models they
    go with: with ``inversion``'s tuning (by default when the codes are the encoder's), a copy of the
    generator tuned to the whole video (see :func:`tune_codes`).

    Args:
        source: the video the frames came from; when it records spans, ``frames`` are the fitted
            spans' frames and each span's first frame is inverted afresh.
        partial: a file where the inversion keeps the frames done so far (see
            :mod:`dynode.inversion.resume`); removed once the inversion and the tuning are complete
            (an interrupted tuning starts again from the kept codes).
        tune_progress: the tuning's progress, called as tune_progress(steps_done, steps_total).

    Raises:
        InputError: fewer than 2 frames, frames of another size than the generator's, or
            inversion init "encoder" (or 0 steps) for a generator without an encoder (remedy "encoder").
    """
    generator = models.generator
    res = generator.resolution
    if len(frames) < 2:
        raise InputError(f"{len(frames)} frame(s) to invert; dynode needs at least 2")
    if frames.pixels.shape[1:3] != (res, res):
        raise InputError(f"frames are {frames.pixels.shape[2]}x{frames.pixels.shape[1]} but the generator "
                         f"makes {res}x{res}")
    inversion = inversion.resolved(models.encoder is not None, f"generator {generator.record.label}")
    done, keep = resume(partial, frames, generator, inversion, log) if partial is not None else (None, None)
    lengths = [len(span) for span in source.spans if span.kind == "fit"] if source is not None else []
    encoder = models.encoder if inversion.init == "encoder" else None
    seq = replace(invert(generator, from_uint8(frames.pixels), frames.times, inversion, progress, encoder, done, keep,
                         np.cumsum(lengths[:-1]).tolist()), source=source)
    if inversion.tune:
        models, seq = tune_codes(models, seq, frames, inversion.tuning, tune_progress)
    if partial is not None:
        Path(partial).unlink(missing_ok=True)
    return models, seq


def tune_codes(models: Models, sequence: LatentSequence, frames: Frames, config: PTIConfig,
               progress: Progress | None = None) -> tuple[Models, LatentSequence]:
    """Pivotal tuning around ``sequence``'s codes (see :func:`dynode.inversion.pivotal_tuning`): the
    tuned models, and the codes recording the tuning delta, their tuned PSNR and how they were tuned
    (``tuning``: the PSNR before and after).

    Raises:
        InputError: codes already made with a tuned generator, or frames lacking one of their times.
    """
    if sequence.generator.delta is not None:
        raise InputError("these codes already come with a tuned generator; invert the video again to retune")
    images = from_uint8(select_frames(frames, sequence.times).pixels)
    delta, stats = pivotal_tuning(models.generator, images, sequence.latents, config, progress=progress)
    tuned = models.tuned(delta)
    generator = tuned.generator
    with torch.no_grad():
        scores = torch.cat([psnr(generator.synthesis(w.to(generator.device)).cpu(), x)
                            for w, x in zip(sequence.latents.split(16), images.split(16))])
    return tuned, replace(sequence, generator=tuned.record, psnr=scores, tuning=stats)


def fit_parts(parts: list[Part], models: Models, config: FitConfig, progress: FitProgress | None = None,
              frames: dict[Span, Frames] | None = None) -> list[Trajectory]:
    """Each part's codes fitted (see :func:`dynode.dynamics.fit`; with ``config.image_weight`` against the
    part's ``frames``, by span; with field "prior", the bundle's motion prior), ``progress`` counting
    iterations over all the parts.

    Raises:
        InputError: an image loss without the parts' frames.
    """
    if config.image_weight and (frames is None or any(part.span not in frames for part in parts)):
        raise InputError("an image-space loss (image_weight) needs every part's frames")
    generator, trajectories = models.generator, []
    steps = config.refine if field_for(config, models.prior) == "prior" else config.iters
    for k, part in enumerate(parts):
        images = from_uint8(frames[part.span].pixels).to(generator.device) if config.image_weight else None
        report = None if progress is None else \
            (lambda done, _, *rest, k=k: progress(k * steps + done, len(parts) * steps, *rest))
        trajectories.append(fit(part.sequence, config, report, generator, images, models.prior))
    return trajectories


def save_fitted(path: str | Path, trajectories: list[Trajectory]) -> Path:
    """Write fitted trajectories: one trajectory artifact, or one holding every span's."""
    if len(trajectories) == 1:
        save_trajectory(path, trajectories[0])
    else:
        save_trajectories(path, trajectories)
    return Path(path)


def fit_summary(trajectories: list[Trajectory]) -> str:
    """One line on a fit: its time and loss (per span for a video of several)."""
    stats = [traj.stats for traj in trajectories]
    if len(stats) == 1:
        return f"fitted in {stats[0].seconds:.1f} s, loss {stats[0].best_loss:.4g}"
    losses = ", ".join(f"{s.best_loss:.3g}" for s in stats)
    return f"{len(stats)} spans fitted in {sum(s.seconds for s in stats):.1f} s, losses {losses}"


def read_artifact(path: str | Path, device: str = "cpu", models: Models | None = None) \
        -> tuple[Models, LatentSequence | None, list[Trajectory]]:
    """The models, codes and trajectories of a latents or trajectory artifact (one trajectory, or one per
    span of a video of several); the models reloaded from the generator record it holds (name, weight
    id and tuning delta), or ``models`` if given (used as they are).

    Raises:
        CheckpointError: unreadable artifact, one of another kind, a recorded generator that is gone or
            whose weights changed, or one built in memory (remedy "pass_generator").
    """
    kind = artifact_kind(path)
    if kind == "latents":
        sequence, trajectories = load_latents(path), []
    elif kind == "trajectory":
        sequence, trajectories = None, [load_trajectory(path)]
    elif kind == "trajectories":
        sequence, trajectories = None, load_trajectories(path)
    else:
        raise CheckpointError(f"{path}: artifact of kind {kind!r}; expected a latents or trajectory artifact")
    record = (sequence or trajectories[0]).generator
    if models is None:
        if not record.name:
            raise CheckpointError(f"{path}: made with a generator built in memory, which cannot be reloaded",
                                  "pass_generator")
        models = Models.from_pretrained(record.name, device, record.delta, record.id)
    return models, sequence, trajectories
