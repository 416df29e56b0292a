"""The pipeline object: a video in, videos out. It chains the stages and holds what they share.

    pipe = VideoPipeline.from_video("clip.mp4")          # read, invert, fit
    pipe.interpolate(factor=8).write("clip_8x.mp4")
    pipe.edit([Edit(pipe.direction("smile"), 2.0)]).write("clip_smile.mp4")

A :class:`VideoPipeline` holds the loaded generator (its pivotal-tuning delta applied), the
inverted codes, the fitted trajectory and the typed record of the source video. Every
rendering method returns a :class:`Clip`: times, a playback rate, the source's audio when it
spans the same time, and frames produced chunk by chunk only when iterated or written, so
long outputs stay within memory. The CLI, the demo and the benchmarks build a pipeline from
their arguments and call it; no stage reloads a generator by name or re-opens a path itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from dynode.config import DetailConfig, FitConfig, InversionConfig, LockConfig, PTIConfig, ReadConfig
from dynode.detail import FIDELITIES, Detail
from dynode.dynamics import Trajectory, fit, load_trajectory, sample_future, save_trajectory
from dynode.edit import (PROPAGATIONS, Direction, Edit, Schedule, get_direction, motion_component, parse_layers, propagate,
                         scale_motion)
from dynode.edit.lock import lock
from dynode.errors import CheckpointError, InputError
from dynode.generators import apply_delta, load_generator
from dynode.inversion import invert, pivotal_tuning
from dynode.io.checkpoints import artifact_kind, load_artifact, load_latents, save_artifact
from dynode.io.images import from_uint8, to_uint8
from dynode.io.shots import ShotDetector, describe, segment, shot_starts
from dynode.io.video import VideoReader, frame_pairs, read_video
from dynode.metrics import psnr
from dynode.pipelines import spans as multi
from dynode.pipelines.clip import Clip, playback_rate
from dynode.times import future_times, render_times
from dynode.render import check_latents, iter_render, render_chunk, render_pixels
from dynode.types import Frames, Generator, LatentSequence, Source, check_times

Progress = Callable[[int, int], None]
# How an edit rides on the path: the propagations, and locked (the carried edit at a per-frame gain).
EDIT_MODES = (*PROPAGATIONS, "locked")
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _describe(path: Path, frames: Frames, every: int, alignment) -> Source:
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


def _fingerprint(frames: Frames, generator: Generator, inversion: InversionConfig) -> str:
    """What an interrupted inversion must share with its resume: the frames, the generator, the config."""
    h = hashlib.sha256(np.ascontiguousarray(frames.pixels).tobytes())
    h.update(frames.times.numpy().tobytes())
    h.update(f"{generator.id}|{generator.name}|{json.dumps(inversion.to_dict(), sort_keys=True)}".encode())
    return h.hexdigest()[:24]


def _resume(partial: str | Path | None, frames: Frames, generator: Generator, inversion: InversionConfig, log: Log):
    """(the frames already done, a checkpoint callback) for an inversion kept in ``partial``."""
    if partial is None:
        return None, None
    partial, key = Path(partial), _fingerprint(frames, generator, inversion)
    done = None
    if partial.is_file():
        try:
            tensors, info = load_artifact(partial, "partial-latents")
        except CheckpointError:
            tensors, info = None, {}
        if info.get("fingerprint") == key:
            done = (tensors["codes"], tensors["losses"], tensors["psnr"])
            log(f"resuming: {len(done[0])} of {len(frames)} frames were inverted before ({partial})")
        else:
            log(f"{partial} is from another video, generator or inversion config: starting over")

    def keep(codes, losses, psnrs):
        save_artifact(partial, "partial-latents", {"codes": codes, "losses": losses, "psnr": psnrs},
                      {"fingerprint": key, "frames": len(frames)})
    return done, keep


def _encoder_for(generator: Generator, init: str):
    """The generator's encoder for inversion init "auto" (if it has one) or "encoder" (required).

    Raises:
        InputError: init "encoder" and no encoder beside the generator. CheckpointError: one made
            for another generator.
    """
    if init not in ("auto", "encoder"):
        return None
    from dynode.inversion.encoder import encoder_folder, load_encoder
    folder = encoder_folder(generator)
    if folder is None or not (folder / "model.safetensors").is_file():
        if init == "encoder":
            raise InputError(f"--init encoder: generator {generator.name or '(built in memory)'} has no encoder "
                             f"({folder}); train one with `dynode train-encoder`, or use --init previous")
        return None
    return load_encoder(folder, generator)


class VideoPipeline:
    """A video's generator, codes, trajectory and source, and everything rendered from them.

    Build one with :meth:`from_video` (a file or image folder), :meth:`from_frames` (frames in
    memory) or :meth:`from_artifacts` (a latents or trajectory file).

    Attributes:
        generator: the loaded generator (the video's tuning delta applied).
        sequence: the inverted codes (None when built from a trajectory artifact).
        trajectory: the fitted dynamics (None until :meth:`fit`).
        source: the video the codes came from (None for frames given in memory).
        frames: the frames the codes were inverted from, when at hand in memory (else tuning, the
            image loss of :meth:`fit` and detail rendering read them again from the source video).
        detail_config: how detail is carried (see :mod:`dynode.detail`).
        parts: for a video of several spans (its source records them: shots, face tracks), one
            pipeline per fitted span, in time order; this pipeline then has no trajectory of its
            own and renders span by span (see :mod:`dynode.pipelines.spans`). Given None, they
            are made from the codes when the source records spans; [] for none.
    """

    def __init__(self, generator: Generator, sequence: LatentSequence | None = None,
                 trajectory: Trajectory | None = None, log: Log | None = None, frames: Frames | None = None,
                 parts: list["VideoPipeline"] | None = None):
        if sequence is None and trajectory is None and not parts:
            raise InputError("VideoPipeline needs a latent sequence, a trajectory or its spans' pipelines")
        self.generator, self.sequence, self.trajectory = generator, sequence, trajectory
        self.log = log or _stderr
        self.frames = frames
        self.detail_config = DetailConfig()
        self._detail: Detail | None = None
        # A video of several spans (cuts, face tracks): one pipeline per fitted span, in time order.
        self.parts: list[VideoPipeline] = list(parts or [])
        if parts is None and sequence is not None and self.source is not None and self.source.spans:
            self._split()

    @property
    def source(self) -> Source | None:
        if self.trajectory is None and self.sequence is None:
            return self.parts[0].source
        return (self.trajectory or self.sequence).source

    def _split(self) -> None:
        """One pipeline per fitted span of the source, with its codes and frames (when in memory)."""
        self.parts = [VideoPipeline(self.generator, codes, log=self.log, parts=[])
                      for codes in multi.split(self.sequence)]
        if self.frames is not None:
            for part in self.parts:
                part.frames = part._observed_frames("splitting the video into spans", frames=self.frames)

    # Building -----------------------------------------------------------------------------

    @classmethod
    def from_video(cls, video: str | Path, generator: str | Generator = "toyfaces64", read: ReadConfig = ReadConfig(),
                   inversion: InversionConfig = InversionConfig(), pti: PTIConfig | None = None,
                   fit: FitConfig | None = FitConfig(), device: str = "cpu", progress: Progress | None = None,
                   log: Log | None = None, partial: str | Path | None = None) -> "VideoPipeline":
        """Read a video file or image folder, invert its frames and (unless ``fit`` is None) fit them.

        Frames are decoded one at a time and reduced (every n-th, resized, or the face cropped) as
        they come, so only generator-sized frames are held in memory. The video is recorded as
        the codes' :class:`Source` (for full-frame output, audio and the image loss).

        Args:
            generator: a bundled name, a model folder, or a loaded generator.
            read: which frames and how they are cropped. pti: pivotal tuning (None: none).
            progress: inversion progress, called as progress(frames_done, frames_total).
            partial: keep the inversion's progress there to resume it (see :meth:`from_frames`).

        Raises:
            InputError: unreadable video, < 2 frames, frames of the wrong size without resize or
                align, or no face anywhere with align. CheckpointError: unknown generator.
        """
        path = Path(video)
        if not path.exists():
            raise InputError(f"{path}: no such video file or folder")
        if read.align and not path.is_file():
            raise InputError(f"{path}: --align needs a video file")
        gen = load_generator(generator, device) if isinstance(generator, str) else generator
        res, log = gen.resolution, log or _stderr
        alignment, found = None, None
        detector = ShotDetector(read.shot_threshold) if read.shots and path.is_file() else None
        if read.align:
            from dynode.align import align_video
            from dynode.align.face import check_coverage
            alignment, frames = align_video(VideoReader(path), res, read.sigma, log=log, every=read.every,
                                            min_face=read.min_face, detector=detector)
            found = alignment.found
            check_coverage(found, alignment.times, read.min_face_share)
        else:
            frames = read_video(path, log=log, every=read.every, size=res if read.resize else None, detector=detector)
        if frames.pixels.shape[1:3] != (res, res):
            h, w = frames.pixels.shape[1:3]
            raise InputError(f"{path}: frames are {w}x{h} but the generator makes {res}x{res}; "
                             "pass --resize to centre-crop and resize, or --align to crop the face")
        cuts = tuple(detector.cuts) if detector is not None else ()
        spans = segment(frames.times.numpy(), shot_starts(frames.times.numpy(), cuts), found, read.bridge)
        fits = [span for span in spans if span.kind == "fit"]
        if not fits:
            raise InputError(f"{path}: no span of two frames or more to fit ({len(cuts)} cut(s) in {len(frames)} "
                             "frames: every frame is its own shot, or faceless); if these are not cuts, pass "
                             "--shots off")
        source = _describe(path, frames, read.every, alignment)
        if len(spans) > 1:
            log(describe(spans, len(cuts)))
            source = replace(source, spans=tuple(spans), cuts=cuts)
            frames = frames.select(torch.cat([torch.arange(span.start, span.stop) for span in fits]))
        elif cuts:
            source = replace(source, cuts=cuts)
        return cls.from_frames(frames, gen, inversion, pti, fit, progress, log, source, partial)

    @classmethod
    def from_frames(cls, frames: Frames, generator: Generator, inversion: InversionConfig = InversionConfig(),
                    pti: PTIConfig | None = None, fit: FitConfig | None = FitConfig(),
                    progress: Progress | None = None, log: Log | None = None,
                    source: Source | None = None, partial: str | Path | None = None) -> "VideoPipeline":
        """Invert frames already in memory (uint8, the generator's size), tune and fit them.

        Args:
            partial: a file where the inversion keeps the frames done so far (atomically, after
                every batch, with a fingerprint of the frames, the generator and the config). If
                it exists and matches, inversion continues where it stopped; if it does not
                match, it starts over and says so. Removed once the inversion is complete.
            source: the video the frames came from. When it records spans (:meth:`from_video`
                found cuts or faceless stretches), ``frames`` are the fitted spans' frames; each
                span's first frame is inverted afresh, and every span is fitted on its own.

        Raises:
            InputError: fewer than 2 frames, or frames of another size than the generator's.
        """
        res = generator.resolution
        if len(frames) < 2:
            raise InputError(f"{len(frames)} frame(s) to invert; dynode needs at least 2")
        if frames.pixels.shape[1:3] != (res, res):
            raise InputError(f"frames are {frames.pixels.shape[2]}x{frames.pixels.shape[1]} but the generator "
                             f"makes {res}x{res}")
        log = log or _stderr
        done, keep = _resume(partial, frames, generator, inversion, log)
        lengths = [len(span) for span in source.spans if span.kind == "fit"] if source is not None else []
        seq = invert(generator, from_uint8(frames.pixels), frames.times, inversion, progress,
                     _encoder_for(generator, inversion.init), done, keep, np.cumsum(lengths[:-1]).tolist())
        if partial is not None:
            Path(partial).unlink(missing_ok=True)
        seq.source = source
        pipe = cls(generator, seq, log=log, frames=frames)
        if pti is not None:
            pipe.tune(pti)
        return pipe if fit is None else pipe.fit(fit)

    @classmethod
    def from_artifacts(cls, path: str | Path, device: str = "cpu", generator: Generator | None = None,
                       log: Log | None = None) -> "VideoPipeline":
        """A pipeline from a latents or trajectory artifact (one trajectory, or one per span of a
        video of several), its generator reloaded from the record it holds (name, weight id and
        tuning delta), or ``generator`` if given (used as it is).

        Raises:
            CheckpointError: unreadable artifact, one of another kind, a recorded generator that is
                gone or whose weights changed, or one built in memory (pass ``generator``).
        """
        kind = artifact_kind(path)
        spans = []
        if kind == "latents":
            sequence, trajectory = load_latents(path), None
        elif kind == "trajectory":
            sequence, trajectory = None, load_trajectory(path)
        elif kind == "trajectories":
            from dynode.dynamics.storage import load_trajectories
            sequence, trajectory, spans = None, None, load_trajectories(path)
        else:
            raise CheckpointError(f"{path}: artifact of kind {kind!r}; expected a latents or trajectory artifact")
        record = trajectory or sequence or spans[0]
        if generator is None:
            if not record.generator:
                raise CheckpointError(f"{path}: made with a generator built in memory, which cannot be reloaded; "
                                      "pass the generator")
            generator = load_generator(record.generator, device, record.delta, record.generator_id)
        parts = [cls(generator, trajectory=t, log=log, parts=[]) for t in spans]
        return cls(generator, sequence, trajectory, log, parts=parts or None)

    # Tuning and fitting -------------------------------------------------------------------

    def tune(self, config: PTIConfig = PTIConfig()) -> "VideoPipeline":
        """Pivotal tuning around the codes (see :func:`dynode.inversion.pivotal_tuning`): the pipeline's
        generator becomes a tuned copy, the codes record its delta and their PSNR is the tuned one
        (``info["pti"]`` holds the PSNR before). Returns this pipeline.

        Raises:
            InputError: no codes, a generator already tuned, or frames that are not at hand.
        """
        seq = self.sequence
        if seq is None:
            raise InputError("tuning needs the inverted codes: give a latents artifact (dynode invert)")
        if seq.delta is not None:
            raise InputError("these codes already come with a tuned generator; invert the video again to retune")
        images = from_uint8(self._observed_frames("pivotal tuning").pixels)
        delta, seq.info["pti"] = pivotal_tuning(self.generator, images, seq.latents, config)
        self.generator = apply_delta(copy.deepcopy(self.generator), delta)
        self._detail = None  # the residuals were the old generator's
        seq.delta = delta
        with torch.no_grad():
            seq.psnr = torch.cat([psnr(self.generator.synthesis(w.to(self.generator.device)).cpu(), x)
                                  for w, x in zip(seq.latents.split(16), images.split(16))])
        if self.parts:
            self._split()
        return self

    def fit(self, config: FitConfig = FitConfig(), progress: Callable[[int, int, float], None] | None = None) \
            -> "VideoPipeline":
        """Fit the dynamics to the codes (see :func:`dynode.dynamics.fit`); returns this pipeline.

        With ``config.image_weight`` the observed frames are needed: those read by
        :meth:`from_video`, or read again from the source video.

        Raises:
            InputError: no codes (built from a trajectory), or an image loss whose source video
                is gone or lacks a frame at one of the codes' times.
        """
        if self.sequence is None:
            raise InputError("fitting needs the inverted codes: give a latents artifact (dynode invert)")
        if self.parts:
            total = len(self.parts) * config.iters
            for k, part in enumerate(self.parts):
                part.fit(config, None if progress is None else
                         lambda done, _, *rest, k=k: progress(k * config.iters + done, total, *rest))
            return self
        images = from_uint8(self._observed_frames("an image-space loss").pixels).to(self.generator.device) \
            if config.image_weight else None
        self.trajectory = fit(self.sequence, config, progress, self.generator, images)
        return self

    def save_trajectory(self, path: str | Path) -> Path:
        """Write the fitted trajectory (one artifact holding every span's, for a video of several)."""
        if self.parts:
            from dynode.dynamics.storage import save_trajectories
            save_trajectories(path, [part.require_trajectory("saving") for part in self.parts])
        else:
            save_trajectory(path, self.require_trajectory("saving a trajectory"))
        return Path(path)

    def fit_summary(self) -> str:
        """One line on the fit: its time and loss (per span for a video of several)."""
        if not self.parts:
            stats = self.require_trajectory("a fit summary").stats
            return f"fitted in {stats['seconds']:.1f} s, loss {stats['best_loss']:.4g}"
        stats = [part.require_trajectory("a fit summary").stats for part in self.parts]
        losses = ", ".join(f"{s['best_loss']:.3g}" for s in stats)
        return f"{len(stats)} spans fitted in {sum(s['seconds'] for s in stats):.1f} s, losses {losses}"

    def _observed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The observed codes (T, num_ws, w_dim) and their times (T,)."""
        if self.sequence is not None:
            return self.sequence.latents, self.sequence.times
        return self.trajectory.observed, self.trajectory.observed_times

    def _source_frames(self, purpose: str, instead: str) -> Frames:
        """Every kept frame of the source video, read again and cropped or resized as for inversion."""
        if self.source is None:
            raise InputError(f"{purpose} needs the frames the codes were inverted from, and these codes record "
                             f"no source video; {instead}")
        path = self.source.require(purpose, instead)
        res, every = self.generator.resolution, self.source.every
        if self.source.alignment is not None:
            pairs = list(frame_pairs(VideoReader(path), every))
            return Frames(self.source.alignment.crops(p for p, _ in pairs),
                          torch.tensor([t for _, t in pairs], dtype=torch.float64), self.source.fps)
        resize = (self.source.width, self.source.height) != (res, res)
        return read_video(path, every=every, size=res if resize else None)

    def _observed_frames(self, purpose: str, instead: str = "invert the video again",
                         frames: Frames | None = None) -> Frames:
        """The frames the codes were inverted from, at the codes' times (generator-sized): ``frames``
        or those in memory, else read again from the source video."""
        times = self._observed()[1]
        if frames is None:
            frames = self.frames if self.frames is not None else self._source_frames(purpose, instead)
        gap = (frames.times[:, None] - times[None]).abs()
        missing = gap.min(0).values > 1e-3
        if missing.any():
            raise InputError(f"the source video has no frame at t={times[missing][0].item():.4f} s, where the "
                             "codes were inverted; was it changed since?")
        return frames.select(gap.argmin(0))

    def detail(self) -> Detail:
        """The observed frames' residuals against their renders, ready to carry (built once).

        Raises:
            InputError: the frames are neither in memory nor readable from the source video.
        """
        if self._detail is None:
            frames = self._observed_frames("detail rendering (--fidelity detail)",
                                           "render with --fidelity latent, which needs only the codes")
            codes, times = self._observed()
            renders = render_pixels(self.generator, codes)
            self._detail = Detail(frames.pixels, renders, times, self.detail_config)
        return self._detail

    # Rendering ----------------------------------------------------------------------------

    def require_trajectory(self, what: str) -> Trajectory:
        """The fitted trajectory; InputError naming ``what`` needs it when there is none."""
        if self.parts:
            raise InputError(f"{what} needs one trajectory, and this video has {len(self.parts)} spans, each with its "
                             f"own ({describe(list(self.source.spans), len(self.source.cuts))}); read it with --shots "
                             "off to fit one across them")
        if self.trajectory is None:
            raise InputError(f"{what} needs a fitted trajectory: fit the codes first (dynode fit)")
        return self.trajectory

    def trajectories(self, what: str) -> list[Trajectory]:
        """The fitted trajectory, or one per span for a video of several (InputError naming ``what``
        needs them when the codes are not fitted)."""
        self._require_fitted(what)
        return [part.trajectory for part in self.parts] or [self.trajectory]

    def _require_fitted(self, what: str) -> None:
        """InputError naming ``what`` unless there is a trajectory, or one per span."""
        for pipe in self.parts or [self]:
            if pipe.trajectory is None:
                raise InputError(f"{what} needs a fitted trajectory: fit the codes first (dynode fit)")

    def _share_frames(self, fidelity: str) -> None:
        """For detail rendering of a video of several spans: the source's frames read once, each span
        given its own (rather than every span reading the whole video)."""
        if fidelity != "detail" or all(part.frames is not None for part in self.parts):
            return
        purpose, instead = "detail rendering (--fidelity detail)", \
            "render with --fidelity latent, which needs only the codes"
        frames = self._source_frames(purpose, instead)
        for part in self.parts:
            if part.frames is None:
                part.frames = part._observed_frames(purpose, instead, frames)

    def _spans(self, times: torch.Tensor, render, full_frame: bool = False, fps: float | None = None,
               audio: Path | None = None, extend_last: bool = False, tiles: int = 1, fidelity: str = "latent") -> Clip:
        """A clip over every span at ``times`` (see :func:`dynode.pipelines.spans.compose`)."""
        self._share_frames(fidelity)
        return multi.compose(self.source, self.parts, times, render, self.generator.resolution, full_frame,
                             fps or playback_rate(times), audio, extend_last, tiles)

    def _audio(self) -> Path | None:
        """The source video for its audio, if it has some; a gone source is said, not silently dropped."""
        source = self.source
        if source is None or not source.has_audio:
            return None
        if not Path(source.video).is_file():
            self.log(f"warning: the source video {source.video} is gone (moved or deleted); the output has no audio")
            return None
        return Path(source.video)

    def render(self, latents: torch.Tensor, times, full_frame: bool = False, fps: float | None = None,
               audio: Path | None = None, fidelity: str = "latent", geometry: torch.Tensor | None = None,
               feather: float = 4.0) -> Clip:
        """Any codes (N, num_ws, w_dim) at ``times`` (N,) seconds, rendered in chunks as the clip is read.

        Args:
            full_frame: paste each rendered face back into the source video (aligned sources
                only), the background at new times interpolated by optical flow from the source
                frames around it; the source is walked once as the frames go.
            fps: playback rate (default: the times' own). audio: a video whose audio goes along.
            fidelity: "latent" (the generator's render) or "detail" (the video's own detail
                carried along the path, see :mod:`dynode.detail`).
            geometry: with "detail", the unedited codes at the same times whose renders give the
                motion (default: ``latents`` themselves); pass them when ``latents`` are edited.

        Raises:
            InputError: codes that do not fit the generator, times of another length, an unknown
                fidelity, "detail" without the observed frames, or ``full_frame`` without an
                aligned source or with its video gone.
        """
        check_latents(self.generator, latents)
        times = check_times(times)
        if len(times) != len(latents) or (geometry is not None and geometry.shape != latents.shape):
            raise InputError(f"render(): {len(latents)} codes but {len(times)} times"
                             + ("" if geometry is None else f" and geometry codes {tuple(geometry.shape)}"))
        if fidelity not in FIDELITIES:
            raise InputError(f"unknown fidelity {fidelity!r}; valid: {list(FIDELITIES)}")
        rate = fps or playback_rate(times)
        generator = self.generator
        detail = self.detail() if fidelity == "detail" else None
        chunk = render_chunk(generator)

        def crops() -> Iterator[np.ndarray]:
            chunks = (to_uint8(chunk) for chunk in iter_render(generator, latents, chunk))
            if detail is None:
                return chunks
            if geometry is None:
                return (detail.apply(t, chunk) for t, chunk in zip(times.split(chunk), chunks))
            plain = (to_uint8(chunk) for chunk in iter_render(generator, geometry, chunk))
            return (detail.apply(t, base, chunk) for t, base, chunk in zip(times.split(chunk), plain, chunks))
        if not full_frame:
            return Clip(times, rate, crops, audio)
        source = self.source
        if source is None or source.alignment is None:
            raise InputError("full-frame output needs codes of an aligned video: invert it with --align")
        video = source.require("full-frame output")

        def pasted() -> Iterator[np.ndarray]:
            from dynode.align import paste_stream
            faces = (face for chunk in crops() for face in chunk)
            return (frame[None] for frame in paste_stream(VideoReader(video), faces, source.alignment, times,
                                                          feather, source.every))
        return Clip(times, rate, pasted, audio)

    def reconstruction(self, fps: float | None = None, fidelity: str = "latent") -> Clip:
        """The inverted codes themselves, rendered at their frames' times (with "detail": the frames)."""
        if self.parts:
            return self._spans(multi.kept_times(self.source, self.parts),
                               lambda part, t, last: part.reconstruction(fidelity=fidelity), fps=fps, fidelity=fidelity)
        codes, times = self._observed()
        return self.render(codes, times, fps=fps, fidelity=fidelity)

    def interpolate(self, factor: int | None = None, fps: float | None = None, times: Iterable[float] | None = None,
                    path: str = "exact", full_frame: bool = False, fidelity: str = "detail") -> Clip:
        """The video over its observed span at ``factor`` x its rate (default 8), at ``fps``, or at ``times``.

        Args:
            path: "exact" (through every observed frame) or "initial" (the paper's single solve
                from the first frame).
            full_frame: paste into the source video (see :meth:`render`).
            fidelity: "detail" (default: the video's own detail carried along the path; needs the
                observed frames, in memory or from the source video) or "latent" (see :meth:`render`).

        Raises:
            InputError: no trajectory, several of factor/fps/times, or bad values.
        """
        if factor is None and fps is None and times is None:
            factor = 8
        if self.parts:
            self._require_fitted("interpolation")
            t = render_times(multi.kept_times(self.source, self.parts), factor, fps,
                             None if times is None else list(times))
            return self._spans(t, lambda part, u, last: part._along(u, path, fidelity), full_frame, fps,
                               self._audio() if times is None else None, fidelity=fidelity)
        traj = self.require_trajectory("interpolation")
        t = render_times(traj.observed_times, factor, fps, None if times is None else list(times))
        return self.render(traj.evaluate(t, path=path), t, full_frame, fps,
                           self._audio() if times is None else None, fidelity)

    def extrapolate(self, seconds: float = 1.0, fps: float = 16.0, path: str = "exact", samples: int = 0,
                    seed: int = 0, fidelity: str = "detail") -> Clip:
        """From the first observation to ``seconds`` past the last one at ``fps``. With ``samples`` > 0,
        that many futures drawn from the neural SDE (:func:`dynode.dynamics.sample_future`) side by side.

        Raises:
            InputError: no trajectory, a negative duration or a non-positive rate.
        """
        if self.parts:
            self._require_fitted("extrapolation")
            kept = multi.kept_times(self.source, self.parts)
            t0, t1 = float(kept[0]), float(kept[-1])
            t = future_times(t0, t1 - t0 + seconds, fps, include_start=True)
            tiles = max(samples, 1)

            def render(part, u, last):
                if last:
                    return part._extrapolated(u, path, samples, seed, fidelity, fps)
                clip = part._along(u, path, fidelity)
                return clip.beside(*[clip] * (tiles - 1)) if tiles > 1 else clip
            return self._spans(t, render, fps=fps, extend_last=True, tiles=tiles, fidelity=fidelity)
        traj = self.require_trajectory("extrapolation")
        t0, t1 = float(traj.observed_times[0]), float(traj.observed_times[-1])
        return self._extrapolated(future_times(t0, t1 - t0 + seconds, fps, include_start=True), path, samples,
                                  seed, fidelity, fps)

    def _along(self, times: torch.Tensor, path: str, fidelity: str) -> Clip:
        """The fitted path's crops at ``times`` (a span's part of a video of several)."""
        return self.render(self.require_trajectory("rendering").evaluate(times, path=path), times, fidelity=fidelity)

    def _extrapolated(self, t: torch.Tensor, path: str, samples: int, seed: int, fidelity: str, fps: float) -> Clip:
        """The trajectory rendered at ``t`` (past its end too), with ``samples`` SDE futures side by side."""
        traj = self.require_trajectory("extrapolation")
        t1 = float(traj.observed_times[-1])
        latents = traj.evaluate(t, path=path)
        if samples < 1:
            return self.render(latents, t, fps=fps, fidelity=fidelity)
        after = t > t1
        tiles = []
        for future in sample_future(traj, t[after], samples, seed):
            codes = latents.clone()
            codes[after] = future
            tiles.append(self.render(codes, t, fps=fps, fidelity=fidelity))
        return tiles[0].beside(*tiles[1:])

    # Editing ------------------------------------------------------------------------------

    def direction(self, spec: str) -> Direction:
        """A direction of this generator's library by name, or from a file (see :func:`dynode.get_direction`)."""
        return get_direction(spec, self.generator)

    def make_edits(self, directions: list[str], strengths: list[float], layers: str | None = None,
                   conditions: Iterable[str] = (), schedule: str | None = None) -> list[Edit]:
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
        others = [self.direction(c) for c in conditions]
        chosen = parse_layers(layers, self.generator.num_ws) if layers is not None else None
        sched = Schedule.parse(schedule) if schedule else None
        edits = []
        for spec, strength in zip(directions, strengths):
            d = self.direction(spec).conditioned(others)
            edits.append(Edit(d.on_layers(chosen) if layers is not None else d, strength, sched))
        return edits

    def edit(self, edits: Iterable[Edit] = (), motion: Iterable[tuple[str | Direction, float]] = (),
             propagation: str = "first-frame", path: str = "exact", factor: int = 1,
             times: Iterable[float] | None = None, compare: bool = False, full_frame: bool = False,
             fidelity: str = "latent", lock_config: LockConfig = LockConfig()) -> Clip:
        """The video edited: ``edits`` carried through the dynamics (see :func:`dynode.propagate`),
        after ``motion`` edits, (component, gain) pairs applied in order, a component being "pcK"
        (the video's K-th principal motion), a direction spec or a :class:`Direction`.

        Args:
            propagation: "first-frame" (edit the first code, carried by the flow), "per-frame", or
                "locked" (the carried edit with a per-frame gain that holds its effect at the first
                frame's, or at ``lock_config.target``; see :mod:`dynode.edit.lock`).
            path: "exact" or "initial" (the unedited motion; initial + first-frame is the paper's solve).
            factor: render at this multiple of the observed rate (ignored with ``times``).
            compare: the unedited video on the left.
            fidelity: "latent" or "detail": the video's detail rides on the edited renders, the
                motion read from the unedited ones, only its fine grain kept where the edit changes
                the picture strongly (see :mod:`dynode.detail`).

        Raises:
            InputError: nothing to edit, an unknown propagation or path, or a bad motion component.
        """
        edits, motion = list(edits), list(motion)
        if not edits and not motion:
            raise InputError("nothing to edit: give a direction and/or a motion edit")
        if self.parts:  # each span edited from its own first frame
            self._require_fitted("editing")
            t = render_times(multi.kept_times(self.source, self.parts), factor=factor) if times is None \
                else check_times(list(times))
            audio = self._audio() if times is None else None
            clip = self._spans(t, lambda part, u, last: part.edit(edits, motion, propagation, path, times=u,
                                                                  fidelity=fidelity, lock_config=lock_config),
                               full_frame, audio=audio, fidelity=fidelity)
            if not compare:
                return clip
            return self._spans(t, lambda part, u, last: part._along(u, path, fidelity), full_frame, audio=audio,
                               fidelity=fidelity).beside(clip)
        traj = self.require_trajectory("editing")
        moved = traj
        for component, gain in motion:
            if isinstance(component, str) and not (component.startswith("pc") and component[2:].isdigit()):
                component = self.direction(component)
            moved = scale_motion(moved, motion_component(moved, component), gain)
        t = render_times(traj.observed_times, factor=factor) if times is None else check_times(list(times))
        audio = self._audio() if times is None else None
        geometry = moved.evaluate(t, path=path) if fidelity == "detail" else None
        if propagation not in EDIT_MODES:
            raise InputError(f"unknown propagation {propagation!r}; valid: {list(EDIT_MODES)}")
        info = {}
        if propagation == "locked":
            probe = None
            if lock_config.response == "probe":
                from dynode.metrics.attributes import load_regressor
                probe = load_regressor()
            codes, info["locked"] = lock(moved, self.generator, t, edits, path, lock_config, probe)
        else:
            codes = propagate(moved, t, edits, propagation, path)
        clip = replace(self.render(codes, t, full_frame, audio=audio, fidelity=fidelity, geometry=geometry), info=info)
        if compare:
            return self.render(traj.evaluate(t, path=path), t, full_frame, audio=audio, fidelity=fidelity).beside(clip)
        return clip

