"""The batch command: many videos, one set of options, on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from dynode.cli.common import (DEVICE, FIDELITY, ITERS, SUBSPACE_DIM, O, SEED, _device, _errors, _read_options,
                               _progress, _run_spec, app, err, say)
from dynode.config import EDIT_MODES, EditSpec, FitConfig, Interpolation

STATUS_STYLE = {"done": "green", "skipped": "cyan", "failed": "bold red", "ignored": "yellow"}


@app.command()
@_read_options
def batch(inputs: List[str] = typer.Argument(..., help="videos, folders of videos, glob patterns ('clips/*.mp4') "
                                                       "or list files (.txt, one path per line)"),
          out: Path = O(..., "--out", "-o", help="output folder: one folder per video, summary.csv, summary.json"),
          recursive: bool = O(False, help="also take the videos in the subfolders of a folder given"),
          iters: int = ITERS, subspace_dim: int = SUBSPACE_DIM,
          factor: int = O(0, help="also write interpolated.mp4 at this multiple of the frame rate (0: none)"),
          fidelity: str = FIDELITY,
          direction: Optional[List[str]] = O(None, "--direction", "-d", help="also write edited.mp4 with this "
                                                                             "edit; repeatable"),
          strength: Optional[List[float]] = O(None, "--strength", "-s", help="edit strength; one for all or one "
                                                                             "per --direction [2]"),
          propagation: str = O(EditSpec.propagation, help=f"{', '.join(EDIT_MODES)} (see `dynode edit`)"),
          address: Optional[str] = O(None, help="join this Ray cluster (default: start one on this machine)"),
          workers: Optional[int] = O(None, help="local Ray: videos processed at once (default: the CPU count; 1: one after another in this process, without Ray)"),
          device: str = DEVICE, seed: int = SEED, read: dict = None) -> None:
    """Invert, fit, interpolate and edit many videos with one set of options, one Ray task per video.

    A video already done with the same options is skipped; a failing video is recorded in the
    summary and the others go on; what a folder holds but is not taken (subfolders unless
    --recursive, broken links, other files) is listed in the summary with the reason. Exit code 1
    when any video failed.
    """
    from dynode.pipelines.batch import collect_videos, run_batch
    with _errors():
        spec = _run_spec(**read, fit=FitConfig(iters=iters, subspace_dim=subspace_dim, seed=seed),
                         interpolation=Interpolation(factor=factor, fidelity=fidelity) if factor else None,
                         edit=EditSpec(directions=tuple(direction or ()),
                                       strengths=tuple(strength or EditSpec().strengths), propagation=propagation))
        found = collect_videos(inputs, recursive)
        for path, why in found.ignored:
            err.print(f"[yellow]ignored[/] {path}: {why}", highlight=False, soft_wrap=True)
        videos = found.videos
        device = _device(device, seed)
        with _progress("{task.completed}/{task.total} videos", eta=False) as bar:
            task = bar.add_task("batch", total=len(videos))

            def on_row(row, done: int, total: int) -> None:
                bar.update(task, completed=done)
                detail = row.error if row.status == "failed" else f"{row.frames} frames, {row.psnr} dB, " \
                    f"{row.seconds_total} s"
                bar.console.print(f"[{STATUS_STYLE[row.status]}]{row.status:>7}[/] {row.name}: {detail}",
                                  highlight=False, soft_wrap=True)
            try:
                rows = run_batch(videos, out, spec, device, address, workers, on_row, found.ignored)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the Ray tasks still running were cancelled
                say(f"interrupted: the videos finished are kept in {out} ({out}/summary.csv), and an inversion "
                    "cut short keeps its progress; run the same command again to continue")
                raise typer.Exit(130)
        table = Table("video", "status", "frames", "invert s", "fit s", "PSNR dB", "error", title=f"{out}/summary.csv")
        for r in rows:
            cells = (r.frames, r.seconds_invert, r.seconds_fit, r.psnr)
            table.add_row(r.name, f"[{STATUS_STYLE[r.status]}]{r.status}[/]", *("" if c is None else str(c)
                                                                                   for c in cells), r.error)
        err.print(table)
        if any(r.status == "failed" for r in rows):
            raise typer.Exit(1)
