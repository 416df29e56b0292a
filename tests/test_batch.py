import json
import os
import signal
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dynode.cli import app
from dynode.config import EditSpec, FitConfig, Interpolation, InversionConfig
from dynode.errors import InputError
from dynode.io.checkpoints import load_latents
from dynode.pipelines.batch import WORKER_RETRIES, BatchRow, as_completed, collect_videos, folder_names, run_batch
from dynode.pipelines.run import RunSpec


def test_collect_videos_from_folders_globs_and_list_files(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.mp4", "a/y.MOV", "a/notes.md", "z.gif"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# my clips\nz.gif\na/x.mp4  # again: kept once\n\n")
    (tmp_path / "a/deeper").mkdir()
    (tmp_path / "a/deeper/w.mp4").write_bytes(b"")
    (tmp_path / "a/broken.mp4").symlink_to(tmp_path / "nowhere.mp4")
    found = collect_videos([tmp_path / "a", str(tmp_path / "*.gif"), tmp_path / "list.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in found.videos] == ["a/x.mp4", "a/y.MOV", "z.gif"]
    # Everything in the folder that was not taken is said, with why.
    why = {p.name: reason for p, reason in found.ignored}
    assert set(why) == {"broken.mp4", "deeper", "notes.md"}
    assert "does not exist" in why["broken.mp4"] and "--recursive" in why["deeper"] and "not a video" in why["notes.md"]
    deep = collect_videos([tmp_path / "a"], recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in deep.videos] == ["a/deeper/w.mp4", "a/x.mp4", "a/y.MOV"]
    with pytest.raises(InputError, match="which does not exist"):
        collect_videos([tmp_path / "a/broken.mp4"])
    with pytest.raises(InputError, match="matches no file"):
        collect_videos([str(tmp_path / "*.webm")])
    with pytest.raises(InputError, match="no such video"):
        collect_videos([tmp_path / "gone.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video among"):
        collect_videos([tmp_path / "empty"])


def test_folder_names_tell_repeated_stems_apart(tmp_path):
    videos = [tmp_path / "day1/clip.mp4", tmp_path / "day2/clip.mp4", tmp_path / "day2/other.mp4"]
    assert folder_names(videos) == ["day1-clip", "day2-clip", "other"]


def test_batch_job_validates_and_hashes_its_options():
    job = RunSpec(interpolation=Interpolation(factor=4), edit=EditSpec(["smile"], motion=[["pc0", 2]]))
    assert RunSpec.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    assert job.hash() == RunSpec(interpolation=Interpolation(factor=4),
                                 edit=EditSpec(("smile",), motion=(("pc0", 2.0),))).hash()
    assert job.hash() != RunSpec(interpolation=Interpolation(factor=2), edit=EditSpec(("smile",))).hash()
    for bad, message in [(lambda: Interpolation(slowdown=-1), "positive"),
                         (lambda: Interpolation(factor=2, slowdown=2), "slowdown"),
                         (lambda: EditSpec(("a", "b", "c"), (1, 2)), "one strength"),
                         (lambda: EditSpec(propagation="sideways"), "propagation"),
                         (lambda: EditSpec(path="spline"), "path of an edit"),
                         (lambda: Interpolation(fidelity="x"), "fidelity")]:
        with pytest.raises(InputError, match=message):
            bad()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A tiny generator folder, two 6-frame videos it drew, a corrupt 'video' and an edit direction."""
    from conftest import make_tiny, save_tiny, write_tiny_video
    root = tmp_path_factory.mktemp("batch")
    gen = make_tiny()
    folder = save_tiny(root, gen)
    (root / "in").mkdir()
    for seed in (1, 2):
        write_tiny_video(root / f"in/clip{seed}.mp4", gen, seed)
    (root / "in/corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    (root / "in/notes.md").write_text("not a video")
    (root / "in/old").mkdir()
    write_tiny_video(root / "in/old/clip3.mp4", gen, 3)  # in a subfolder: taken only with --recursive
    (root / "in/gone.mp4").symlink_to(root / "nowhere.mp4")
    job = RunSpec(str(folder), inversion=InversionConfig(steps_first=5, steps=3),
                  fit=FitConfig(iters=20, subspace_dim=3), interpolation=Interpolation(factor=2),
                  edit=EditSpec((str(root / "dir.npy"),)))
    return root, job


@pytest.mark.slow
def test_batch_on_local_ray_isolates_a_corrupt_video_survives_killed_workers_and_resumes(clips):
    """One local Ray of 2 workers for the three runs (batch uses a Ray already started; the README
    walkthrough's `dynode batch` covers starting one)."""
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        _batch_runs(*clips)
        _killed_workers(clips[0])
    finally:
        ray.shutdown()


def _killed_workers(root):
    """A task whose worker is killed runs again; one killed on its retry too is reported lost, the others finish."""
    def _die(marker: str, times: int, x: int) -> int:
        """Kill this worker process (as `kill -9` or the out-of-memory killer would) the first ``times`` runs
        for ``marker``, counted in that file; then return 2x."""
        path = Path(marker)
        runs = len(path.read_text()) if path.exists() else 0
        if runs < times:
            path.write_text("x" * (runs + 1))
            os.kill(os.getpid(), signal.SIGKILL)
        return 2 * x

    jobs = {"fine": (str(root / "m0"), 0, 1), "retried": (str(root / "m1"), 1, 2), "lost": (str(root / "m2"), 2, 3)}
    done = dict(as_completed(_die, jobs, workers=2, retries=WORKER_RETRIES))
    assert done["fine"] == 2 and done["retried"] == 4 and isinstance(done["lost"], Exception), done
    assert (root / "m2").read_text() == "xx"  # killed twice: run, then retried once


def _batch_runs(root, job):
    from dynode.io.video import read_video
    out = root / "out"
    seen = []
    found = collect_videos([root / "in"])
    rows = run_batch(found.videos, out, job, workers=2, on_row=lambda row, done, total: seen.append((done, total)),
                     ignored=found.ignored)
    by_name = {r.name: asdict(r) for r in rows}
    assert [by_name[n]["status"] for n in ("clip1", "clip2", "corrupt", "notes.md", "old", "gone.mp4")] == \
        ["done", "done", "failed", "ignored", "ignored", "ignored"]
    assert "cannot decode" in by_name["corrupt"]["error"] and not (out / "corrupt").exists()
    assert "--recursive" in by_name["old"]["error"] and "does not exist" in by_name["gone.mp4"]["error"]
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    for name in ("clip1", "clip2"):
        row = by_name[name]
        codes = load_latents(out / name / "latents.safetensors")
        assert row["frames"] == len(codes) == 6
        stages = row["seconds_invert"] + row["seconds_fit"] + row["seconds_interpolate"] + row["seconds_edit"]
        assert stages <= row["seconds_total"] + 0.03  # each rounded to 0.01 s
        assert (row["shots"], row["spans"], row["passed_frames"]) == (1, 1, 0)
        assert row["psnr"] == pytest.approx(float(codes.psnr.mean()), abs=1e-3)
        assert "leave-one-out PSNR on 4 kept frames" in row["method"]  # how auto drew it, and why
        assert len(read_video(out / name / "interpolated.mp4")) == 11  # 5 gaps x 2 + 1
        assert len(read_video(out / name / "edited.mp4")) == 6
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("video,name,status,frames") and len(summary) == 7
    assert json.loads((out / "summary.json").read_text()) == [asdict(r) for r in rows]

    # Again through the CLI: both finished videos are skipped untouched, the corrupt one fails again (exit 1).
    stamp = (out / "clip1/interpolated.mp4").stat().st_mtime_ns
    r = CliRunner().invoke(app, [
        "batch", str(root / "in"), "--out", str(out), "--generator", job.generator, "--steps-first", "5", "--steps", "3",
        "--iters", "20", "--subspace-dim", "3", "--factor", "2", "-d", job.edit.directions[0], "--workers", "2"])
    assert r.exit_code == 1, r.output
    rows = json.loads((out / "summary.json").read_text())
    assert sorted(r["status"] for r in rows) == ["failed", "ignored", "ignored", "ignored", "skipped", "skipped"]
    assert "ignored" in r.output and "old" in r.output
    assert (out / "clip1/interpolated.mp4").stat().st_mtime_ns == stamp

    # Other options: the video runs again.
    rows = run_batch([root / "in/clip1.mp4"], out, RunSpec.from_dict(job.to_dict() | {"interpolation": {"factor": 3}}), workers=2)
    assert rows[0].status == "done" and len(read_video(out / "clip1/interpolated.mp4")) == 16


def _halve(x: int) -> int:
    if x % 2:
        raise ValueError(f"{x} is odd")
    return x // 2


def test_a_video_whose_worker_is_lost_is_named_failed_and_the_others_finish(clips, monkeypatch):
    from dynode.pipelines import batch
    root, job = clips

    def lost_second(fn, jobs, *args, **kwargs):  # what as_completed yields when a worker dies twice
        for key, a in jobs.items():
            yield key, (RuntimeError("worker died") if key == 1 else BatchRow(a[0], Path(a[1]).name, "done"))
    monkeypatch.setattr(batch, "as_completed", lost_second)
    videos = [root / "in/clip1.mp4", root / "in/clip2.mp4"]
    rows = run_batch(videos, root / "lost_out", job, workers=2)
    assert [r.status for r in rows] == ["done", "failed"] and rows[1].name == "clip2"
    assert "worker lost twice" in rows[1].error and "run the batch again" in rows[1].error
    assert [r["status"] for r in json.loads((root / "lost_out/summary.json").read_text())] == ["done", "failed"]


def test_one_worker_runs_the_jobs_in_this_process_without_ray_and_reports_a_failure_as_ray_would():
    import ray
    import torch
    threads = torch.get_num_threads()
    done = dict(as_completed(_halve, {"a": (4,), "b": (3,), "c": (10,)}, workers=1))
    assert done["a"] == 2 and done["c"] == 5 and isinstance(done["b"], ValueError) and "3 is odd" in str(done["b"])
    assert not ray.is_initialized() and torch.get_num_threads() == threads
