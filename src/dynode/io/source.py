"""Reading a video as dynode inverts it: decode, crop, find cuts, split into spans, record the source.

    frames, source = read_source("clip.mp4", resolution=64, config=ReadConfig(resize=True))

Frames are decoded one at a time and reduced as they come (every n-th, resized, or the face
cropped), so only generator-sized frames are held. Cuts are found on every decoded frame
(:class:`dynode.io.shots.ShotDetector`); the kept frames are split into spans (shots, face tracks,
passed-through stretches, see :func:`dynode.io.shots.segment`), and the frames of the spans to
fit are returned with the :class:`~dynode.types.Source` that records it all for later stages.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from dynode.config import ReadConfig
from dynode.errors import InputError
from dynode.io.crops import crops
from dynode.io.shots import ShotDetector, describe, segment, shot_starts
from dynode.io.video import VideoReader, frame_pairs, read_video
from dynode.types import Alignment, Frames, Source

# reader, crop size, config, log, shot detector -> (the face crop of every kept frame, the crops)
Aligner = Callable[[VideoReader, int, ReadConfig, Callable[[str], None], "ShotDetector | None"],
                   "tuple[Alignment, Frames]"]


def read_source(video: str | Path, resolution: int, config: ReadConfig = ReadConfig(),
                log: Callable[[str], None] = print, aligner: Aligner | None = None) -> tuple[Frames, Source]:
    """The frames of a video file or image folder to invert, and the record of where they came from.

    Args:
        resolution: the generator's picture size; frames must be (or be made) that size.
        config: which frames, resized or face-cropped, and how cuts and spans are found.
        aligner: crops the face of every frame (see :func:`dynode.align.face.align_reader`);
            needed when ``config.align``.

    Returns:
        uint8 frames (T, resolution, resolution, 3) of the spans to fit, in time order, and their
        :class:`Source` (its ``spans`` and ``cuts`` set when the video has several spans or cuts).

    Raises:
        InputError: no such file or folder, an unreadable video, frames of another size without
            ``resize`` or ``align`` (remedy "resize"), ``align`` on an image folder, or no span of
            two frames or more to fit (remedy "shots_off").
    """
    path = Path(video)
    if not path.exists():
        raise InputError(f"{path}: no such video file or folder")
    if config.align and not path.is_file():
        raise InputError(f"{path}: face alignment needs a video file, not a folder of images")
    detector = ShotDetector(config.shot_threshold) if config.shots and path.is_file() else None
    alignment = None
    if config.align:
        if aligner is None:
            raise InputError("ReadConfig.align needs an aligner (dynode.align.face.align_reader)")
        alignment, frames = aligner(VideoReader(path), resolution, config, log, detector)
    else:
        frames = read_video(path, log=log, every=config.every, size=resolution if config.resize else None,
                            detector=detector)
    if frames.pixels.shape[1:3] != (resolution, resolution):
        h, w = frames.pixels.shape[1:3]
        raise InputError(f"{path}: frames are {w}x{h} but the generator makes {resolution}x{resolution}", "resize")
    cuts = tuple(detector.cuts) if detector is not None else ()
    times = frames.times.numpy()
    spans = segment(times, shot_starts(times, cuts), None if alignment is None else alignment.found, config.bridge)
    fits = [span for span in spans if span.kind == "fit"]
    if not fits:
        raise InputError(f"{path}: no span of two frames or more to fit ({len(cuts)} cut(s) in {len(frames)} "
                         "frames: every frame is its own shot, or faceless)", "shots_off")
    source = _describe(path, frames, config.every, alignment)
    if len(spans) > 1:
        log(describe(spans, len(cuts)))
        source = replace(source, spans=tuple(spans), cuts=cuts)
        frames = frames.select(torch.cat([torch.arange(span.start, span.stop) for span in fits]))
    elif cuts:
        source = replace(source, cuts=cuts)
    return frames, source


def _describe(path: Path, frames: Frames, every: int, alignment: Alignment | None) -> Source:
    """The Source record of a video file or image folder whose frames were taken."""
    has_audio = False
    if path.is_file():
        reader = VideoReader(path)
        first = next(iter(reader))[0]
        fps, has_audio = reader.fps, reader.has_audio
    else:
        first, fps = frames.pixels[0], frames.fps * every
    height, width = alignment.frame_shape if alignment is not None else first.shape[:2]
    return Source(str(path.resolve()), int(width), int(height), float(fps), float(frames.times[-1]), every,
                  has_audio, alignment)


def read_kept(source: Source, resolution: int, purpose: str, remedy: str | None = None) -> Frames:
    """Every kept frame of ``source``'s video read again, cropped or resized as for inversion: the one
    place a pipeline reads its source's frames again (tuning, an image loss, detail rendering).

    Args:
        purpose: what needs them, for the message when the video is gone. remedy: its remedy key.

    Raises:
        InputError: the source video is gone or changed.
    """
    path = source.require(purpose, remedy)
    if source.alignment is not None:
        pairs = list(frame_pairs(VideoReader(path), source.every))
        return Frames(crops(source.alignment, (p for p, _ in pairs)),
                      torch.tensor([t for _, t in pairs], dtype=torch.float64), source.fps)
    resize = (source.width, source.height) != (resolution, resolution)
    return read_video(path, every=source.every, size=resolution if resize else None)
