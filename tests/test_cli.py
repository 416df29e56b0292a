import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dynode.cli import app
from dynode.dynamics import load_trajectory
from dynode.io.checkpoints import load_latents

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny generator folder, a 6-frame video it drew (8 fps), its codes and a fitted trajectory."""
    from conftest import make_tiny, save_tiny, write_tiny_video
    root = tmp_path_factory.mktemp("fitted")
    gen = make_tiny()
    folder = save_tiny(root, gen)
    write_tiny_video(root / "tiny.mp4", gen)
    lat, traj = root / "lat.safetensors", root / "traj.safetensors"
    r = run("invert", root / "tiny.mp4", "-o", lat, "--generator", folder, "--steps", 3, "--steps-first", 5)
    assert r.exit_code == 0, r.output
    r = run("fit", lat, "-o", traj, "--iters", 20, "--subspace-dim", 3)
    assert r.exit_code == 0, r.output
    return root, lat, traj


def _frames(path):
    from dynode.io.video import read_video
    return read_video(path)


def test_invert_records_the_source_video_and_its_times(fitted):
    root, lat, _ = fitted
    seq = load_latents(lat)
    assert len(seq) == 6 and seq.source.video == str((root / "tiny.mp4").resolve())
    assert (seq.source.width, seq.source.height, seq.source.every) == (16, 16, 1) and seq.source.alignment is None
    torch.testing.assert_close(seq.times, torch.arange(6, dtype=torch.float64) / 8, atol=2e-3, rtol=0)


def test_interpolate_by_factor_fps_and_times(fitted, tmp_path):
    _, _, traj = fitted
    r = run("interpolate", traj, "-o", tmp_path / "f.mp4", "--factor", 4)
    assert r.exit_code == 0 and "auto: " in r.output and "leave-one-out PSNR on 4 kept frames" in r.output, r.output
    f = _frames(tmp_path / "f.mp4")
    assert len(f) == 21 and f.fps == pytest.approx(32, rel=0.01)  # 5 gaps x 4 + 1, played over the real 0.625 s
    assert run("interpolate", traj, "-o", tmp_path / "r.mp4", "--fps", 24).exit_code == 0
    assert len(_frames(tmp_path / "r.mp4")) == 16  # 0..0.625 s at 24 fps
    assert run("interpolate", traj, "-o", tmp_path / "t.gif", "--times", "0,0.1,0.33").exit_code == 0
    assert len(_frames(tmp_path / "t.gif")) == 3
    r = run("interpolate", traj, "-o", tmp_path / "x.mp4", "--factor", 2, "--fps", 3)
    assert r.exit_code == 2 and "exactly one" in r.output and not (tmp_path / "x.mp4").exists()


def test_the_exact_path_passes_through_the_reconstruction_and_the_initial_one_does_not(fitted, tmp_path):
    _, lat, traj = fitted
    observed = ",".join(f"{k / 8:.6f}" for k in range(6))
    for path in ("exact", "initial"):  # GIF keeps these 16x16 frames exactly (see the edit test below)
        r = run("interpolate", traj, "-o", tmp_path / f"{path}.gif", "--times", observed, "--path", path,
                "--fidelity", "latent")
        assert r.exit_code == 0, r.output
    assert run("render", lat, "-o", tmp_path / "rec.gif").exit_code == 0
    rec = _frames(tmp_path / "rec.gif").pixels.astype(float)
    exact, initial = (_frames(tmp_path / f"{p}.gif").pixels.astype(float) for p in ("exact", "initial"))
    assert np.abs(exact - rec).mean() < 1.0 < np.abs(initial[1:] - rec[1:]).mean()
    r = run("interpolate", traj, "-o", tmp_path / "x.mp4", "--path", "bezier")
    assert r.exit_code == 2 and "unknown path" in r.output and not (tmp_path / "x.mp4").exists()


def test_extrapolate_runs_past_the_end_and_sde_futures_spread(fitted, tmp_path):
    root, _, traj = fitted
    assert run("extrapolate", traj, "-o", tmp_path / "e.mp4", "--seconds", 0.5).exit_code == 0
    assert len(_frames(tmp_path / "e.mp4")) == 10  # 0 .. 0.625 + 0.5 s at the video's own 8 fps
    assert run("extrapolate", traj, "-o", tmp_path / "s.mp4", "--seconds", 0.5, "--samples", 3, "--fps", 16).exit_code == 0
    s = _frames(tmp_path / "s.mp4").pixels.astype(float)
    assert s.shape[:3] == (19, 16, 48)
    tiles = np.stack(np.split(s, 3, axis=2))
    same = np.abs(tiles[0, :10] - tiles[1, :10]).mean()  # the observed span: one path, codec noise only
    assert 3 * same < np.abs(tiles[0, -1] - tiles[1, -1]).mean()  # the futures part after the last frame


def test_verbs_without_reading_options_refuse_a_video_and_say_to_invert_first(fitted, tmp_path):
    root, _, _ = fitted
    for verb in (["fit"], ["extrapolate"], ["edit", "-d", "smile"], ["render"], ["plot"]):
        r = run(*verb, root / "tiny.mp4", "-o", tmp_path / "out.mp4")
        assert r.exit_code == 2 and "invert and fit it first" in r.output and f"dynode {verb[0]}" in r.output
        assert not (tmp_path / "out.mp4").exists()


def test_edits_change_the_video_and_strength_zero_keeps_it(fitted, tmp_path):
    # GIF: these 16x16 frames fit its palette, so it stores them exactly. H.264 would let a
    # 1-level rounding difference between two renders grow into several levels frame after frame.
    root, _, traj = fitted
    d = root / "dir.npy"
    for name, args in (("zero", ("-d", d, "-s", 0)), ("two", ("-d", d, "-s", 2)),
                       ("cmp", ("-d", d, "-s", 2, "--compare")), ("plain", ())):
        cmd = ("interpolate", traj, "-o", tmp_path / "plain.gif", "--factor", 1, "--fidelity", "latent") \
            if name == "plain" else \
            ("edit", traj, "-o", tmp_path / f"{name}.gif", *args)
        r = run(*cmd)
        assert r.exit_code == 0, r.output
    plain, zero, two, cmp = (_frames(tmp_path / f"{n}.gif").pixels.astype(float) for n in ("plain", "zero", "two", "cmp"))
    assert len(two) == 6 and np.abs(zero - plain).mean() < 0.5 < 5 < np.abs(two - plain).mean()
    left, right = cmp[:, :, :16], cmp[:, :, 16:]  # unedited | edited
    assert cmp.shape[2] == 32 and 2 * np.abs(left - plain).mean() < np.abs(left - two).mean()
    assert 2 * np.abs(right - two).mean() < np.abs(right - plain).mean()


def test_edit_options_each_move_the_result(fitted, tmp_path):
    root, _, traj = fitted
    d = root / "dir.npy"
    cases = {"base": ("-d", d, "-s", 2), "first-frame": ("-d", d, "-s", 2, "--propagation", "first-frame"),
             "layers": ("-d", d, "-s", 2, "--layers", "coarse"), "faded": ("-d", d, "-s", 2, "--schedule", "0:0,0.6:1"),
             "motion": ("--motion", "pc0=2"), "paper": ("-d", d, "-s", 2, "--path", "initial"),
             "locked": ("-d", d, "-s", 2, "--propagation", "locked")}
    for name, args in cases.items():
        r = run("edit", traj, "-o", tmp_path / f"{name}.mp4", *args)
        assert r.exit_code == 0, (name, r.output)
    assert run("interpolate", traj, "-o", tmp_path / "plain.mp4", "--factor", 1, "--fidelity", "latent").exit_code == 0
    plain = _frames(tmp_path / "plain.mp4").pixels.astype(float)
    base = _frames(tmp_path / "base.mp4").pixels.astype(float)
    faded = _frames(tmp_path / "faded.mp4").pixels.astype(float)
    gap = lambda a, b: np.abs(a - b).mean()  # noqa: E731
    assert len(faded) == len(base) == 6
    assert 2 * gap(faded[0], plain[0]) < gap(faded[0], base[0])  # weight 0 at t=0: unedited
    assert 2 * gap(faded[-1], base[-1]) < gap(faded[-1], plain[-1])  # weight 1 at the end: the full edit
    for name in ("first-frame", "layers", "motion", "paper", "locked"):
        assert gap(_frames(tmp_path / f"{name}.mp4").pixels.astype(float), base) > 1.0, name


def test_bad_edits_exit_2_and_write_nothing(fitted, tmp_path):
    root, _, traj = fitted
    d = root / "dir.npy"
    for args, msg in ((("-o", tmp_path / "n.mp4"), "nothing to edit"),
                      (("-o", tmp_path / "n.mp4", "--motion", "pc0"), "COMPONENT=GAIN"),
                      (("-o", tmp_path / "n.mp4", "-d", d, "-s", 1, "-s", 2, "-s", 3), "one strength"),
                      (("-o", tmp_path / "n.mp4", "-d", d, "--propagation", "paper"), "valid"),
                      (("-o", tmp_path / "n.mp4", "-d", d, "--schedule", "1:0,0:1"), "schedule"),
                      (("-o", tmp_path / "n.mp4", "-d", d, "--propagation", "first-frame", "--keyframe", 0.5),
                       "'first-frame' would ignore them"),
                      (("-o", tmp_path / "n.mp4", "-d", d, "--target", 0.8), "used by locked propagation only")):
        r = run("edit", traj, *args)
        assert r.exit_code == 2 and msg in r.output and not (tmp_path / "n.mp4").exists(), (args, r.output)


def test_fit_options_and_the_image_loss_reading_the_recorded_source(fitted, tmp_path):
    root, lat, _ = fitted
    r = run("fit", lat, "-o", tmp_path / "cde.safetensors", "--iters", 5, "--subspace-dim", 3, "--field", "cde",
            "--holdout", 0.2, "--adjoint", "--solver", "rk4")
    assert r.exit_code == 0, r.output
    cde = load_trajectory(tmp_path / "cde.safetensors")
    assert cde.field_name == "cde" and cde.solver.method == "rk4" and cde.stats.selected_by == "heldout"
    r = run("fit", lat, "-o", tmp_path / "img.safetensors", "--iters", 5, "--subspace-dim", 3, "--image-weight", 0.5)
    assert r.exit_code == 0, r.output
    assert load_trajectory(tmp_path / "img.safetensors").stats.config.image_weight == 0.5
    r = run("fit", lat, "-o", tmp_path / "r.safetensors", "--iters", 5, "--subspace-dim", 3, "--refine", 10)
    assert r.exit_code == 0 and "the mlp field ignores refine (--refine)" in r.output, r.output


def test_a_moved_source_video_is_named_when_needed(fitted, tmp_path):
    import shutil
    root, lat, _ = fitted
    shutil.copy(root / "tiny.mp4", tmp_path / "moved.mp4")
    assert run("invert", tmp_path / "moved.mp4", "-o", tmp_path / "l.safetensors", "--generator", root / "tiny",
               "--steps", 1, "--steps-first", 1).exit_code == 0
    (tmp_path / "moved.mp4").unlink()
    r = run("fit", tmp_path / "l.safetensors", "-o", tmp_path / "t.safetensors", "--iters", 2, "--image-weight", 0.5)
    assert r.exit_code == 2 and "moved.mp4, which is gone" in r.output and not (tmp_path / "t.safetensors").exists()
    assert load_latents(tmp_path / "l.safetensors").source.video.endswith("moved.mp4")


def test_interpolate_takes_a_video_with_the_reading_options_of_invert(fitted, tmp_path):
    from dynode.io.video import write_video
    root = fitted[0]
    frames = np.zeros((8, 24, 40, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, 8)[:, None, None].astype(np.uint8)
    write_video(tmp_path / "wide.mp4", frames, 8)
    r = run("interpolate", tmp_path / "wide.mp4", "-o", tmp_path / "i.mp4", "--generator", root / "tiny", "--resize",
            "--every", 2, "--space", "w", "--batch-size", 2, "--steps", 2, "--steps-first", 2, "--iters", 5,
            "--factor", 2)
    assert r.exit_code == 0, r.output
    out = _frames(tmp_path / "i.mp4")
    assert len(out) == 7 and out.pixels.shape[1:3] == (16, 16)  # 4 frames kept, 3 gaps x 2 + 1
    r = run("interpolate", tmp_path / "wide.mp4", "-o", tmp_path / "j.mp4", "--generator", root / "tiny")
    assert r.exit_code == 2 and "--resize" in r.output and not (tmp_path / "j.mp4").exists()


def test_missing_video_exits_2_with_message(tmp_path):
    r = run("invert", tmp_path / "nope.mp4", "-o", tmp_path / "l.safetensors")
    assert r.exit_code == 2 and "no such video" in r.output
    assert not (tmp_path / "l.safetensors").exists()


def test_single_frame_video_exits_2(tmp_path, tiny_folder):
    from dynode.io.video import write_video
    write_video(tmp_path / "one.mp4", np.zeros((1, 16, 16, 3), np.uint8), 8)
    r = run("invert", tmp_path / "one.mp4", "-o", tmp_path / "l.safetensors", "--generator", tiny_folder)
    assert r.exit_code == 2 and "at least 2" in r.output


def test_wrong_size_video_suggests_resize(tmp_path, tiny_folder):
    from dynode.io.video import write_video
    write_video(tmp_path / "big.mp4", np.zeros((3, 32, 48, 3), np.uint8), 8)
    r = run("invert", tmp_path / "big.mp4", "-o", tmp_path / "l.safetensors", "--generator", tiny_folder,
            "--steps", 1, "--steps-first", 1)
    assert r.exit_code == 2 and "--resize" in r.output
    r = run("invert", tmp_path / "big.mp4", "-o", tmp_path / "l.safetensors", "--generator", tiny_folder,
            "--steps", 1, "--steps-first", 1, "--resize")
    assert r.exit_code == 0, r.output


def test_bad_checkpoint_and_bad_direction_exit_2(tmp_path, tiny_folder, tiny_video):
    r = run("invert", tiny_video, "-o", tmp_path / "l.safetensors", "--generator", tmp_path / "nowhere")
    assert r.exit_code == 2 and "unknown generator" in r.output
    lat, traj = tmp_path / "lat.safetensors", tmp_path / "traj.safetensors"
    assert run("invert", tiny_video, "-o", lat, "--generator", tiny_folder, "--steps", 1, "--steps-first", 1).exit_code == 0
    assert run("fit", lat, "-o", traj, "--iters", 3).exit_code == 0
    np.save(tmp_path / "bad.npy", np.ones(7, np.float32))
    r = run("edit", traj, "-o", tmp_path / "x.mp4", "--direction", tmp_path / "bad.npy")
    assert r.exit_code == 2 and "has shape (7,)" in r.output
    assert not (tmp_path / "x.mp4").exists()
    r = run("fit", traj, "-o", tmp_path / "t2.safetensors")
    assert r.exit_code == 2 and "give a latents artifact" in r.output
    r = run("fit", lat, "-o", tmp_path / "t2.safetensors", "--field", "bogus")
    assert r.exit_code == 2 and "unknown vector field" in r.output


def test_toy_video_command(tmp_path):
    r = run("toy-video", "-o", tmp_path / "toy.mp4", "--seconds", 1, "--fps", 8)
    assert r.exit_code == 0, r.output
    from dynode.io.video import read_video
    assert len(read_video(tmp_path / "toy.mp4")) == 8


def test_demo_rejects_unknown_direction_before_work(tmp_path):
    r = run("demo", "--out", tmp_path / "d", "--direction", "beard")
    assert r.exit_code == 2 and "unknown demo direction" in r.output
    assert not (tmp_path / "d").exists()


def test_invert_with_perceptual_loss_records_it_and_refuses_a_negative_weight(tmp_path, tiny_folder, tiny_video):
    lat = tmp_path / "lat.safetensors"
    r = run("invert", tiny_video, "-o", lat, "--generator", tiny_folder, "--steps", 1, "--steps-first", 2,
            "--perceptual-weight", 0.3)
    assert r.exit_code == 0, r.output
    assert load_latents(lat).stats.config.perceptual_weight == 0.3
    r = run("invert", tiny_video, "-o", tmp_path / "neg.safetensors", "--generator", tiny_folder,
            "--perceptual-weight", -1)
    assert r.exit_code == 2 and "perceptual_weight" in r.output
    assert not (tmp_path / "neg.safetensors").exists()


def test_directions_fit_list_and_show(tmp_path, tiny_folder):
    lib = tmp_path / "lib.safetensors"
    for args in (("--method", "sefa", "--count", 3, "--layers", "coarse", "--samples", 200),
                 ("--method", "ganspace", "--count", 2, "--samples", 200),
                 ("--method", "user", "--vector", tmp_path / "dir.npy", "--name", "mine", "--samples", 200)):
        r = run("directions", "fit", "--generator", tiny_folder, "-o", lib, *args)
        assert r.exit_code == 0, (args, r.output)
    from dynode.edit import read_directions
    found = read_directions(lib)
    assert set(found) == {"sefa0", "sefa1", "sefa2", "ganspace0", "ganspace1", "mine"}
    assert found["sefa0"].layers == (0, 1, 2, 3)
    r = run("directions", "fit", "--generator", tiny_folder, "--method", "sefa")  # into the generator's library
    assert r.exit_code == 0, r.output
    r = run("directions", "list", "--generator", tiny_folder)
    assert r.exit_code == 0 and "sefa4" in r.output and "eigenvalue" in r.output
    r = run("directions", "show", "sefa0", f"{lib}:mine", "--generator", tiny_folder, "-o", tmp_path / "s.png",
            "--scale", 1)
    assert r.exit_code == 0, r.output
    from PIL import Image
    assert Image.open(tmp_path / "s.png").size == (7 * 16, 2 * 16)
    r = run("directions", "fit", "--generator", tiny_folder, "--method", "magic")
    assert r.exit_code == 2 and "unknown method" in r.output
    r = run("directions", "show", "nope", "--generator", tiny_folder, "-o", tmp_path / "x.png")
    assert r.exit_code == 2 and "unknown direction" in r.output and not (tmp_path / "x.png").exists()


def test_outputs_carry_the_source_audio_and_slow_motion_stretches_it(tmp_path, tiny_folder):
    from test_video import _av_video, _heard, _pattern
    from dynode.io.video import read_video
    _av_video(tmp_path / "talk.mp4", _pattern(8), fps=8, audio_seconds=1.0)
    lat, traj = tmp_path / "l.safetensors", tmp_path / "t.safetensors"
    assert run("invert", tmp_path / "talk.mp4", "-o", lat, "--generator", tiny_folder, "--resize", "--steps", 2,
               "--steps-first", 2).exit_code == 0
    assert run("fit", lat, "-o", traj, "--field", "mlp", "--iters", 5, "--subspace-dim", 2).exit_code == 0
    r = run("interpolate", traj, "-o", tmp_path / "i.mp4", "--factor", 2)
    assert r.exit_code == 0, r.output
    assert _heard(tmp_path / "i.mp4")[0] == pytest.approx(1.0, abs=0.1)
    r = run("interpolate", traj, "-o", tmp_path / "slow.mp4", "--slowdown", 3)
    assert r.exit_code == 0 and "stretched 3x" in r.output, r.output
    frames = read_video(tmp_path / "slow.mp4")  # 7/8 s of video made 3x longer at the source's 8 fps
    assert len(frames) == 7 * 3 + 1 and frames.fps == pytest.approx(8)
    seconds, pitch = _heard(tmp_path / "slow.mp4")
    assert seconds == pytest.approx(22 / 8, abs=0.15) and pitch == pytest.approx(440, abs=10)
    r = run("interpolate", traj, "-o", tmp_path / "x.mp4", "--slowdown", 3, "--factor", 2)
    assert r.exit_code == 2 and "slow motion sets the render rate" in r.output and not (tmp_path / "x.mp4").exists()


def test_plot_draws_the_path_and_refuses_bad_values(fitted, tmp_path):
    from PIL import Image
    _, lat, traj = fitted
    r = run("plot", traj, "-o", tmp_path / "traj.png", "--seconds", 0.5, "--samples", 4)
    assert r.exit_code == 0, r.output
    width, height = Image.open(tmp_path / "traj.png").size
    assert width > 2 * height > 400  # two panels side by side
    r = run("plot", traj, "-o", tmp_path / "bad.png", "--samples", -1)
    assert r.exit_code == 2 and "--samples" in r.output and not (tmp_path / "bad.png").exists()
    r = run("plot", lat, "-o", tmp_path / "lat.png")
    assert r.exit_code == 2 and "fitted trajectory" in r.output and not (tmp_path / "lat.png").exists()


def test_device_auto_is_the_default_and_bad_devices_are_named(fitted, tmp_path):
    import torch
    _, _, traj = fitted
    r = run("interpolate", traj, "-o", tmp_path / "a.mp4", "--factor", 1)  # --device auto: cpu here
    assert r.exit_code == 0, r.output
    r = run("interpolate", traj, "-o", tmp_path / "b.mp4", "--device", "gpu0")
    assert r.exit_code == 2 and "not a torch device" in r.output and not (tmp_path / "b.mp4").exists()
    if not torch.cuda.is_available():
        r = run("interpolate", traj, "-o", tmp_path / "c.mp4", "--device", "cuda")
        assert r.exit_code == 2 and "no CUDA GPU" in r.output and not (tmp_path / "c.mp4").exists()


def _invert_in_batches(root, out) -> tuple:
    """`dynode invert` of the fitted fixture's 6-frame video, 2 frames a batch (its progress kept after each)."""
    return ("invert", root / "tiny.mp4", "-o", out, "--generator", root / "tiny", "--steps", 2, "--steps-first", 2,
            "--batch-size", 2)


