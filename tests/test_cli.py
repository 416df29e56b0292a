import numpy as np
from typer.testing import CliRunner

from dynode.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_full_pipeline_with_a_tiny_generator(tmp_path, tiny_folder, tiny_video):
    lat, traj = tmp_path / "lat.safetensors", tmp_path / "traj.safetensors"
    r = run("invert", tiny_video, "-o", lat, "--generator", tiny_folder, "--steps", 3, "--steps-first", 5)
    assert r.exit_code == 0, r.output
    r = run("fit", lat, "-o", traj, "--iters", 20, "--subspace-dim", 3)
    assert r.exit_code == 0, r.output
    for args in (("interpolate", traj, "-o", tmp_path / "i.mp4", "--factor", 4),
                 ("interpolate", traj, "-o", tmp_path / "i.gif", "--times", "0,0.1,0.33"),
                 ("interpolate", traj, "-o", tmp_path / "paper.mp4", "--factor", 2, "--mode", "initial"),
                 ("extrapolate", traj, "-o", tmp_path / "e.mp4", "--seconds", 0.5),
                 ("extrapolate", traj, "-o", tmp_path / "sde.mp4", "--seconds", 0.5, "--samples", 3),
                 ("edit", traj, "-o", tmp_path / "d.mp4", "--direction", tmp_path / "dir.npy"),
                 ("edit", traj, "-o", tmp_path / "p.mp4", "--direction", tmp_path / "dir.npy", "--mode", "per-frame"),
                 ("edit", traj, "-o", tmp_path / "c.mp4", "-d", tmp_path / "dir.npy", "-s", 1, "-d",
                  tmp_path / "dir.npy", "-s", -2, "--schedule", "0:0,0.3:1", "--layers", "coarse", "--motion", "pc0=2",
                  "--compare"),
                 ("edit", traj, "-o", tmp_path / "m.mp4", "--motion", "pc1=0.5", "--mode", "paper"),
                 ("render", lat, "-o", tmp_path / "r.mp4")):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
    from dynode.io.video import read_video
    assert len(read_video(tmp_path / "i.mp4")) == 21  # 6 frames, 4x: 5 gaps * 4 + 1
    assert read_video(tmp_path / "c.mp4").pixels.shape[2] == 2 * read_video(tmp_path / "d.mp4").pixels.shape[2]
    for args, msg in ((("-o", tmp_path / "n.mp4"), "nothing to edit"),
                      (("-o", tmp_path / "n.mp4", "--motion", "pc0"), "COMPONENT=GAIN"),
                      (("-o", tmp_path / "n.mp4", "-d", tmp_path / "dir.npy", "-s", 1, "-s", 2, "-s", 3), "one strength"),
                      (("-o", tmp_path / "n.mp4", "-d", tmp_path / "dir.npy", "--schedule", "0:1", "--mode", "paper"),
                       "cannot follow a schedule")):
        r = run("edit", traj, *args)
        assert r.exit_code == 2 and msg in r.output and not (tmp_path / "n.mp4").exists(), (args, r.output)
    assert len(read_video(tmp_path / "i.gif")) == 3
    e, sde = read_video(tmp_path / "e.mp4"), read_video(tmp_path / "sde.mp4")
    assert len(sde) == len(e) and sde.pixels.shape[2] == 3 * e.pixels.shape[2]  # three futures side by side
    r = run("interpolate", traj, "-o", tmp_path / "x.mp4", "--mode", "spline")
    assert r.exit_code == 2 and "valid modes" in r.output and not (tmp_path / "x.mp4").exists()
    r = run("fit", lat, "-o", tmp_path / "cde.safetensors", "--iters", 5, "--subspace-dim", 3, "--field", "cde",
            "--holdout", 0.2, "--adjoint")
    assert r.exit_code == 0, r.output
    r = run("fit", lat, "-o", tmp_path / "img.safetensors", "--iters", 5, "--subspace-dim", 3, "--image-weight", 0.5,
            "--video", tiny_video)
    assert r.exit_code == 0, r.output
    r = run("fit", lat, "-o", tmp_path / "noimg.safetensors", "--iters", 5, "--image-weight", 0.5)
    assert r.exit_code == 2 and "needs the video" in r.output and not (tmp_path / "noimg.safetensors").exists()


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
    assert r.exit_code == 2 and "expected 'latents'" in r.output
    r = run("fit", lat, "-o", tmp_path / "t2.safetensors", "--field", "bogus")
    assert r.exit_code == 2 and "valid fields" in r.output


def test_toy_video_command(tmp_path):
    r = run("toy-video", "-o", tmp_path / "toy.mp4", "--seconds", 1, "--fps", 8)
    assert r.exit_code == 0, r.output
    from dynode.io.video import read_video
    assert len(read_video(tmp_path / "toy.mp4")) == 8


def test_demo_rejects_unknown_direction_before_work(tmp_path):
    r = run("demo", "--out", tmp_path / "d", "--direction", "beard")
    assert r.exit_code == 2 and "must be one of" in r.output
    assert not (tmp_path / "d").exists()


def test_invert_with_perceptual_loss_records_it_and_refuses_a_negative_weight(tmp_path, tiny_folder, tiny_video):
    from dynode.types import LatentSequence
    lat = tmp_path / "lat.safetensors"
    r = run("invert", tiny_video, "-o", lat, "--generator", tiny_folder, "--steps", 1, "--steps-first", 2,
            "--perceptual-weight", 0.3)
    assert r.exit_code == 0, r.output
    assert LatentSequence.load(lat).info["config"]["perceptual_weight"] == 0.3
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


def test_outputs_carry_the_source_audio(tmp_path, tiny_folder):
    import av

    from test_video import _av_video, _pattern
    _av_video(tmp_path / "talk.mp4", _pattern(8), fps=8, audio_seconds=1.0)
    lat, traj = tmp_path / "l.safetensors", tmp_path / "t.safetensors"
    assert run("invert", tmp_path / "talk.mp4", "-o", lat, "--generator", tiny_folder, "--resize", "--steps", 2,
               "--steps-first", 2).exit_code == 0
    assert run("fit", lat, "-o", traj, "--iters", 5, "--subspace-dim", 2).exit_code == 0
    r = run("interpolate", traj, "-o", tmp_path / "i.mp4", "--factor", 2)
    assert r.exit_code == 0, r.output
    with av.open(str(tmp_path / "i.mp4")) as c:
        assert len(c.streams.audio) == 1
