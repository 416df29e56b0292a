"""Video and image-folder reading (PyAV, real timestamps) and atomic H.264 / GIF writing."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np
import torch
from PIL import Image

from dynode.errors import InputError
from dynode.io.checkpoints import atomic_path
from dynode.types import Frames

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
WRITE_SUFFIXES = {".mp4", ".gif"}


@functools.cache
def _release_freed_frames() -> None:
    """Have glibc serve allocations of 1 MB and more (decoded frames) by mmap, returned to the OS
    when freed. By default glibc raises that threshold after the first frame is freed and serves
    later frames from the heap, where the small arrays kept between them (crops, thumbnails) pin
    it: reading a 2-minute 720p video to 64x64 frames peaked at 2.7 GB instead of 0.4 GB. A no-op
    where there is no mallopt (not glibc)."""
    try:
        ctypes.CDLL(None).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD, which also turns the dynamic threshold off
    except (OSError, AttributeError):
        pass


class VideoReader:
    """Decode a video file frame by frame, so memory holds one frame at a time.

    Frames come upright (the stream's rotation metadata is applied, as players do) with their
    presentation times in seconds from the first frame. A packet that fails to decode (a
    corrupt frame mid-stream) is skipped and counted in ``skipped``; decoding goes on.

    Attributes:
        fps: the stream's nominal frame rate. has_audio: whether the file has an audio track.
        duration: the stream's length in seconds from its header (None if the header has none).
        skipped: undecodable packets met so far.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 25.0):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such video file or folder")
        _release_freed_frames()
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise InputError(f"{self.path}: the file has no video stream")
                stream = container.streams.video[0]
                self.fps = float(stream.average_rate or stream.guessed_rate or fps)
                self.has_audio = bool(container.streams.audio)
                if stream.duration is not None and stream.time_base is not None:
                    self.duration = float(stream.duration * stream.time_base)
                elif container.duration is not None:
                    self.duration = container.duration / av.time_base
                else:
                    self.duration = stream.frames / self.fps if stream.frames else None
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise InputError(f"{self.path}: cannot decode as a video ({e})") from e
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        """(uint8 (H, W, 3) upright frame, time in seconds from the first frame)."""
        first = None
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                for packet in container.demux(stream):
                    try:
                        frames = packet.decode()
                    except av.error.InvalidDataError:
                        self.skipped += 1
                        continue
                    for frame in frames:
                        t = frame.time if frame.time is not None else 0.0
                        first = t if first is None else first
                        pixels = frame.to_ndarray(format="rgb24")
                        turns = int(round((frame.rotation or 0) / 90)) % 4
                        yield (np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels), t - first
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise InputError(f"{self.path}: cannot decode as a video ({e})") from e


def frame_pairs(source: Frames | VideoReader, every: int = 1) -> Iterator[tuple[np.ndarray, float]]:
    """(uint8 (H, W, 3) frame, time in seconds) for every ``every``-th frame of in-memory Frames
    or of a :class:`VideoReader` (decoded as they are taken)."""
    pairs = zip(source.pixels, source.times.tolist()) if isinstance(source, Frames) else iter(source)
    return (pair for i, pair in enumerate(pairs) if i % every == 0)


