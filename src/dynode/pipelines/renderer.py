"""Rendering a fitted video: crops of each part (with the video's detail, a steady or keyframe edit's
change), paths over the spans, spans composed into one clip, paste-back and audio.

A :class:`Renderer` is made by :class:`~dynode.pipelines.video.VideoPipeline` over its current
generator, source, spans and parts; what it computes once (each span's frames, detail and ``auto``
choice) goes into the pipeline's :class:`Cache`, so a new renderer is as good as the last.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from dynode.baselines import LATENT_INTERPOLATORS
from dynode.choice import Choice, check_count, choose, full_frames_needed, mean
from dynode.config import EDIT_FIDELITY, FIDELITIES, PATHS, DetailConfig, check_choice
from dynode.detail import Detail
from dynode.dynamics import sample_future
from dynode.edit.confine import confine
from dynode.edit.keyframe import hold
from dynode.edit.modes import Drawing
from dynode.edit.steady import steady
from dynode.errors import InputError
from dynode.flow import flow_interpolate
from dynode.io.shots import describe
from dynode.io.source import read_kept
from dynode.pipelines import spans as multi
from dynode.pipelines.clip import Clip, playback_rate
from dynode.pipelines.spans import Part, Piece
from dynode.render import check_latents, drawn, render_chunk, render_pixels
from dynode.times import future_times
from dynode.types import Frames, Generator, Source, Span, check_times

DETAIL = "detail rendering"


@dataclass(frozen=True)
class Cache:
    """What a pipeline's renders compute once, per fitted span: its kept frames, its detail (see
    :mod:`dynode.detail`) and how ``path="auto"`` draws it as crops (key False) or full frames (True)."""

    frames: dict[Span, Frames] = field(default_factory=dict)
    detail: dict[Span, Detail] = field(default_factory=dict)
    choices: dict[tuple[Span, bool], Choice] = field(default_factory=dict)

    def carried(self, renders_alike: bool) -> "Cache":
        """A cache for a derived pipeline: the frames, and the detail and choices when it renders alike
        (the same generator)."""
        return Cache(dict(self.frames), dict(self.detail) if renders_alike else {},
                     dict(self.choices) if renders_alike else {})


@dataclass(frozen=True)
class Renderer:
    """Renders the parts of a fitted video (see the module).

    Attributes:
        generator: the generator (the video's tuning delta applied). source: the video the codes
            came from (None for frames given in memory). spans: the video's spans. parts: one per
            fitted span. frames: the inverted frames when at hand in memory. detail_config: how
            detail is carried. log: where warnings go. cache: what is computed once (the pipeline's).
    """

    generator: Generator
    source: Source | None
    spans: tuple[Span, ...]
    parts: list[Part]
    frames: Frames | None
    detail_config: DetailConfig
    log: Callable[[str], None]
    cache: Cache

    def one_part(self, what: str) -> Part:
        """The one fitted part of a video of one span; InputError naming ``what`` for several."""
        if len(self.parts) > 1:
            raise InputError(f"{what} needs one trajectory, and this video has {len(self.parts)} spans, each with its "
                             f"own ({describe(list(self.spans), len(self.source.cuts))})", "shots_off")
        return self.parts[0]

    def detail(self, part: Part) -> Detail:
        """A part's residuals against their renders, ready to carry (built once)."""
        if part.span not in self.cache.detail:
            codes, times = part.observed()
            self.cache.detail[part.span] = Detail(self.part_frames(DETAIL, "fidelity_latent")[part.span].pixels,
                                                  render_pixels(self.generator, codes), times, self.detail_config)
        return self.cache.detail[part.span]

    def kept_frames(self, purpose: str, remedy: str | None = None) -> Frames:
        """The inverted frames: in memory, else read again from the source video.

        Raises:
            InputError: naming ``purpose``, when neither is at hand.
        """
        if self.frames is not None:
            return self.frames
        if self.source is None:
            raise InputError(f"{purpose} needs the frames the codes were inverted from, and these codes record "
                             "no source video", remedy)
        return read_kept(self.source, self.generator.resolution, purpose, remedy)

    def part_frames(self, purpose: str, remedy: str | None = None) -> dict[Span, Frames]:
        """Every fitted span's observed frames: from memory, else the source read once for every span
        (not once per span), kept in the cache."""
        if any(part.span not in self.cache.frames for part in self.parts):
            frames = self.kept_frames(purpose, remedy)
            for part in self.parts:
                self.cache.frames.setdefault(part.span, multi.select_frames(frames, part.observed()[1]))
        return self.cache.frames

    def crops(self, part: Part, latents: torch.Tensor, times: torch.Tensor, fidelity: str = EDIT_FIDELITY,
              carried: Detail | None = None) -> Clip:
        """Codes of one part (N, num_ws, w_dim) at ``times`` (N,) rendered as crops, in chunks as the clip
        is read; with "detail", the part's detail (or ``carried``, made with another :class:`DetailConfig`)
        carried along their renders."""
        return self.edited(part, Drawing(latents), times, fidelity, carried)

    def edited(self, part: Part, drawing: Drawing, times: torch.Tensor, fidelity: str = EDIT_FIDELITY,
               carried: Detail | None = None) -> Clip:
        """One part's :class:`~dynode.edit.modes.Drawing` at ``times`` (N,) rendered as crops, in chunks as the
        clip is read: its codes drawn (with its ``base``, as the tuned render of the unedited codes plus
        ``base``'s change from them); with "detail", the part's detail carried along the renders of its
        ``geometry`` (default: the codes'); with ``steady``, the change from ``geometry``'s renders averaged
        along their motion; with ``keys``, the keyframes' look held on that change; ``confined``, that change
        kept where it is clear. The clip's reports are the drawing's.

        Raises:
            InputError: an unknown fidelity (every render of a part comes this way, so it is checked here).
        """
        check_choice("fidelity", fidelity, FIDELITIES)
        generator, d = self.generator, drawing
        detail = (carried or self.detail(part)) if fidelity == "detail" else None
        chunk = render_chunk(generator)
        draw = partial(drawn, generator, base=d.base, unedited=d.unedited, chunk=chunk)

        def frames() -> Iterator[np.ndarray]:
            chunks = draw(d.codes) if d.own is None else draw(d.codes, unedited=d.own)
            if d.geometry is None:
                return chunks if detail is None else (detail.apply(t, c) for t, c in zip(times.split(chunk), chunks))
            plain = draw(d.geometry)
            if d.keys is not None:
                plain, unedited = itertools.tee(plain)
                chunks = hold(unedited, chunks, (u.numpy() for u in times.split(chunk)), d.keys,
                              None if d.weights is None else (w.numpy() for w in d.weights.split(chunk)))
            elif d.steady:
                plain, unedited = itertools.tee(plain)
                chunks = steady(unedited, chunks, d.steady, chunk)
            if d.confined:
                plain, unedited = itertools.tee(plain)
                chunks = confine(unedited, chunks)
            if detail is None:
                return chunks
            return (detail.apply(t, base, c) for t, base, c in zip(times.split(chunk), plain, chunks))
        return Clip(times, playback_rate(times), frames, reports=d.reports)

    def pieces(self, times: torch.Tensor, extrapolating: bool = False) -> list[Piece]:
        """The clip's ``times`` shared among the spans (see :func:`dynode.pipelines.spans.assign`)."""
        return multi.assign(self.spans, self.parts, times, extrapolating)

    def compose(self, times: torch.Tensor, pieces: list[Piece], clips: list[Clip | None], full_frame: bool = False,
                fps: float | None = None, audio: Path | None = None, tiles: int = 1) -> Clip:
        """One clip at ``times`` from each piece's clip (see :func:`dynode.pipelines.spans.compose`)."""
        return multi.compose(self.source, pieces, clips, self.generator.resolution, full_frame,
                             fps or playback_rate(times), audio, tiles)

    def audio(self) -> Path | None:
        """The source video for its audio, if it has some; a gone source is said, not silently dropped."""
        source = self.source
        if source is None or not source.has_audio:
            return None
        if not Path(source.video).is_file():
            self.log(f"warning: the source video {source.video} is gone (moved or deleted); the output has no audio")
            return None
        return Path(source.video)

    def spans_along(self, times: torch.Tensor, path: str, fidelity: str, full_frame: bool = False,
                    fps: float | None = None, audio: Path | None = None) -> Clip:
        """Every span's path rendered at ``times`` (see :meth:`compose`); a span that ``auto`` draws by the
        real frames' flow in full frames is passed through whole (the source's frames, flowed)."""
        def clip(piece: Piece) -> Clip | None:
            part, u = piece.part, piece.distinct
            if part is None:
                return None
            observed = part.observed()[1]
            if full_frame and path == "auto" and fidelity == "detail" and \
                    (self.choice(part, True).at(u, observed) == "flow").all():
                return None
            return self.along(part, u, path, fidelity, full_frame)
        pieces = self.pieces(times)
        return self.compose(times, pieces, [clip(piece) for piece in pieces], full_frame, fps, audio)

    def choice(self, part: Part, full_frame: bool = False) -> Choice:
        """How ``path="auto"`` renders a part between its kept frames, as crops or pasted into the full frames
        (checked once; see :mod:`dynode.choice`)."""
        key = (part.span, full_frame)
        if key not in self.cache.choices:
            detail = self.detail(part)
            codes, times = part.observed()
            full = None
            if full_frame:
                needed = set(full_frames_needed(len(times), check_count(self.detail_config)))
                pairs = multi.span_frames(multi.aligned_video(self.source, "full-frame output"), self.source,
                                          part.span)
                full = {i: frame for i, (frame, _) in enumerate(pairs) if i in needed}
            self.cache.choices[key] = choose(self.generator, detail.frames, detail.renders, times, codes,
                                             self.detail_config, full=full,
                                             alignment=None if full is None else self.source.alignment)
        return self.cache.choices[key]

    def path_codes(self, part: Part, times: torch.Tensor, path: str) -> torch.Tensor:
        """A part's codes at ``times`` (N,) along ``path`` (one of :data:`RENDER_PATHS`; "auto" gives the
        spline's, whatever draws the pictures): (N, num_ws, w_dim)."""
        path = "spline" if path == "auto" else path
        if path in PATHS:
            return part.trajectory.evaluate(times, path=path)
        codes, observed = part.observed()
        inside = (times >= observed[0]) & (times <= observed[-1])
        out = torch.empty(len(times), *codes.shape[1:])
        if (~inside).any():
            out[~inside] = part.trajectory.evaluate(times[~inside])
        out[inside] = LATENT_INTERPOLATORS[path](observed, codes, times[inside]).float()
        return out

    def along(self, part: Part, times: torch.Tensor, path: str, fidelity: str, full_frame: bool = False) -> Clip:
        """A part's path rendered at ``times`` as crops; "auto" with "detail" renders it as the part's
        :meth:`choice` (for crops, or for the ``full_frame`` they are pasted into) says between its kept
        frames (the spline with detail beyond them). In full frames the blend is the spline's crops pasted at
        half opacity onto the whole frames' flow, and auto's faces between the kept frames keep the frames' own
        detail finer than the crop."""
        codes = self.path_codes(part, times, path)
        auto = path == "auto" and fidelity == "detail"
        choice = self.choice(part, full_frame) if auto else Choice("spline")
        carried = None
        if choice.method == "fused" and not choice.stretches:
            detail = self.detail(part)
            carried = Detail(detail.frames, detail.renders, detail.times, replace(self.detail_config, real_flow=True))
        observed = part.observed()[1]
        methods = choice.at(times, observed)
        if full_frame and auto:
            # the crops pasted over the whole frames' flow (whole, at half opacity, or not at all), keeping the
            # frames' detail finer than the crop between the kept frames
            inside = ((times >= observed[0]) & (times <= observed[-1])).numpy()
            return replace(self.crops(part, codes, times, fidelity, carried=carried),
                           opacity=np.select([methods == "blend", methods == "flow"], [0.5, 0.0], 1.0),
                           fine=inside.astype(np.float32))
        if carried is not None or (methods == "spline").all():
            return self.crops(part, codes, times, fidelity, carried=carried)
        rendered, flowed = methods != "flow", methods != "spline"
        rendered_clip = self.crops(part, codes[torch.from_numpy(rendered)], times[torch.from_numpy(rendered)],
                                   fidelity) if rendered.any() else None
        pixels, chunk = self.detail(part).frames, render_chunk(self.generator)

        def frames() -> Iterator[np.ndarray]:  # the real frames' flow between them (or its mean with the render)
            renders = iter(()) if rendered_clip is None else \
                (frame for piece in rendered_clip.chunks() for frame in piece)
            flows = (frame for piece in times[torch.from_numpy(flowed)].split(chunk)
                     for frame in flow_interpolate(pixels, observed, piece))
            for method in methods:
                if method == "spline":
                    yield next(renders)[None]
                elif method == "blend":
                    yield mean(next(renders), next(flows))[None]
                else:
                    yield next(flows)[None]
        return Clip(times, playback_rate(times), frames)

    def extrapolated(self, part: Part, t: torch.Tensor, path: str, samples: int, seed: int, fidelity: str) -> Clip:
        """A part's trajectory rendered at ``t`` (past its end too), with ``samples`` SDE futures side by side."""
        traj = part.trajectory
        if samples < 1:
            return self.along(part, t, path, fidelity)
        latents = self.path_codes(part, t, path)
        after = t > float(traj.observed_times[-1])
        tiles = []
        for future in sample_future(traj, t[after], samples, seed):
            codes = latents.clone()
            codes[after] = future
            tiles.append(self.crops(part, codes, t, fidelity))
        return tiles[0].beside(*tiles[1:])

    def codes(self, latents: torch.Tensor, times, full_frame: bool = False, fps: float | None = None,
              audio: Path | None = None, fidelity: str = EDIT_FIDELITY) -> Clip:
        """Any codes (N, num_ws, w_dim) at ``times`` (N,) seconds, rendered in chunks as the clip is read
        (:meth:`dynode.pipelines.VideoPipeline.render`).

        Args:
            full_frame: paste each rendered face back into the source video (aligned sources
                only), the background at new times interpolated by optical flow from the source
                frames around it; the source is walked once as the frames go.
            fps: playback rate (default: the times' own). audio: a video whose audio goes along.
            fidelity: "latent" (the generator's render) or "detail" (the video's own detail
                carried along the path, see :mod:`dynode.detail`; a video of one span).

        Raises:
            InputError: codes that do not fit the generator, times of another length, an unknown
                fidelity, "detail" without the observed frames or over several spans, or
                ``full_frame`` without an aligned source or with its video gone.
        """
        check_latents(self.generator, latents)
        times = check_times(times)
        if len(times) != len(latents):
            raise InputError(f"render(): {len(latents)} codes but {len(times)} times")
        part = self.one_part(DETAIL) if fidelity == "detail" else self.parts[0]
        crops = self.crops(part, latents, times, fidelity)
        rate = fps or playback_rate(times)
        if not full_frame:
            return replace(crops, fps=rate, audio=audio)
        return multi.pasted(self.source, crops.frames, times, times, rate, audio)

    def reconstruction(self, fps: float | None, fidelity: str) -> Clip:
        """Every part's own codes rendered at their frames' times (with "detail": the frames)."""
        times = multi.kept_times(self.spans, self.parts)
        pieces = self.pieces(times)
        return self.compose(times, pieces, [None if p.part is None else self.crops(p.part, *p.part.observed(), fidelity)
                                            for p in pieces], fps=fps)

    def extrapolation(self, seconds: float, fps: float | None, path: str, samples: int, seed: int,
                      fidelity: str) -> Clip:
        """Every span from its first observation, the last one to ``seconds`` past its end at ``fps``
        (default: the observed rate), with ``samples`` SDE futures side by side (the other spans
        repeated beside them)."""
        kept = multi.kept_times(self.spans, self.parts)
        fps = fps or playback_rate(kept)
        times = future_times(float(kept[0]), float(kept[-1]) - float(kept[0]) + seconds, fps, include_start=True)
        tiles = max(samples, 1)

        def clip(piece: Piece) -> Clip | None:
            if piece.part is None:
                return None
            if piece.last:
                return self.extrapolated(piece.part, piece.distinct, path, samples, seed, fidelity)
            return self.along(piece.part, piece.distinct, path, fidelity).tiled(tiles)
        pieces = self.pieces(times, extrapolating=True)
        return self.compose(times, pieces, [clip(piece) for piece in pieces], fps=fps, tiles=tiles)
