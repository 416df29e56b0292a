"""The user-level stages: each takes an artifact (or video path) and returns the next one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from dynode.config import FitConfig, InversionConfig, PTIConfig
from dynode.dynamics import Trajectory, fit
from dynode.edit import Edit, Schedule, get_direction, motion_component, parse_layers, propagate, scale_motion
from dynode.errors import InputError
from dynode.generators import apply_delta, load_generator
from dynode.generators.stylegan2 import StyleGAN2Generator
from dynode.inversion import invert, pivotal_tuning
from dynode.metrics import psnr
from dynode.io.images import from_uint8, to_uint8
from dynode.io.video import VideoReader, read_video, resize_square
from dynode.pipelines.times import future_times, render_times
from dynode.render import iter_render, render_pixels
from dynode.types import LatentSequence

Progress = Callable[[int, int], None]


def invert_video(path: str | Path, generator_name: str = "toyfaces64", config: InversionConfig = InversionConfig(),
                 resize: bool = False, every: int = 1, device: str = "cpu",
                 progress: Progress | None = None, align: bool = False, sigma: float = 2.0,
                 log: Callable[[str], None] | None = None, pti: PTIConfig | None = None) -> LatentSequence:
    """Read a video and invert its frames (every ``every``-th frame, real timestamps kept).

    With ``align`` the face of each frame is cropped FFHQ-style first (:func:`dynode.align.align_video`,
    ``sigma`` smoothing the crop in time). The video's path (and the alignment) are recorded in
    ``info["source"]``, so that renders can be pasted back into the full frames and carry its audio. With ``pti`` the
    generator is then tuned around the codes (:func:`dynode.inversion.pivotal_tuning`): the weight
    delta is kept in ``delta``, the per-frame PSNR is the tuned generator's and ``info["pti"]``
    holds the PSNR before. Frames are decoded one at a time and reduced (cropped or resized)
    as they come, so only the generator-sized frames are held in memory.

    Raises:
        InputError: unreadable video, < 2 frames, frames of the wrong size without ``resize`` or
            ``align``, or no face anywhere with ``align``.
        CheckpointError: unknown or unreadable generator.
    """
    if every < 1:
        raise InputError(f"every must be >= 1, got {every}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such video file or folder")
    if align and not path.is_file():
        raise InputError(f"{path}: --align needs a video file")
    generator = load_generator(generator_name, device)
    res = generator.resolution
    source = {"video": str(path.resolve()), "every": every}
    if align:
        from dynode.align import align_video
        alignment, frames = align_video(VideoReader(path), res, sigma, log=log, every=every)
        source["alignment"] = alignment.to_dict()
    else:
        frames = read_video(path, log=log, every=every, size=res if resize else None)
    if len(frames) < 2:
        raise InputError(f"{path}: only {len(frames)} frame(s) left after taking every {every}th; need >= 2")
    if frames.pixels.shape[1:3] != (res, res):
        h, w = frames.pixels.shape[1:3]
        raise InputError(f"{path}: frames are {w}x{h} but the generator makes {res}x{res}; "
                         "pass --resize to centre-crop and resize, or --align to crop the face")
    images = from_uint8(frames.pixels)
    seq = invert(generator, images, frames.times, config, generator_name, progress)
    seq.info["source"] = source
    if pti is not None:
        seq.delta, seq.info["pti"] = pivotal_tuning(generator, images, seq.latents, pti)
        tuned = apply_delta(copy.deepcopy(generator), seq.delta)
        with torch.no_grad():
            seq.psnr = torch.cat([psnr(tuned.synthesis(w.to(device)).cpu(), x) for w, x in
                                  zip(seq.latents.split(16), images.split(16))])
    return seq


def _aligned_source(trajectory: Trajectory):
    from dynode.align import Alignment
    source = trajectory.stats.get("source") or {}
    if "alignment" not in source:
        raise InputError("full-frame output needs a trajectory of an aligned video: invert it with --align")
    if not Path(source["video"]).is_file():
        raise InputError(f"full-frame output needs the source video {source['video']}, which is gone")
    return VideoReader(source["video"]), source.get("every", 1), Alignment.from_dict(source["alignment"])


def render_stream(trajectory: Trajectory, generator: StyleGAN2Generator, latents: torch.Tensor, times: torch.Tensor,
                  full: bool = False, feather: float = 4.0) -> Iterator[np.ndarray]:
    """Rendered frames one at a time (uint8 (H, W, 3)), rendered in chunks; with ``full`` pasted into
    the video the trajectory was inverted from (its source recorded by ``invert_video(align=True)``),
    that video read once as the frames go, the background flow-interpolated (see
    :func:`dynode.align.paste_stream`). Memory stays bounded for any length.

    Raises:
        InputError: ``full`` for a trajectory without an aligned source, or whose video is gone.
    """
    crops = (frame for chunk in iter_render(generator, latents) for frame in to_uint8(chunk))
    if not full:
        return crops
    from dynode.align import paste_stream
    reader, every, alignment = _aligned_source(trajectory)
    return paste_stream(reader, crops, alignment, times, feather, every)


def fit_sequence(sequence: LatentSequence, config: FitConfig = FitConfig(), video: str | Path | None = None,
                 device: str = "cpu", progress: Callable[[int, int, float], None] | None = None) -> Trajectory:
    """Fit the dynamics; with ``config.image_weight`` the observed frames are read from ``video``
    (the frames at the sequence's times, resized to the generator if needed).

    Raises:
        InputError: an image loss without a video, or a video lacking a frame at one of the times.
    """
    if not config.image_weight:
        return fit(sequence, config, progress)
    if video is None:
        raise InputError("an image-space loss (image_weight > 0) needs the video the codes were inverted from")
    frames = read_video(video)
    gap = (frames.times[:, None] - sequence.times[None]).abs()
    nearest = gap.argmin(0)
    missing = gap.min(0).values > 1e-3
    if missing.any():
        raise InputError(f"{video}: no frame at t={sequence.times[missing][0].item():.4f} s, where the codes were "
                         "inverted; give the video that was inverted")
    generator = load_generator(sequence.generator, device, sequence.delta)
    frames = frames.select(nearest)
    if frames.pixels.shape[1:3] != (generator.resolution, generator.resolution):
        frames = resize_square(frames, generator.resolution)
    return fit(sequence, config, progress, generator, from_uint8(frames.pixels).to(device))


def interpolate_latents(trajectory: Trajectory, factor: int | None = None, fps: float | None = None,
                        times: list[float] | None = None, mode: str = "exact") -> tuple[torch.Tensor, torch.Tensor]:
    """(times, codes) over the observed span at ``factor`` x the observed rate, at ``fps``, or at ``times``."""
    t = render_times(trajectory.observed_times, factor, fps, times)
    return t, trajectory.evaluate(t, mode=mode)


def extrapolate_video(trajectory: Trajectory, generator: StyleGAN2Generator, seconds: float, fps: float,
                      mode: str = "exact", samples: int = 0, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Render from the first observation to ``seconds`` past the last one at ``fps``.

    With ``samples`` > 0 the frames past the last observation are that many SDE futures
    (:meth:`Trajectory.sample_future`), laid side by side; returns (times, uint8 pixels).
    """
    t0, t1 = float(trajectory.observed_times[0]), float(trajectory.observed_times[-1])
    t = future_times(t0, t1 - t0 + seconds, fps, include_start=True)
    latents = trajectory.evaluate(t, mode=mode)
    if samples < 1:
        return t, render_pixels(generator, latents)
    after = t > t1
    futures = trajectory.sample_future(t[after], samples, seed)
    tiles = []
    for future in futures:
        latents[after] = future
        tiles.append(render_pixels(generator, latents))
    return t, np.concatenate(tiles, axis=2)


def make_edits(trajectory: Trajectory, directions: list[str], strengths: list[float], layers: str | None = None,
               conditions: list[str] = (), schedule: str | None = None) -> list[Edit]:
    """Edits from user specs: direction names or files, one strength for all or one each, an optional
    W+ layer spec (overrides the directions' own), directions to condition on, and a schedule.

    Raises:
        InputError: a count mismatch, or anything :func:`get_direction`, :func:`parse_layers` or
            :meth:`Schedule.parse` refuses.
    """
    if len(strengths) not in (1, len(directions)):
        raise InputError(f"give one strength for all directions or one for each: {len(directions)} directions, "
                         f"{len(strengths)} strengths")
    strengths = list(strengths) * len(directions) if len(strengths) == 1 else list(strengths)
    shape = trajectory.latent_shape
    others = [get_direction(c, trajectory.generator, shape) for c in conditions]
    chosen = parse_layers(layers, shape[0]) if layers is not None else None
    sched = Schedule.parse(schedule) if schedule else None
    edits = []
    for spec, strength in zip(directions, strengths):
        d = get_direction(spec, trajectory.generator, shape).conditioned(others)
        edits.append(Edit(d.on_layers(chosen) if layers is not None else d, strength, sched))
    return edits


def edited_latents(trajectory: Trajectory, times: torch.Tensor, edits: list[Edit] = (), mode: str = "first-frame",
                   motion: list[tuple[str, float]] = ()) -> torch.Tensor:
    """Edited codes at ``times`` (see :func:`dynode.edit.propagate` for the modes), after the motion
    edits: (component, gain) pairs, the component "pcK" or a direction spec, applied in order."""
    for spec, gain in motion:
        component = spec if spec.startswith("pc") and spec[2:].isdigit() else \
            get_direction(spec, trajectory.generator, trajectory.latent_shape)
        trajectory = scale_motion(trajectory, motion_component(trajectory, component), gain)
    return propagate(trajectory, times, list(edits), mode)


@torch.no_grad()
def direction_strip(generator: StyleGAN2Generator, directions: list, start: torch.Tensor,
                    strengths: list[float]) -> torch.Tensor:
    """Images of ``start`` (num_ws, w_dim) edited along each direction at each strength: one row
    per direction, (len(directions) * len(strengths), 3, R, R) in [-1, 1]."""
    codes = torch.stack([start + d.offset(a, generator.num_ws) for d in directions for a in strengths])
    return torch.cat([generator.synthesis(c.to(generator.w_avg.device)).cpu() for c in codes.split(32)])


def source_audio(trajectory: Trajectory) -> str | None:
    """The video the trajectory was inverted from, if it is still there (its audio goes into outputs)."""
    video = (trajectory.stats.get("source") or {}).get("video")
    return video if video and Path(video).is_file() else None
