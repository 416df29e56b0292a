"""The pipeline object: a video in, videos out. It chains the stages and holds what they share.

    pipe = VideoPipeline.from_video("clip.mp4")          # read, invert, fit
    pipe.interpolate(factor=8).write("clip_8x.mp4")
    pipe.edit(EditSpec(("smile",))).write("clip_smile.mp4")

Every verb renders over the video's spans (:func:`dynode.pipelines.spans.compose`) and returns a
:class:`Clip` whose frames are produced chunk by chunk only when read, so long outputs stay within memory.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Iterable

import torch

from dynode.choice import Choice
from dynode.config import (DEFAULT_GENERATOR, EDIT_FIDELITY, DetailConfig, EditSpec, Extrapolation, FitConfig,
                           Interpolation, InversionConfig, PTIConfig, ReadConfig)
from dynode.dynamics import Trajectory, field_for
from dynode.dynamics.fit import ignored_options
from dynode.edit import Direction, Edit
from dynode.errors import InputError
from dynode.pipelines import spans as multi
from dynode.pipelines.build import (FitProgress, Log, Progress, fit_parts, fit_summary, invert_frames, read_artifact,
                                    read_video, save_fitted, tune_codes)
from dynode.pipelines.clip import Clip, playback_rate
from dynode.pipelines.editor import edit_clip, make_edits
from dynode.pipelines.models import Models
from dynode.pipelines.renderer import Cache, Renderer
from dynode.pipelines.spans import Part
from dynode.times import render_times
from dynode.types import Frames, Generator, LatentSequence, Source, check_times

_stderr = partial(print, file=sys.stderr)


def _request(request, kind: type):
    """``request``, or the default ``kind`` for None.

    Raises:
        InputError: a request of another kind (a verb's options go by keyword: ``pipe.extrapolate(seconds=2)``).
    """
    if request is None:
        return kind()
    if not isinstance(request, kind):
        raise InputError(f"expected a {kind.__name__} or options by keyword, got {type(request).__name__} "
                         f"{request!r}")
    return request


class VideoPipeline:
    """A video's models (:class:`~dynode.pipelines.models.Models`, the video's pivotal-tuning delta
    applied), codes, spans and source, and everything rendered from them.

    Build one with :meth:`from_video` (a file or image folder), :meth:`from_frames` (frames in
    memory) or :meth:`from_artifacts` (a latents or trajectory file). :meth:`tune` and :meth:`fit` return
    new pipelines; rendering goes through :attr:`renderer`
    (:mod:`dynode.pipelines.renderer`) and editing through :mod:`dynode.pipelines.editor`.

    Args:
        models: the model bundle, or a generator (then with what its model folder holds).
        sequence: the inverted codes of every fitted frame (None when built from trajectories).
        trajectory: a fitted trajectory, or one per fitted span of the source, in time order.
        frames: the frames the codes were inverted from, when at hand in memory (else tuning, the
            image loss of :meth:`fit` and detail rendering read them again from the source video).
        detail_config: how detail is carried (see :mod:`dynode.detail`).

    Attributes:
        models, sequence, frames: as given. source: the video the codes came from (None for
            frames given in memory). spans: the video's spans (one fitted span when its source
            records none). parts: one :class:`Part` per fitted span. detail_config: as given.

    Raises:
        InputError: neither codes nor a trajectory, or trajectories that do not match the spans.
        CheckpointError: codes of another generator, or tuned to another video (see :meth:`Models.matching`).
    """

    def __init__(self, models: Models | Generator, sequence: LatentSequence | None = None,
                 trajectory: Trajectory | list[Trajectory] | None = None, log: Log | None = None,
                 frames: Frames | None = None, detail_config: DetailConfig = DetailConfig()):
        trajectories = [trajectory] if isinstance(trajectory, Trajectory) else list(trajectory or [])
        if sequence is None and not trajectories:
            raise InputError("VideoPipeline needs a latent sequence or a trajectory")
        record = (sequence or trajectories[0]).generator
        self.models, self.sequence, self.frames = Models.around(models).matching(record), sequence, frames
        self.log, self.detail_config = log or _stderr, detail_config
        self.source: Source | None = (sequence or trajectories[0]).source
        times = sequence.times if sequence is not None else torch.cat([t.observed_times for t in trajectories])
        self.spans = multi.layout(self.source, times)
        fitted = [span for span in self.spans if span.kind == "fit"]
        codes = multi.split(sequence, self.spans) if sequence is not None else [None] * len(fitted)
        if trajectories and len(trajectories) != len(fitted):
            raise InputError(f"{len(trajectories)} trajectories for a video of {len(fitted)} fitted span(s)")
        self.parts = [Part(span, c, t) for span, c, t in zip(fitted, codes, trajectories or [None] * len(fitted))]
        self.cache = Cache()

    def _derived(self, models: Models | None = None, sequence: LatentSequence | None = None,
                 trajectories: list[Trajectory] | None = None, renders_alike: bool = True,
                 detail_config: DetailConfig | None = None) -> "VideoPipeline":
        """A new pipeline from this one with some of its parts replaced; the frames each part has read
        (and, when it renders alike: the same generator and detail config, its detail and ``auto`` choices)
        carry over."""
        trajectories = trajectories if trajectories is not None else \
            ([p.trajectory for p in self.parts] if all(p.trajectory is not None for p in self.parts) else None)
        out = VideoPipeline(models or self.models, sequence or self.sequence, trajectories, self.log, self.frames,
                            detail_config or self.detail_config)
        out.cache = self.cache.carried(renders_alike)
        return out

    def with_detail(self, config: DetailConfig) -> "VideoPipeline":
        """The same video (fitted or not) with its detail carried, and ``auto`` choosing, as ``config`` says
        (see :mod:`dynode.detail`, :mod:`dynode.choice`); the frames read carry over, the detail and choices
        are made anew."""
        return self._derived(renders_alike=False, detail_config=config)

    @property
    def generator(self) -> Generator:
        """The generator (the video's tuning delta applied)."""
        return self.models.generator

    @property
    def renderer(self) -> Renderer:
        """What renders this video's parts (made anew over the current generator and parts)."""
        return Renderer(self.generator, self.source, self.spans, self.parts, self.frames, self.detail_config, self.log,
                        self.cache)

    @property
    def trajectory(self) -> Trajectory | None:
        """The fitted trajectory of a video of one span (None until fitted, or for several: :meth:`trajectories`)."""
        return self.parts[0].trajectory if len(self.parts) == 1 else None

    @classmethod
    def from_video(cls, video: str | Path, models: Models | Generator | str = DEFAULT_GENERATOR,
                   read: ReadConfig = ReadConfig(), *, inversion: InversionConfig = InversionConfig(),
                   fit: FitConfig | None = FitConfig(), device: str = "cpu",
                   progress: Progress | None = None, log: Log | None = None,
                   partial: str | Path | None = None, tune_progress: Progress | None = None) -> "VideoPipeline":
        """Read a video file or image folder (:func:`dynode.io.source.read_source`), invert its
        frames (tuning the generator to them as ``inversion`` says) and (unless ``fit`` is None) fit them.

        Args:
            models: a model bundle, a generator, or a bundled name or model folder to load.
            read: which frames and how they are cropped.
            progress: inversion progress, called as progress(frames_done, frames_total).
            partial: keep the inversion's progress there to resume it (see :meth:`from_frames`).
            tune_progress: the tuning's progress, called as tune_progress(steps_done, steps_total).

        Raises:
            InputError: unreadable video, < 2 frames, frames of the wrong size without resize or
                align, or no face anywhere with align. CheckpointError: unknown generator.
        """
        models = Models.from_pretrained(models, device) if isinstance(models, (str, Path)) else Models.around(models)
        log = log or _stderr
        frames, source = read_video(video, models.generator.resolution, read, log)
        return cls.from_frames(frames, models, inversion=inversion, fit=fit, progress=progress, log=log, source=source,
                               partial=partial, tune_progress=tune_progress)

    @classmethod
    def from_frames(cls, frames: Frames, models: Models | Generator, inversion: InversionConfig = InversionConfig(),
                    *, fit: FitConfig | None = FitConfig(), progress: Progress | None = None, log: Log | None = None,
                    source: Source | None = None, partial: str | Path | None = None,
                    tune_progress: Progress | None = None) -> "VideoPipeline":
        """Invert frames already in memory (uint8, the generator's size), tuning the generator to them as
        ``inversion`` says (see :func:`dynode.pipelines.build.invert_frames` for ``source``, ``partial``
        and what it refuses), and fit them with ``fit`` (None: not)."""
        models, log = Models.around(models), log or _stderr
        models, seq = invert_frames(models, frames, inversion, progress, log, source, partial, tune_progress)
        pipe = cls(models, seq, log=log, frames=frames)
        return pipe if fit is None else pipe.fit(fit)

    @classmethod
    def from_artifacts(cls, path: str | Path, device: str = "cpu", models: Models | Generator | None = None,
                       log: Log | None = None) -> "VideoPipeline":
        """A pipeline from a latents or trajectory artifact, its models reloaded from the generator record
        it holds, or ``models`` if given (see :func:`dynode.pipelines.build.read_artifact`).

        Raises:
            CheckpointError: unreadable artifact, one of another kind, or a generator that cannot be reloaded.
        """
        models, sequence, trajectories = read_artifact(path, device, None if models is None else Models.around(models))
        return cls(models, sequence, trajectories, log)

    def tune(self, config: PTIConfig = PTIConfig()) -> "VideoPipeline":
        """Pivotal tuning around the codes (see :func:`dynode.pipelines.build.tune_codes`): a new pipeline
        whose generator is a tuned copy and whose codes record its delta and their tuned PSNR
        (``sequence.tuning`` holds the PSNR before); this one is unchanged.

        Raises:
            InputError: no codes, a generator already tuned, or frames that are not at hand.
        """
        seq = self._require_codes("tuning")
        models, tuned = tune_codes(self.models, seq, self.renderer.kept_frames("pivotal tuning"), config)
        return self._derived(models, tuned, renders_alike=False)

    def fit(self, config: FitConfig = FitConfig(), progress: FitProgress | None = None) -> "VideoPipeline":
        """Fit the dynamics of every fitted span to its codes (see :func:`dynode.dynamics.fit`);
        returns a new pipeline with the trajectories; this one is unchanged.

        With ``config.image_weight`` the observed frames are needed: those read by
        :meth:`from_video`, or read again from the source video.

        Raises:
            InputError: no codes (built from a trajectory), or an image loss whose source video
                is gone or lacks a frame at one of the codes' times.
        """
        self._require_codes("fitting")
        field = field_for(config, self.models.prior)
        ignored = ignored_options(config, field)
        if ignored:
            self.log(f"warning: the {field} field ignores " +
                     ", ".join(f"{name} (--{name.replace('_', '-')})" for name in ignored) +
                     "; they set " + ("a per-video field's training (--field mlp, cde, ...)" if ignored[0] != "refine"
                                      else "the motion prior's refinement (--field prior)"))
        frames = self.renderer.part_frames("an image-space loss") if config.image_weight else None
        return self._derived(trajectories=fit_parts(self.parts, self.models, config, progress, frames))

    def save_trajectory(self, path: str | Path) -> Path:
        """Write the fitted trajectory (one artifact holding every span's, for a video of several)."""
        return save_fitted(path, self.trajectories("saving a trajectory"))

    def fit_summary(self) -> str:
        """One line on the fit: its time and loss (per span for a video of several)."""
        return fit_summary(self.trajectories("a fit summary"))

    def _require_codes(self, what: str) -> LatentSequence:
        if self.sequence is None:
            raise InputError(f"{what} needs the inverted codes, and this pipeline was built from a trajectory",
                             "invert_first")
        return self.sequence

    def trajectories(self, what: str) -> list[Trajectory]:
        """One fitted trajectory per span (InputError naming ``what`` needs them when the codes are
        not fitted)."""
        if any(part.trajectory is None for part in self.parts):
            raise InputError(f"{what} needs a fitted trajectory: fit the codes first", "fit_first")
        return [part.trajectory for part in self.parts]

    def render(self, latents: torch.Tensor, times, full_frame: bool = False, fps: float | None = None,
               audio: Path | None = None, fidelity: str = EDIT_FIDELITY) -> Clip:
        """Any codes (N, num_ws, w_dim) at ``times`` (N,) seconds, rendered in chunks as the clip is read
        (see :meth:`dynode.pipelines.renderer.Renderer.codes` for the options and what it refuses)."""
        return self.renderer.codes(latents, times, full_frame, fps, audio, fidelity)

    def reconstruction(self, fps: float | None = None, fidelity: str = EDIT_FIDELITY) -> Clip:
        """The inverted codes themselves, rendered at their frames' times (with "detail": the frames)."""
        return self.renderer.reconstruction(fps, fidelity)

    def interpolate(self, request: Interpolation | None = None, **options) -> Clip:
        """The video over its observed span as ``request`` says (see :class:`~dynode.config.Interpolation`;
        ``options`` replace its fields: ``pipe.interpolate(factor=4)``): at a multiple of its rate (8 by
        default), at a rate or at given times, its duration kept; or with ``slowdown``, that many times longer
        at the source video's rate, the audio stretched with its pitch kept.

        ``path`` "auto" (the default: with "detail", each span drawn between its kept frames by whichever of
        the spline with detail, the real frames' flow, the mean of the two or their fusion predicts the
        span's own hidden kept frames best, see :meth:`choices`; with "latent", the spline), "exact" (through
        every observed frame), "initial" (the paper's single solve from the first frame), or "linear",
        "slerp", "spline": that interpolation of the same codes inside the observed span. ``fidelity``
        "detail" (the default) carries the video's own detail along the path (it needs the observed frames,
        in memory or from the source video).

        Raises:
            InputError: no trajectory, or what the request refuses.
        """
        r = replace(_request(request, Interpolation), **options)
        self.trajectories("interpolation")
        kept = multi.kept_times(self.spans, self.parts)
        if r.slowdown is not None:
            rate = r.out_fps or (self.source.fps if self.source is not None else playback_rate(kept))
            return self.interpolate(replace(r, slowdown=None, fps=r.slowdown * rate, out_fps=rate))
        factor = 8 if r.factor is None and r.fps is None and r.times is None else r.factor
        t = render_times(kept, factor, r.fps, None if r.times is None else list(r.times))
        if r.path == "auto" and r.fidelity == "detail":
            self.choices(r.full_frame)
        renderer = self.renderer
        clip = renderer.spans_along(t, r.path, r.fidelity, r.full_frame, r.fps,
                                    renderer.audio() if r.times is None else None)
        return clip.at_rate(r.out_fps) if r.out_fps else clip

    def choices(self, full_frame: bool = False) -> list[Choice]:
        """How ``path="auto"`` renders each fitted span between its kept frames (as crops, or pasted into
        the full frames), checked on the span's own kept frames once (see :mod:`dynode.choice`) and logged."""
        renderer, out = self.renderer, []
        for k, part in enumerate(self.parts):
            known = (part.span, full_frame) in self.cache.choices
            out.append(renderer.choice(part, full_frame))
            if not known:
                where = f"span {k + 1} of {len(self.parts)}: " if len(self.parts) > 1 else ""
                self.log(f"auto: {where}{out[-1].describe()}")
        return out

    def extrapolate(self, request: Extrapolation | None = None, **options) -> Clip:
        """From the first observation to ``seconds`` past the last one, as ``request`` says (see
        :class:`~dynode.config.Extrapolation`; ``options`` replace its fields: ``pipe.extrapolate(seconds=2)``);
        with ``samples`` > 0, that many futures drawn from the neural SDE (:func:`dynode.dynamics.sample_future`)
        side by side.

        Raises:
            InputError: no trajectory, a video that ends with frames passed through, or what the request
                refuses.
        """
        r = replace(_request(request, Extrapolation), **options)
        self.trajectories("extrapolation")
        if r.path == "auto" and r.fidelity == "detail":
            self.choices()
        return self.renderer.extrapolation(r.seconds, r.fps, r.path, r.samples, r.seed, r.fidelity)

    def direction(self, spec: str) -> Direction:
        """A direction of the generator's library by name, or from a file (see :func:`dynode.get_direction`)."""
        return self.models.direction(spec)

    def make_edits(self, spec: EditSpec) -> list[Edit]:
        """Edits from a user's spec (see :func:`dynode.pipelines.editor.make_edits`)."""
        return make_edits(self.models, spec)

    def edit(self, spec: EditSpec | None = None, *, edits: Iterable[Edit] = (), **options) -> Clip:
        """The video edited as ``spec`` says, each span from its own first frame (see
        :mod:`dynode.pipelines.editor`).

        Args:
            spec: the edits as a user names them (directions by name or file, strengths, motion edits), how
                they ride on the video (``propagation``, ``lock``, ``steady``, ``keyframes``, ``path``) and
                what is rendered (``factor`` or ``times``, ``compare``, ``full_frame``, ``fidelity``); see
                :class:`~dynode.config.EditSpec`. ``options`` replace its fields: ``pipe.edit(spec, times=t)``.
            edits: :class:`Edit` objects (directions made in code) edited with the spec's directions, as it says.

        Returns:
            A clip whose ``reports`` say how each locked edit was held, per span.

        Raises:
            InputError: nothing to edit, a spec that is not an EditSpec, a bad motion component, a probe
                response for a generator without a probe, or what the spec refuses.
        """
        if spec is not None and not isinstance(spec, EditSpec):
            raise InputError(f"edit(): the first argument is an EditSpec (directions by name, and how edits "
                             f"propagate), not {type(spec).__name__}; give Edit objects as edits=[...]")
        spec = replace(spec or EditSpec(), **options)
        self.trajectories("editing")
        t = render_times(multi.kept_times(self.spans, self.parts), factor=spec.factor) if spec.times is None \
            else check_times(list(spec.times))
        renderer = self.renderer
        return edit_clip(renderer, self.models, spec, list(edits), t, renderer.audio() if spec.times is None else None)
