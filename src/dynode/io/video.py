"""Video and image-folder reading (PyAV, real timestamps) and atomic H.264 / GIF writing."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from dynode.errors import InputError
from dynode.io.checkpoints import atomic_path
from dynode.types import Frames

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
WRITE_SUFFIXES = {".mp4", ".gif"}


def read_video(path: str | os.PathLike, fps: float = 25.0, max_frames: int | None = None) -> Frames:
    """Read a video file (mp4, avi, mov, webm, gif, ...) or a folder of images.

    Args:
        path: a video file, or a folder whose images (sorted by name) are the frames.
        fps: frame rate given to a folder of images (files carry their own timestamps).
        max_frames: stop after this many frames.

    Returns:
        Frames with times in seconds from the first frame (presentation timestamps for files).

    Raises:
        InputError: missing or undecodable input, or fewer than 2 frames.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such video file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:max_frames]
        try:
            pixels = [np.asarray(Image.open(p).convert("RGB")) for p in files]
        except OSError as e:
            raise InputError(f"{path}: unreadable image in folder ({e})") from e
        if len({p.shape for p in pixels}) > 1:
            raise InputError(f"{path}: images differ in size: {sorted({p.shape for p in pixels})}")
        times = [i / fps for i in range(len(pixels))]
        nominal = fps
    else:
        pixels, times = [], []
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise InputError(f"{path}: the file has no video stream")
                stream = container.streams.video[0]
                nominal = float(stream.average_rate or stream.guessed_rate or fps)
                for frame in container.decode(stream):
                    pixels.append(frame.to_ndarray(format="rgb24"))
                    times.append(frame.time if frame.time is not None else len(times) / nominal)
                    if max_frames is not None and len(pixels) >= max_frames:
                        break
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: cannot decode as a video ({e})") from e
    if len(pixels) < 2:
        raise InputError(f"{path}: has {len(pixels)} frame(s); dynode needs at least 2 to fit a trajectory")
    t = torch.tensor(times, dtype=torch.float64)
    return Frames(np.stack(pixels), t - t[0], nominal)


def resize_square(frames: Frames, size: int) -> Frames:
    """Centre-crop to a square and resize to size x size (Lanczos)."""
    _, h, w, _ = frames.pixels.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    out = [np.asarray(Image.fromarray(p[top:top + s, left:left + s]).resize((size, size), Image.LANCZOS))
           for p in frames.pixels]
    return Frames(np.stack(out), frames.times, frames.fps)


def write_video(path: str | os.PathLike, pixels: np.ndarray, fps: float) -> Path:
    """Write uint8 (T, H, W, 3) frames as H.264 mp4 or GIF, atomically (temp file, then rename).

    GIF stores identical consecutive frames once, with their durations added.

    Raises:
        InputError: unsupported suffix, bad pixel array, or non-positive fps.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputError(f"{path}: cannot write {suffix!r}; use one of {sorted(WRITE_SUFFIXES)}")
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8 or len(pixels) == 0:
        raise InputError(f"write_video(): expected uint8 (T, H, W, 3) with T >= 1, got {pixels.dtype} {pixels.shape}")
    if not fps > 0:
        raise InputError(f"write_video(): fps must be positive, got {fps}")
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            images = [Image.fromarray(p) for p in pixels]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(int(round(1000 / fps)), 20), loop=0)
        else:
            _write_h264(tmp, pixels, fps)
    return path


def _write_h264(path: Path, pixels: np.ndarray, fps: float) -> None:
    # yuv420p needs even sizes: pad by edge replication.
    _, h, w, _ = pixels.shape
    pixels = np.pad(pixels, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = pixels.shape[2], pixels.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "medium"}
        for p in pixels:
            for packet in stream.encode(av.VideoFrame.from_ndarray(p, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