def read_video(path: str | os.PathLike, fps: float = 25.0, max_frames: int | None = None,
               log: Callable[[str], None] | None = None, every: int = 1, size: int | None = None,
               detector=None) -> Frames:
    """Read a video file (mp4, avi, mov, webm, gif, ...) or a folder of images.

    Frames are decoded one at a time, and with ``every`` or ``size`` reduced as they arrive, so
    only what is kept is held in memory.

    Args:
        path: a video file, or a folder whose images (sorted by name) are the frames.
        fps: frame rate given to a folder of images (files carry their own timestamps).
        max_frames: stop after this many kept frames.
        log: told how many corrupt packets were skipped, if any.
        every: keep every n-th frame.
        size: centre-crop each kept frame to a square and resize it to size x size.
        detector: a :class:`dynode.io.shots.ShotDetector` shown every decoded frame of a video
            file (kept or not) on the way.

    Returns:
        Frames with times in seconds from the first frame (presentation timestamps for files,
        so variable frame rates keep their real timing), upright.

    Raises:
        InputError: missing or undecodable input, or fewer than 2 frames.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such video file or folder")
    if every < 1:
        raise InputError(f"every must be >= 1, got {every}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[::every][:max_frames]
        try:
            pixels = [np.asarray(Image.open(p).convert("RGB")) for p in files]
        except OSError as e:
            raise InputError(f"{path}: unreadable image in folder ({e})") from e
        if len({p.shape for p in pixels}) > 1 and size is None:
            raise InputError(f"{path}: images differ in size: {sorted({p.shape for p in pixels})}")
        pixels = [square(p, size) for p in pixels] if size else pixels
        times = [i * every / fps for i in range(len(pixels))]
        nominal = fps
    else:
        reader = VideoReader(path, fps)
        pixels, times = [], []
        for frame, t in frame_pairs(reader if detector is None else detector.watch(reader), every):
            pixels.append(square(frame, size) if size else frame)
            times.append(t)
            if max_frames is not None and len(pixels) >= max_frames:
                break
        nominal = reader.fps
        if reader.skipped and log is not None:
            log(f"{path}: skipped {reader.skipped} corrupt packet(s)")
    if len(pixels) < 2:
        raise InputError(f"{path}: has {len(pixels)} frame(s); dynode needs at least 2 to fit a trajectory")
    t = torch.tensor(times, dtype=torch.float64)
    return Frames(np.stack(pixels), t - t[0], nominal)


def square(pixels: np.ndarray, size: int) -> np.ndarray:
    """One uint8 (H, W, 3) frame centre-cropped to a square and resized to size x size (Lanczos)."""
    h, w, _ = pixels.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(pixels[top:top + s, left:left + s]).resize((size, size), Image.LANCZOS))


class VideoWriter:
    """Write frames as they come (H.264 mp4 or GIF), atomically: to a temporary file renamed on success.

    ``audio`` names a file whose first audio track is copied into an mp4 (re-encoded as AAC and
    cut to the video's duration), made ``audio_stretch`` times longer with its pitch kept (ffmpeg's
    ``atempo``: 4 plays it at a quarter of its speed, for a video slowed down 4x). GIF stores identical consecutive frames once, their durations
    added.

        with VideoWriter("out.mp4", 30.0, audio="source.mp4") as w:
            for chunk in chunks:
                w.write(chunk)          # uint8 (n, H, W, 3)
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio: str | os.PathLike | None = None,
                 audio_stretch: float = 1.0):
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in WRITE_SUFFIXES:
            raise InputError(f"{self.path}: cannot write {self.suffix!r}; use one of {sorted(WRITE_SUFFIXES)}")
        if not fps > 0:
            raise InputError(f"write_video(): fps must be positive, got {fps}")
        if not audio_stretch > 0:
            raise InputError(f"write_video(): the audio's stretch must be positive, got {audio_stretch}")
        self.fps, self.audio, self.audio_stretch, self.count = fps, audio, audio_stretch, 0
        self._gif: list[Image.Image] = []

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w", format="mp4") if self.suffix == ".mp4" else None
        self._stream = self._audio = None
        if self._container is not None and self.audio is not None:
            with av.open(str(self.audio)) as src:  # every stream must exist before the first packet
                if src.streams.audio:
                    self._audio = self._container.add_stream("aac", rate=src.streams.audio[0].rate)
                    self._audio.layout = "stereo" if src.streams.audio[0].channels > 1 else "mono"
        return self

    def write(self, pixels: np.ndarray) -> None:
        if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8:
            raise InputError(f"write_video(): expected uint8 (T, H, W, 3), got {pixels.dtype} {pixels.shape}")
        self.count += len(pixels)
        if self._container is None:
            self._gif += [Image.fromarray(p) for p in pixels]
            return
        # yuv420p needs even sizes: pad by edge replication.
        _, h, w, _ = pixels.shape
        pixels = np.pad(pixels, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            self._stream.width, self._stream.height = pixels.shape[2], pixels.shape[1]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": "16", "preset": "medium"}
        for p in pixels:
            self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(p, format="rgb24")))

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                self._finish()
        except BaseException:
            self._close()
            self._atomic.__exit__(*sys.exc_info())  # removes the temporary file
            raise
        self._close()
        return self._atomic.__exit__(kind, value, tb)

    def _finish(self) -> None:
        if self.count == 0:
            raise InputError(f"write_video(): no frames to write to {self.path}")
        if self._container is None:
            self._gif[0].save(self._tmp, format="GIF", save_all=True, append_images=self._gif[1:],
                              duration=max(int(round(1000 / self.fps)), 20), loop=0)
            return
        self._container.mux(self._stream.encode())
        if self._audio is not None:
            _copy_audio(self.audio, self._container, self._audio, self.count / self.fps, self.audio_stretch)

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _tempos(stretch: float) -> list[float]:
    """``atempo`` factors whose product is 1 / ``stretch``, each within the filter's 0.5-2 range."""
    tempo, out = 1.0 / stretch, []
    while tempo < 0.5 or tempo > 2.0:
        step = 0.5 if tempo < 0.5 else 2.0
        out.append(step)
        tempo /= step
    return out + [tempo] if abs(tempo - 1.0) > 1e-9 else out