def test_ctrl_c_during_invert_says_how_to_resume_and_a_rerun_continues(fitted, tmp_path, monkeypatch):
    import dynode.pipelines.build as build
    root = fitted[0]
    original = build.invert

    def interrupted(*args, **kwargs):
        def progress(done, total):
            if done >= 3:
                raise KeyboardInterrupt
        return original(*args[:4], progress, *args[5:], **kwargs)
    monkeypatch.setattr(build, "invert", interrupted)
    out = tmp_path / "l.safetensors"
    args = _invert_in_batches(root, out)
    r = run(*args)
    partial = tmp_path / "l.partial.safetensors"
    assert r.exit_code == 130 and "run the same command again" in r.output and partial.is_file() and not out.exists()
    monkeypatch.setattr(build, "invert", original)
    r = run(*args)
    assert r.exit_code == 0 and "resuming: 3 of 6" in r.output and out.is_file() and not partial.exists()


def test_every_remedy_of_a_core_error_is_worded_as_flags():
    from dynode.cli.common import REMEDIES as WORDED
    from dynode.errors import REMEDIES
    assert set(WORDED) == set(REMEDIES)


def test_a_full_disk_is_one_line_naming_the_file_and_nothing_half_written_is_left(fitted, tmp_path, monkeypatch):
    import errno

    import dynode.io.checkpoints as checkpoints
    import dynode.io.video as video
    root, lat, traj = fitted

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(video.VideoWriter, "write", full)
    out = tmp_path / "out" / "x.mp4"
    r = run("interpolate", traj, "-o", out, "--factor", 2, "--fidelity", "latent")
    assert r.exit_code == 2 and f"{out}: no space left on the device" in r.output and "Traceback" not in r.output
    assert not out.exists() and list(out.parent.iterdir()) == []  # no temporary file either
    monkeypatch.undo()
    # The inversion's second checkpoint fails as safetensors reports it: the first is kept, named, and resumed from.
    saved, original = [], checkpoints.save_file

    def second_fails(tensors, path, metadata=None):
        saved.append(path)
        if len(saved) == 2:
            raise checkpoints.SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return original(tensors, path, metadata=metadata)
    monkeypatch.setattr(checkpoints, "save_file", second_fails)
    out = tmp_path / "l.safetensors"
    args = _invert_in_batches(root, out)
    r = run(*args)
    partial = tmp_path / "l.partial.safetensors"
    assert r.exit_code == 2 and f"{partial}: no space left on the device" in r.output, r.output
    assert "kept in" in r.output and partial.is_file() and not out.exists()
    monkeypatch.undo()
    r = run(*args)
    assert r.exit_code == 0 and "resuming: 1 of 6" in r.output and out.is_file()


