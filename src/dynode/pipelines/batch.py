"""Batch runs: many videos, one set of options, one Ray task per video.

    videos = collect_videos(["clips/", "more/*.mp4", "list.txt"])
    rows = run_batch(videos, "batch_out", BatchJob(factor=4, directions=("smile",)))

Each video gets a folder ``OUT/<name>/`` with its latents, trajectory, rendered videos and a
``batch.json`` record written last. A video whose record matches the job's options and the
file's size and modification time is skipped on the next run; an interrupted inversion resumes
from its partial file. One failing video does not stop the others: its error goes in its row.
``OUT/summary.csv`` and ``OUT/summary.json`` (rewritten atomically after every video) hold one
row per video: status, frames inverted, shots, fitted spans and passed-through frames (see
:mod:`dynode.io.shots`), seconds per stage, reconstruction PSNR, error.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from dynode.config import FitConfig, InversionConfig, PTIConfig, ReadConfig, _Config
from dynode.detail import FIDELITIES
from dynode.errors import DynodeError, InputError
from dynode.io.checkpoints import atomic_path, save_latents
from dynode.pipelines.video import EDIT_MODES, VideoPipeline

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif", ".mpg", ".mpeg", ".y4m")
COLUMNS = ("video", "name", "status", "frames", "shots", "spans", "passed_frames", "seconds_invert", "seconds_fit",
           "seconds_interpolate",
           "seconds_edit", "seconds_total", "psnr", "outputs", "error")
RECORD = "batch.json"


@dataclass(frozen=True)
class BatchJob(_Config):
    """What is done to every video of a batch.

    Args:
        generator: bundled generator name or model folder.
        read, inversion, fit: as for one video (:meth:`VideoPipeline.from_video`).
        pti_steps: pivotal-tuning steps (0: no tuning).
        factor: also write ``interpolated.mp4`` at this multiple of the frame rate (0: none).
        directions, strengths: also write ``edited.mp4`` with these edits (one strength for all or
            one each).
        propagation: how the edit rides on the path (see :func:`dynode.edit.propagate`).
        fidelity: of the interpolated video ("detail" or "latent"; the edit is latent).
    """

    generator: str = "toyfaces64"
    read: ReadConfig = ReadConfig()
    inversion: InversionConfig = InversionConfig()
    pti_steps: int = 0
    fit: FitConfig = FitConfig()
    factor: int = 0
    directions: tuple[str, ...] = ()
    strengths: tuple[float, ...] = (2.0,)
    propagation: str = "first-frame"
    fidelity: str = "detail"

    def __post_init__(self):
        object.__setattr__(self, "directions", tuple(self.directions))
        object.__setattr__(self, "strengths", tuple(float(s) for s in self.strengths))
        if self.pti_steps < 0 or self.factor < 0:
            raise InputError(f"BatchJob: pti_steps and factor must be >= 0, got {self.pti_steps}, {self.factor}")
        if self.directions and len(self.strengths) not in (1, len(self.directions)):
            raise InputError(f"give one strength for all directions or one for each: {len(self.directions)} "
                             f"directions, {len(self.strengths)} strengths")
        if self.propagation not in EDIT_MODES:
            raise InputError(f"propagation {self.propagation!r}: choose from {', '.join(EDIT_MODES)}")
        if self.fidelity not in FIDELITIES:
            raise InputError(f"fidelity {self.fidelity!r}: choose from {', '.join(FIDELITIES)}")


def collect_videos(inputs: Iterable[str | Path]) -> list[Path]:
    """The video files named by ``inputs``: files, folders (their videos, sorted), glob patterns,
    and list files (``.txt``: one path per line, relative to the list; ``#`` starts a comment).
    Each video once, in the order given.

    Raises:
        InputError: an input that matches nothing, or no video at all.
    """
    found: list[Path] = []
    for item in map(str, inputs):
        path = Path(item)
        if path.suffix == ".txt" and path.is_file():
            lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
            found += collect_videos([str(path.parent / line) for line in lines if line]) if any(lines) else []
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            found += matches
        else:
            raise InputError(f"{item}: no such video, folder, list file or pattern")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InputError(f"no video among {', '.join(map(str, inputs))} (video suffixes: {' '.join(VIDEO_SUFFIXES)})")
    return unique


def folder_names(videos: list[Path]) -> list[str]:
    """One output folder name per video: its stem, with its parent folder's name where stems repeat."""
    stems = [v.stem for v in videos]
    return [f"{v.parent.name}-{v.stem}" if stems.count(v.stem) > 1 else v.stem for v in videos]


def _identity(video: Path, job: BatchJob) -> dict:
    """What a finished video's record must match for it to be skipped."""
    stat = video.stat()
    return {"video": str(video), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "options": job.hash()}


def finished(video: Path, folder: Path, job: BatchJob) -> dict | None:
    """The row of a video already done with these options (None: it must run)."""
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if record.get("identity") != _identity(video, job):
        return None
    row = record["row"]
    if not all((folder / name).is_file() for name in row["outputs"].split(";") if name):
        return None
    return {**row, "status": "skipped"}


def process_video(video: str | Path, folder: str | Path, job: BatchJob, device: str = "cpu") -> dict:
    """Run ``job`` on one video into ``folder``; returns its summary row (never raises: a failure is
    the row's status and error)."""
    video, folder = Path(video), Path(folder)
    row = {c: "" for c in COLUMNS} | {"video": str(video), "name": folder.name}
    start = time.perf_counter()
    outputs: list[str] = []
    log = io.StringIO()

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        row[f"seconds_{stage}"] = round(now - since, 2)
        return now

    try:
        folder.mkdir(parents=True, exist_ok=True)
        pti = PTIConfig(steps=job.pti_steps) if job.pti_steps else None
        pipe = VideoPipeline.from_video(video, job.generator, job.read, job.inversion, pti, None, device,
                                        log=lambda m: print(m, file=log),
                                        partial=folder / "latents.partial.safetensors")
        save_latents(folder / "latents.safetensors", pipe.sequence)
        outputs.append("latents.safetensors")
        row["frames"], row["psnr"] = len(pipe.sequence), round(float(pipe.sequence.psnr.mean()), 3)
        source = pipe.source
        row["shots"], row["spans"] = len(source.cuts) + 1, max(len(pipe.parts), 1)
        row["passed_frames"] = sum(len(span) for span in source.spans if span.kind == "pass")
        t = lap("invert", start)
        pipe.fit(job.fit).save_trajectory(folder / "trajectory.safetensors")
        outputs.append("trajectory.safetensors")
        t = lap("fit", t)
        if job.factor:
            pipe.interpolate(job.factor, fidelity=job.fidelity).write(folder / "interpolated.mp4")
            outputs.append("interpolated.mp4")
            t = lap("interpolate", t)
        if job.directions:
            edits = pipe.make_edits(list(job.directions), list(job.strengths))
            pipe.edit(edits, propagation=job.propagation).write(folder / "edited.mp4")
            outputs.append("edited.mp4")
            lap("edit", t)
        row["status"] = "done"
    except DynodeError as e:
        row["status"], row["error"] = "failed", str(e)
    except Exception as e:  # noqa: BLE001 - one video's crash must not stop the batch
        row["status"], row["error"] = "failed", f"{type(e).__name__}: {e}"
    if row["status"] == "failed" and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    row["seconds_total"] = round(time.perf_counter() - start, 2)
    row["outputs"] = ";".join(outputs)
    if row["status"] == "done":
        with atomic_path(folder / RECORD) as tmp:
            tmp.write_text(json.dumps({"identity": _identity(video, job), "job": job.to_dict(), "row": row,
                                       "log": log.getvalue().splitlines()}, indent=2))
    return row


def write_summary(out: Path, rows: list[dict]) -> None:
    """``summary.csv`` and ``summary.json`` in ``out``, each replaced atomically."""
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(rows, indent=2))
    with atomic_path(out / "summary.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class _Ray:
    """A Ray session: joined at ``address``, or started locally with ``workers`` CPUs (stopped after)."""

    address: str | None
    workers: int | None
    started: bool = field(default=False, init=False)

    def __enter__(self):
        import ray
        if not ray.is_initialized():
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.workers or os.cpu_count()}
            try:
                ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"cannot start or join Ray ({kwargs}): {e}") from e
            self.started = True
        return ray

    def __exit__(self, *exc):
        if self.started:
            import ray
            ray.shutdown()