def _copy_audio(source: str | os.PathLike, container, out, seconds: float, stretch: float = 1.0) -> None:
    """Re-encode the first audio track of ``source`` into the stream ``out`` of ``container``, made
    ``stretch`` times longer with its pitch kept, cut at ``seconds`` (of the output)."""
    with av.open(str(source)) as src:
        audio = src.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=out.layout.name, rate=out.rate)
        graph = None
        if _tempos(stretch):
            graph = av.filter.Graph()
            nodes = [graph.add_abuffer(template=audio), *(graph.add("atempo", f"{t:.9f}") for t in _tempos(stretch)),
                     graph.add("abuffersink")]
            for a, b in zip(nodes, nodes[1:]):
                a.link_to(b)
            graph.configure()

        def pulled():
            while True:
                try:
                    yield graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return

        def encode(frames) -> None:
            for frame in frames:
                for piece in resampler.resample(frame):
                    piece.pts = None
                    container.mux(out.encode(piece))

        for frame in src.decode(audio):
            if frame.time is not None and frame.time * stretch >= seconds:
                break
            if graph is None:
                encode([frame])
            else:
                graph.push(frame)
                encode(pulled())
        if graph is not None:
            graph.push(None)
            encode(pulled())
        container.mux(out.encode())


def write_frames(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                 audio: str | os.PathLike | None = None, chunk: int = 32, audio_stretch: float = 1.0) -> int:
    """Write uint8 (H, W, 3) frames from an iterator as they come (memory: ``chunk`` frames);
    returns how many were written. See :class:`VideoWriter`."""
    with VideoWriter(path, fps, audio, audio_stretch) as writer:
        batch = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == chunk:
                writer.write(np.stack(batch))
                batch = []
        if batch:
            writer.write(np.stack(batch))
    return writer.count


def write_video(path: str | os.PathLike, pixels: np.ndarray, fps: float,
                audio: str | os.PathLike | None = None) -> Path:
    """Write uint8 (T, H, W, 3) frames as H.264 mp4 or GIF, atomically (see :class:`VideoWriter`).

    Raises:
        InputError: unsupported suffix, bad pixel array, or non-positive fps.
    """
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8 or len(pixels) == 0:
        raise InputError(f"write_video(): expected uint8 (T, H, W, 3) with T >= 1, got {pixels.dtype} {pixels.shape}")
    with VideoWriter(path, fps, audio) as writer:
        writer.write(pixels)
    return Path(path)