def test_sigterm_during_invert_keeps_the_frames_done_and_says_how_to_resume(fitted, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    root = fitted[0]
    out, partial = tmp_path / "l.safetensors", tmp_path / "l.partial.safetensors"
    args = [sys.executable, "-c", "from dynode.cli import app; app()", "invert", str(root / "tiny.mp4"), "-o", str(out),
            "--generator", str(root / "tiny"), "--steps", "400", "--steps-first", "2", "--batch-size", "1"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "COLUMNS": "200"})
    deadline = time.time() + 120
    while not partial.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130 and "kept in" in stderr and "run the same command again" in stderr, stderr
    assert partial.is_file() and not out.exists()


def test_an_interrupted_training_says_which_saved_state_continues_it(tmp_path, monkeypatch):
    import dynode.generators.train as training

    def interrupted(config, out, *args, **kwargs):  # a run stopped by Ctrl-C or SIGTERM after its first save
        (out / "state.pt").parent.mkdir(parents=True, exist_ok=True)
        (out / "state.pt").write_bytes(b"saved")
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "train", interrupted)
    r = run("train-gan", "--out", tmp_path / "run", "--kimg", 1)
    assert r.exit_code == 130 and f"add --resume {tmp_path / 'run' / 'state.pt'} to continue" in r.output, r.output
