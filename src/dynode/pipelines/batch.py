"""Batch runs: many videos, one set of options, one Ray task per video.

    found = collect_videos(["clips/", "more/*.mp4", "list.txt"], recursive=True)
    spec = RunSpec(interpolation=Interpolation(factor=4), edit=EditSpec(("smile",)))
    rows = run_batch(found.videos, "batch_out", spec, ignored=found.ignored)

Each video gets a folder ``OUT/<name>/`` with what :func:`dynode.pipelines.run.run` writes and a
``batch.json`` record written last. A video whose record matches the spec and the file's size
and modification time is skipped on the next run; an interrupted inversion resumes from its
partial file. One failing video does not stop the others: its error goes in its row.
``OUT/summary.csv`` and ``OUT/summary.json`` (rewritten atomically after every video) hold one
:class:`BatchRow` per video, and one per input that was not taken (a broken link, a folder not
searched, a file that is not a video), with the reason.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator

from dynode.errors import DynodeError, InputError
from dynode.io.checkpoints import atomic_path
from dynode.pipelines.run import RunSpec, run

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif", ".mpg", ".mpeg", ".y4m")
RECORD = "batch.json"
# A video whose worker dies (killed, out of memory) runs once more, from its inversion's kept progress.
WORKER_RETRIES = 1


@dataclass(frozen=True)
class BatchRow:
    """One line of the summary.

    Attributes:
        video: the input's path. name: its output folder's name.
        status: "done", "skipped" (done before with the same spec), "failed" or "ignored" (an
            input that was not taken; ``error`` says why).
        frames, shots, spans, passed_frames, psnr: see :class:`dynode.pipelines.run.RunResult`
            (None: not run). seconds_*: wall time per stage. outputs: files written, ";"-joined.
        method: how each span was drawn between its kept frames, with the scores that chose it
            (:attr:`RunResult.methods`, "; "-joined).
    """

    video: str
    name: str
    status: str
    frames: int | None = None
    shots: int | None = None
    spans: int | None = None
    passed_frames: int | None = None
    seconds_invert: float | None = None
    seconds_fit: float | None = None
    seconds_interpolate: float | None = None
    seconds_edit: float | None = None
    seconds_total: float | None = None
    psnr: float | None = None
    outputs: str = ""
    method: str = ""
    error: str = ""


COLUMNS = tuple(f.name for f in fields(BatchRow))


@dataclass(frozen=True)
class Collected:
    """The videos named by a batch's inputs, and the inputs' entries that were not taken, with why."""

    videos: tuple[Path, ...]
    ignored: tuple[tuple[Path, str], ...] = ()


def collect_videos(inputs: Iterable[str | Path], recursive: bool = False) -> Collected:
    """The video files named by ``inputs``: files, folders (their videos, sorted; with ``recursive``
    their subfolders' too), glob patterns, and list files (``.txt``: one path per line, relative
    to the list; ``#`` starts a comment). Each video once, in the order given. What a folder holds
    but is not taken is listed in ``ignored`` with the reason: broken links, files that are not
    videos, and (without ``recursive``) subfolders.

    Raises:
        InputError: an input that matches nothing, or no video at all.
    """
    found: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    for item in map(str, inputs):
        path = Path(item)
        if path.suffix == ".txt" and path.is_file():
            lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
            if any(lines):
                listed = collect_videos([str(path.parent / line) for line in lines if line], recursive)
                found += listed.videos
                ignored += listed.ignored
        elif path.is_dir():
            _walk(path, recursive, found, ignored)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            found += matches
        elif path.is_symlink():
            raise InputError(f"{item}: a link to {os.readlink(path)}, which does not exist")
        else:
            raise InputError(f"{item}: no such video, folder, list file or pattern")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        reasons = "".join(f"; {p}: {why}" for p, why in ignored[:5])
        raise InputError(f"no video among {', '.join(map(str, inputs))} (video suffixes: {' '.join(VIDEO_SUFFIXES)})"
                         + reasons)
    return Collected(tuple(unique), tuple(dict.fromkeys(ignored)))


def _walk(folder: Path, recursive: bool, found: list[Path], ignored: list[tuple[Path, str]]) -> None:
    """A folder's videos into ``found`` (sorted; subfolders too when ``recursive``), the rest into ``ignored``."""
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() and not entry.exists():
            ignored.append((entry, f"a link to {os.readlink(entry)}, which does not exist"))
        elif entry.is_dir():
            if recursive:
                _walk(entry, recursive, found, ignored)
            else:
                ignored.append((entry, "a folder inside an input folder: pass recursive (--recursive) to take its "
                                       "videos"))
        elif entry.suffix.lower() not in VIDEO_SUFFIXES:
            ignored.append((entry, f"not a video file (video suffixes: {' '.join(VIDEO_SUFFIXES)})"))
        else:
            found.append(entry)


def folder_names(videos: list[Path]) -> list[str]:
    """One output folder name per video: its stem, with its parent folder's name where stems repeat."""
    stems = [v.stem for v in videos]
    return [f"{v.parent.name}-{v.stem}" if stems.count(v.stem) > 1 else v.stem for v in videos]


def _identity(video: Path, spec: RunSpec) -> dict:
    """What a finished video's record must match for it to be skipped."""
    stat = video.stat()
    return {"video": str(video), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "options": spec.hash()}


def finished(video: Path, folder: Path, spec: RunSpec) -> BatchRow | None:
    """The row of a video already done with this spec (None: it must run)."""
    try:
        record = json.loads((folder / RECORD).read_text())
        row = BatchRow(**record["row"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if record.get("identity") != _identity(video, spec):
        return None
    if not all((folder / name).is_file() for name in row.outputs.split(";") if name):
        return None
    return replace(row, status="skipped")


def process_video(video: str | Path, folder: str | Path, spec: RunSpec, device: str = "cpu") -> BatchRow:
    """Run ``spec`` on one video into ``folder``; returns its summary row (never raises: a failure is
    the row's status and error)."""
    video, folder = Path(video), Path(folder)
    start = time.perf_counter()
    log = io.StringIO()
    try:
        result = run(video, spec, folder, device=device, log=lambda m: print(m, file=log),
                     partial=folder / "latents.partial.safetensors")
        seconds = result.seconds
        row = BatchRow(str(video), folder.name, "done", result.frames, result.shots, result.spans,
                       result.passed_frames, round(seconds.invert, 2), round(seconds.fit, 2),
                       round(seconds.interpolate, 2), round(seconds.edit, 2), round(seconds.total, 2),
                       round(result.psnr, 3), ";".join(result.outputs), "; ".join(result.methods))
    except Exception as e:  # noqa: BLE001 - one video's crash must not stop the batch
        error = str(e) if isinstance(e, DynodeError) else f"{type(e).__name__}: {e}"
        row = BatchRow(str(video), folder.name, "failed", seconds_total=round(time.perf_counter() - start, 2),
                       error=error)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        return row
    with atomic_path(folder / RECORD) as tmp:
        tmp.write_text(json.dumps({"identity": _identity(video, spec), "job": spec.to_dict(), "row": asdict(row),
                                   "log": log.getvalue().splitlines()}, indent=2))
    return row


def write_summary(out: Path, rows: list[BatchRow]) -> None:
    """``summary.csv`` and ``summary.json`` in ``out``, each replaced atomically."""
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps([asdict(row) for row in rows], indent=2))
    with atomic_path(out / "summary.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in asdict(row).items()} for row in rows)


def as_completed(fn: Callable, jobs: dict[Hashable, tuple], address: str | None = None, workers: int | None = None,
                 gpus: int = 0, retries: int = 0) -> Iterator[tuple[Hashable, Any]]:
    """``(key, fn(*args))`` for each of ``jobs`` as it finishes, or ``(key, the exception)`` where it failed.

    Each job is a Ray task of one CPU (and ``gpus`` GPUs) on the cluster at ``address`` or on a local
    Ray of ``workers`` CPUs (default all; an already started Ray is used as it is, and a Ray started
    here is stopped after). A task whose worker dies (killed, out of memory) runs again, up to
    ``retries`` times; a task that raises does not. Tasks not finished when the caller stops (Ctrl-C,
    SIGTERM, or closing the iterator) are cancelled. With ``workers`` 1 and no cluster, the jobs
    run one after the other in this process, without Ray.
    """
    import ray
    if workers == 1 and address is None and not ray.is_initialized():
        for key, args in jobs.items():
            try:
                yield key, fn(*args)
            except Exception as e:  # noqa: BLE001 - reported as Ray reports a failed task
                yield key, e
        return
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": workers or os.cpu_count()}
        main = threading.current_thread() is threading.main_thread()
        handler = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"cannot start or join Ray ({kwargs}): {e}") from e
        if main:  # Ray's driver replaces the SIGTERM handler with one that exits at once; the caller's stands
            signal.signal(signal.SIGTERM, handler)
    pending: dict = {}
    try:
        task = ray.remote(fn).options(num_cpus=1, num_gpus=gpus, max_retries=retries)
        pending = {task.remote(*args): key for key, args in jobs.items()}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                key = pending.pop(ref)
                try:
                    yield key, ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a task that raised, or a worker that died
                    yield key, e
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def run_batch(videos: Iterable[Path], out: str | Path, spec: RunSpec = RunSpec(), device: str = "cpu",
              address: str | None = None, workers: int | None = None,
              on_row: Callable[[BatchRow, int, int], None] | None = None,
              ignored: Iterable[tuple[Path, str]] = ()) -> list[BatchRow]:
    """Run ``spec`` on every video, one Ray task each (one CPU, or one GPU with a CUDA ``device``).

    Videos already done with the same spec are skipped without starting Ray. The summary is
    rewritten after every video, so an interrupted batch keeps what it finished.

    Args:
        address: join this Ray cluster (None: start one on this machine with ``workers`` CPUs,
            default all; an already-initialised Ray is used as it is).
        on_row: called as on_row(row, rows_done, rows_total) as each video finishes or is skipped.
        ignored: inputs not taken, with the reason (see :func:`collect_videos`): listed in the
            summary after the videos, status "ignored".

    Returns:
        The rows, in the order of ``videos``, then the ignored inputs'.
    """
    out, videos = Path(out), list(videos)
    out.mkdir(parents=True, exist_ok=True)
    folders = [out / name for name in folder_names(videos)]
    rows: list[BatchRow | None] = [finished(v, f, spec) for v, f in zip(videos, folders)]
    rows += [BatchRow(str(path), path.name, "ignored", error=why) for path, why in ignored]
    total = len(videos)

    def report(i: int, row: BatchRow):
        rows[i] = row
        write_summary(out, [r for r in rows if r is not None])
        if on_row:
            on_row(row, sum(r is not None for r in rows[:total]), total)

    for i, row in enumerate(rows[:total]):
        if row is not None:
            report(i, row)
    todo = [i for i, row in enumerate(rows[:total]) if row is None]
    if todo:
        jobs = {i: (str(videos[i]), str(folders[i]), spec, device) for i in todo}
        for i, row in as_completed(process_video, jobs, address, workers, gpus=int(device.startswith("cuda")),
                                   retries=WORKER_RETRIES):
            if isinstance(row, Exception):  # a worker that died again on its retry (killed, out of memory)
                row = BatchRow(str(videos[i]), folders[i].name, "failed",
                               error=f"worker lost twice ({type(row).__name__}); the inversion's progress is kept, "
                                     "run the batch again to resume it")
            report(i, row)
    return rows