def run_batch(videos: list[Path], out: str | Path, job: BatchJob, device: str = "cpu", address: str | None = None,
              workers: int | None = None, on_row: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Run ``job`` on every video, one Ray task each (one CPU, or one GPU with a CUDA ``device``).

    Videos already done with the same options are skipped without starting Ray. The summary is
    rewritten after every video, so an interrupted batch keeps what it finished.

    Args:
        address: join this Ray cluster (None: start one on this machine with ``workers`` CPUs,
            default all; an already-initialised Ray is used as it is).
        on_row: called as on_row(row, rows_done, rows_total) as each video finishes or is skipped.

    Returns:
        The rows, in the order of ``videos``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folders = [out / name for name in folder_names(videos)]
    rows: list[dict | None] = [finished(v, f, job) for v, f in zip(videos, folders)]
    total = len(videos)

    def report(i: int, row: dict):
        rows[i] = row
        write_summary(out, [r for r in rows if r is not None])
        if on_row:
            on_row(row, sum(r is not None for r in rows), total)

    for i, row in enumerate(rows):
        if row is not None:
            report(i, row)
    todo = [i for i, row in enumerate(rows) if row is None]
    if todo:
        with _Ray(address, workers) as ray:
            gpu = 1 if device.startswith("cuda") else 0
            task = ray.remote(process_video).options(num_cpus=1, num_gpus=gpu, max_retries=0)
            pending = {task.remote(str(videos[i]), str(folders[i]), job, device): i for i in todo}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - a worker that died (killed, out of memory)
                        row = {c: "" for c in COLUMNS} | {"video": str(videos[i]), "name": folders[i].name,
                                                         "status": "failed", "error": f"worker lost: {e}"}
                    report(i, row)
    return rows
