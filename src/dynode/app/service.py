"""The app's actions (:class:`App`): plain methods on paths and numbers that call the pipeline, with the
fits cached by the video's content and options, uploads checked, and one job at a time per tab."""

import hashlib
import shutil
import tempfile
import threading
import uuid
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dynode.config import (DEFAULT_GENERATOR, DEFAULT_PATH, RENDER_FIDELITY, EditSpec, Extrapolation, FitConfig,
                           Interpolation, InversionConfig, ReadConfig, _Config, check_choice)
from dynode.data.toyfaces import write_toy_video
from dynode.edit.directions import load_library
from dynode.errors import DynodeError, InputError
from dynode.io.images import from_uint8
from dynode.io.video import VideoReader
from dynode.metrics.attributes import ATTRIBUTES, read_attributes
from dynode.pipelines.run import LATENTS, TRAJECTORY, RunResult, RunSpec, run

Progress = Callable[[float, str], None]
MAX_EDITS = 3  # direction rows on the edit tab
# What a user can do about an error (dynode.errors.REMEDIES), worded as this page's controls.
REMEDIES = {
    "resize": "tick 'Align faces' to crop the face of a real video",
    "align": "tick 'Align faces' and fit again",
    "no_align": "untick 'Align faces'",
    "min_face_share": "untick 'Align faces', or trim the video to its face",
    "fidelity_latent": "choose the latent fidelity",
    "fit_first": "press 'Invert and fit' first",
    "response_pixels": "choose another direction",
}


@dataclass(frozen=True)
class AppConfig(_Config):
    """The app's limits and resources.

    Args:
        max_upload_mb: largest upload accepted. max_seconds: longest video accepted.
        max_side: largest frame width or height accepted, in pixels.
        device: torch device of every job. cache_size: fitted videos kept in memory.
        jobs: jobs run at once across all tabs (more wait their turn in the queue; torch jobs
            side by side on a few cores slow each other far more than they gain).
        generator: the generator the page starts with (a bundled name or a model folder).
    """

    max_upload_mb: float = 200.0
    max_seconds: float = 120.0
    max_side: int = 1920
    device: str = "cpu"
    cache_size: int = 4
    jobs: int = 1
    generator: str = DEFAULT_GENERATOR

    def __post_init__(self):
        if not (self.max_upload_mb > 0 and self.max_seconds > 0 and self.max_side > 0 and self.cache_size >= 1
                and self.jobs >= 1):
            raise InputError(f"AppConfig: limits must be positive, cache_size and jobs >= 1, got {self.to_dict()}")


TUNING = {"auto": None, "on": True, "off": False}


def fit_spec(generator: str = DEFAULT_GENERATOR, align: bool = False, tune: str = "auto",
             steps_first: int = InversionConfig().steps_first, steps: int = 0,
             iters: int = FitConfig().iters) -> RunSpec:
    """The run of the page's 'Invert and fit': its generator, alignment (else frames resized), pivotal tuning
    (``tune``: auto, on or off) and budgets (``steps`` 0: the inversion's own choice for the generator).

    Raises:
        InputError: a tuning choice other than auto, on or off.
    """
    check_choice("pivotal tuning", tune, tuple(TUNING))
    return RunSpec(generator=generator, read=ReadConfig(resize=not align, align=align),
                   inversion=InversionConfig(steps_first=steps_first, steps=steps or None, tune=TUNING[tune]),
                   fit=FitConfig(iters=iters))


@dataclass(frozen=True)
class _Fitted:
    """A fitted video in the cache: the run, its trajectory plot and its downloadable artifacts."""

    result: RunResult
    plot: Path
    artifacts: tuple[Path, ...]


