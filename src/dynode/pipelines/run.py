"""One way through: a video and a :class:`RunSpec` in, a :class:`RunResult` out.

    result = run("clip.mp4", RunSpec(interpolation=Interpolation(factor=4), edit=EditSpec(("smile",))), out="clip_out")
    result.pipeline.extrapolate(seconds=1).write("future.mp4")

The command line, the web app and the batch runner all call :func:`run`: read and invert the
video (resumably), tune, fit, and with an output folder write the artifacts and renders the spec
asks for. Its defaults are the configs' own; it validates nothing they have not validated already.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dynode.config import DEFAULT_GENERATOR, EditSpec, FitConfig, Interpolation, InversionConfig, ReadConfig, _Config
from dynode.io.checkpoints import save_latents
from dynode.pipelines.models import Models
from dynode.pipelines.video import VideoPipeline
from dynode.times import Stopwatch

# progress(stage, done, total), stage "inverting", "tuning" or "fitting"
StageProgress = Callable[[str, int, int], None]
LATENTS, TRAJECTORY, INTERPOLATED, EDITED = "latents.safetensors", "trajectory.safetensors", "interpolated.mp4", \
    "edited.mp4"


@dataclass(frozen=True)
class RunSpec(_Config):
    """What is done to a video.

    Args:
        generator: a bundled generator name or a model folder.
        read: how the video is read (see :meth:`VideoPipeline.from_video`).
        inversion: how its frames are inverted, and whether the generator is tuned to them.
        fit: how the codes are fitted. invert_only: stop after inversion (and tuning).
        interpolation: with an output folder, also write ``interpolated.mp4`` as it says (None: none).
        edit: with an output folder and directions or motion edits, also write ``edited.mp4`` as it says.
    """

    generator: str = DEFAULT_GENERATOR
    read: ReadConfig = ReadConfig()
    inversion: InversionConfig = InversionConfig()
    fit: FitConfig = FitConfig()
    invert_only: bool = False
    interpolation: Interpolation | None = None
    edit: EditSpec = EditSpec()


@dataclass(frozen=True)
class StageSeconds:
    """Wall time of each stage of a run (0 for a stage not run)."""

    invert: float = 0.0
    fit: float = 0.0
    interpolate: float = 0.0
    edit: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class RunResult:
    """What a run made and measured.

    Attributes:
        pipeline: the fitted (or, with ``invert_only``, inverted) pipeline, ready for more renders.
        frames: frames inverted. shots: shots found (cuts + 1). spans: fitted spans.
        passed_frames: kept frames passed through from the source (faceless, one-frame shots).
        psnr: mean reconstruction PSNR of the inverted frames, dB (after tuning, if tuned).
        psnr_before_tuning: the same before pivotal tuning (None: not tuned).
        seconds: per stage. outputs: the files written in the output folder, by name.
        methods: how each fitted span was drawn between its kept frames when interpolated with
            ``path="auto"``, with the leave-one-out scores that chose it (empty: not interpolated).
    """

    pipeline: VideoPipeline
    frames: int
    shots: int
    spans: int
    passed_frames: int
    psnr: float
    psnr_before_tuning: float | None
    seconds: StageSeconds
    outputs: tuple[str, ...]
    methods: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: frames, PSNR, tuning and the fit."""
        tuned = f" (pivotal tuning: {self.psnr_before_tuning:.2f} dB before)" if self.psnr_before_tuning else ""
        line = f"{self.frames} frames inverted, mean PSNR {self.psnr:.2f} dB{tuned}"
        fitted = all(part.trajectory is not None for part in self.pipeline.parts)
        return f"{line}; {self.pipeline.fit_summary()}" if fitted else line


def run(video: str | Path, spec: RunSpec = RunSpec(), out: str | Path | None = None, models: Models | None = None,
        device: str = "cpu", progress: StageProgress | None = None, log: Callable[[str], None] | None = None,
        partial: str | Path | None = None) -> RunResult:
    """Read, invert, tune and fit a video as ``spec`` says; with ``out``, write its outputs there.

    Args:
        out: a folder for ``latents.safetensors``, ``trajectory.safetensors`` and the renders the
            spec asks for (None: nothing is written).
        models: the model bundle, when already loaded (default: ``spec.generator``'s, on ``device``).
        progress: called as progress(stage, done, total) while inverting, tuning and fitting.
        partial: keep the inversion's progress there to resume it (see :mod:`dynode.inversion.resume`).

    Raises:
        InputError, CheckpointError: what reading, inversion, fitting or rendering refuse.
    """
    watch = Stopwatch()
    report = progress or (lambda stage, done, total: None)
    models = models or Models.from_pretrained(spec.generator, device)
    folder = None if out is None else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    outputs: list[str] = []
    methods: tuple[str, ...] = ()
    pipe = VideoPipeline.from_video(video, models, read=spec.read, inversion=spec.inversion, fit=None, device=device,
                                    progress=lambda done, total: report("inverting", done, total), log=log,
                                    partial=partial, tune_progress=lambda done, total: report("tuning", done, total))
    if folder is not None:
        save_latents(folder / LATENTS, pipe.sequence)
        outputs.append(LATENTS)
    watch.lap("invert")
    if not spec.invert_only:
        pipe = pipe.fit(spec.fit, lambda done, total, *_: report("fitting", done, total))
        if folder is not None:
            pipe.save_trajectory(folder / TRAJECTORY)
            outputs.append(TRAJECTORY)
        watch.lap("fit")
        if folder is not None and spec.interpolation is not None:
            pipe.interpolate(spec.interpolation).write(folder / INTERPOLATED)
            outputs.append(INTERPOLATED)
            if spec.interpolation.path == "auto" and spec.interpolation.fidelity == "detail":
                methods = tuple(choice.describe() for choice in pipe.choices())
            watch.lap("interpolate")
        if folder is not None and (spec.edit.directions or spec.edit.motion):
            pipe.edit(spec.edit).write(folder / EDITED)
            outputs.append(EDITED)
            watch.lap("edit")
    seq, source = pipe.sequence, pipe.source
    before = None if seq.tuning is None else seq.tuning.psnr_before
    return RunResult(pipe, len(seq), len(source.cuts) + 1 if source is not None else 1, len(pipe.parts),
                     sum(len(span) for span in pipe.spans if span.kind == "pass"), float(seq.psnr.mean()),
                     None if before is None else float(before),
                     StageSeconds(**watch.seconds, total=watch.total), tuple(outputs), methods)