class App:
    """The app's state: a temporary folder, the cache of fitted videos, one job per browser tab."""

    def __init__(self, config: AppConfig = AppConfig()):
        self.config = config
        self.root = Path(tempfile.mkdtemp(prefix="dynode-app-"))
        self._cache: OrderedDict[str, _Fitted] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._jobs: dict[str, threading.Lock] = {}
        # Removed by close(), or when the app is collected or the interpreter exits, whichever comes first.
        self._remove = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def close(self) -> None:
        """Remove the uploads and outputs."""
        self._remove()

    def folder(self, session: str) -> Path:
        path = self.root / (session or "local")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def output(self, session: str, stem: str, suffix: str) -> Path:
        """A fresh file name in the session's folder (so a browser never shows an older render)."""
        return self.folder(session) / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"

    @contextmanager
    def job(self, session: str):
        """Run one job of this tab at a time; a second one is refused with a message."""
        lock = self._jobs.setdefault(session, threading.Lock())
        if not lock.acquire(blocking=False):
            raise InputError("a job is already running in this tab; wait for it to finish")
        try:
            yield
        finally:
            lock.release()

    # Opening a video ----------------------------------------------------------------------

    def open_upload(self, path: str | Path, session: str) -> tuple[Path, str]:
        """Check an uploaded file against the limits and keep it; returns (kept path, description).

        Raises:
            InputError: too large, too long, frames too large, or not a decodable video.
        """
        path, c = Path(path), self.config
        megabytes = path.stat().st_size / 2**20
        if megabytes > c.max_upload_mb:
            raise InputError(f"{path.name} is {megabytes:.0f} MB; this app accepts up to {c.max_upload_mb:g} MB "
                             "(dynode app --max-upload-mb)")
        try:
            reader = VideoReader(path)
            first = next(iter(reader), None)
        except DynodeError as e:  # named by the file's name, not the temporary path it was uploaded to
            raise InputError(str(e).replace(str(path), path.name)) from e
        if first is None:
            raise InputError(f"{path.name}: no frame could be decoded")
        height, width = first[0].shape[:2]
        if max(width, height) > c.max_side:
            raise InputError(f"{path.name}: frames are {width}x{height}; this app accepts up to {c.max_side} pixels a "
                             "side (dynode app --max-side)")
        if reader.duration is not None and reader.duration > c.max_seconds:
            raise InputError(f"{path.name} lasts {reader.duration:.1f} s; this app accepts up to {c.max_seconds:g} s "
                             "(dynode app --max-seconds)")
        kept = self.output(session, "input", path.suffix.lower())
        shutil.copyfile(path, kept)
        length = f"{reader.duration:.1f} s" if reader.duration is not None else "unknown length"
        return kept, f"{path.name}: {width}x{height}, {reader.fps:.3g} fps, {length}"

    def make_toy(self, seed: int, session: str, seconds: float = 2.0, fps: float = 8.0) -> tuple[Path, str]:
        """A toy-face video of the bundled generator's kind; returns (path, description)."""
        path = self.output(session, f"toy{int(seed)}", ".mp4")
        frames = write_toy_video(path, int(seed), seconds, fps)
        return path, f"toy-face video, seed {int(seed)}: {frames} frames at {fps:g} fps"

    # Inversion and fitting ----------------------------------------------------------------

    def _key(self, video: Path, spec: RunSpec) -> str:
        h = hashlib.sha256()
        with open(video, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(spec.hash().encode())
        return h.hexdigest()[:24]

    def pipeline(self, key: str):
        """The fitted pipeline cached under ``key``.

        Raises:
            InputError: nothing fitted yet (or evicted from the cache).
        """
        return self._cached(key).result.pipeline

    def _cached(self, key: str) -> "_Fitted":
        with self._cache_lock:
            if key not in self._cache:
                raise InputError("no fitted video yet: open a video and press 'Invert and fit'")
            self._cache.move_to_end(key)
            return self._cache[key]

    def fit(self, video: str | Path | None, spec: RunSpec, session: str,
            progress: Progress | None = None) -> tuple[str, str, Path, list[Path]]:
        """Invert and fit a video (or take it from the cache); returns (cache key, summary, trajectory
        plot, downloadable artifacts)."""
        from dynode.plots import trajectory_figure
        if video is None:
            raise InputError("open a video first: upload one or make a toy-face video")
        video = Path(video)
        key, log = self._key(video, spec), []
        progress = progress or (lambda fraction, what: None)
        share = {"inverting": (0.0, 0.3), "tuning": (0.3, 0.5), "fitting": (0.8, 0.2)}
        with self._cache_lock:
            cached = key in self._cache
        if cached:
            fitted = self._cached(key)
            note = "taken from the cache (same video and settings)"
        else:
            folder = self.output(session, "fit", "")
            result = run(video, spec, folder, device=self.config.device, log=log.append,
                         progress=lambda stage, done, total: progress(share[stage][0] + share[stage][1] * done / total,
                                                                      stage))
            plot = trajectory_figure(result.pipeline.trajectories("a plot"), self.output(session, "trajectory", ".png"),
                                     samples=8)
            fitted = _Fitted(result, plot, (folder / LATENTS, folder / TRAJECTORY))
            note = result.pipeline.fit_summary()
            with self._cache_lock:
                self._cache[key] = fitted
                while len(self._cache) > self.config.cache_size:
                    self._cache.popitem(last=False)
        result = fitted.result
        summary = f"{result.frames} frames inverted, reconstruction {result.psnr:.2f} dB; {note}" + \
            "".join(f"\n\n{line}" for line in log)
        return key, summary, fitted.plot, list(fitted.artifacts)

    # Outputs ------------------------------------------------------------------------------

    def interpolate(self, key: str, session: str, factor: int | None = 4, fps: float | None = None,
                    path: str = DEFAULT_PATH, fidelity: str = RENDER_FIDELITY, slowdown: float = 1.0) -> tuple[Path, str]:
        """The video at ``factor`` x its rate or at ``fps``, its duration kept; with ``slowdown`` > 1,
        that many times longer at the source's rate instead (the audio stretched)."""
        pipe = self.pipeline(key)
        clip = pipe.interpolate(Interpolation(slowdown=slowdown, path=path, fidelity=fidelity) if slowdown > 1 else
                                Interpolation(factor=factor if not fps else None, fps=fps or None, path=path,
                                              fidelity=fidelity))
        out = self.output(session, "interpolated", ".mp4")
        clip.write(out)
        chosen = "; drawn by " + "; ".join(c.describe() for c in pipe.choices()) \
            if path == "auto" and fidelity == "detail" else ""
        return out, f"{len(clip)} frames at {clip.fps:.3g} fps, {len(clip) / clip.fps:.2f} s{chosen}"

    def extrapolate(self, key: str, session: str, seconds: float = 1.0, samples: int = 0, path: str = DEFAULT_PATH,
                    fidelity: str = RENDER_FIDELITY) -> tuple[Path, str]:
        pipe = self.pipeline(key)
        clip = pipe.extrapolate(Extrapolation(seconds=seconds, path=path, samples=int(samples), fidelity=fidelity))
        out = self.output(session, "extrapolated", ".mp4")
        clip.write(out)
        return out, f"{len(clip)} frames, up to {float(clip.times[-1]):.2f} s"

    def edit(self, key: str, session: str, edits: list[tuple[str, float]], mode: str = EditSpec.propagation,
             schedule: str = "", layers: str = "", compare: bool = True) -> tuple[Path, Path | None, str]:
        """An edited video (streamed to its file), and for a direction the generator's probe reads, the
        attribute's change over time."""
        from dynode.plots import attribute_figure
        pipe = self.pipeline(key)
        edits = [(name, float(s)) for name, s in edits if name and float(s) != 0]
        if not edits:
            raise InputError("choose a direction and a non-zero strength")
        spec = EditSpec(directions=tuple(n for n, _ in edits), strengths=tuple(s for _, s in edits), propagation=mode,
                        layers=layers.strip() or None, schedule=schedule.strip() or None)
        made = pipe.make_edits(spec)
        attribute, probe = made[0].direction.attribute, pipe.models.probe
        column = ATTRIBUTES.index(attribute) if probe is not None and attribute in ATTRIBUTES else None
        clip = pipe.edit(spec, compare=compare or column is not None)
        side, changes = pipe.generator.resolution, []

        def chunks():
            for chunk in clip.chunks():  # unedited | edited
                if column is not None:
                    read = read_attributes(probe, from_uint8(np.ascontiguousarray(chunk[:, :, :side])))[:, column]
                    changes.append(read_attributes(probe, from_uint8(np.ascontiguousarray(chunk[:, :, side:])))
                                   [:, column] - read)
                yield chunk if compare else chunk[:, :, side:]
        out = self.output(session, "edited", ".mp4")
        replace(clip, chunks=chunks).write(out)
        plot = None if column is None else attribute_figure(
            clip.times.numpy(), {"edited - unedited": torch.cat(changes).numpy()},
            self.output(session, "attribute", ".png"), f"probe change of {attribute}",
            f"{made[0].direction.name} {made[0].strength:+g}")
        said = [f"{'warning: ' if report.warning else ''}{report.summary()}" for report in clip.reports]
        return out, plot, "; ".join([f"{len(clip)} edited frames ({mode})", *said])


def directions_of(generator: str) -> list[str]:
    """Names of the directions stored with a generator ([] for none or an unknown generator)."""
    try:
        return sorted(load_library(generator))
    except DynodeError:
        return []


