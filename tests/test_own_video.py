"""The README's quick start on one's own face video, run as written on a real face clip with stand-in
checkpoints of both formats."""

import shlex

import numpy as np
import pytest
from test_readme import _block, _run


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", ["stylegan2-ffhq-config-f.pt", "network-snapshot.pkl"])
def test_own_video_quick_start(tmp_path, monkeypatch, carphone, nvlabs_modules, checkpoint):
    """The README's quick start on a real face clip (carphone's first 8 frames with a tone added as its audio)
    and a small stand-in checkpoint in each format, with tiny budgets appended: the slow-motion output has
    the stated length, rate and audio, and the edit changes the face and nothing around it."""
    from conftest import make_tiny
    from standins import write_nvlabs, write_rosinality
    from test_video import _av_video, _heard

    from dynode.io.video import read_video
    monkeypatch.chdir(tmp_path)
    frames = read_video(carphone, max_frames=8).pixels
    _av_video(tmp_path / "my_video.mp4", frames, fps=30, audio_seconds=1.0)
    generator = make_tiny(seed=4)
    (write_rosinality if checkpoint.endswith(".pt") else write_nvlabs)(generator, tmp_path / checkpoint)
    np.save(tmp_path / "stylegan_ffhq_smile_w_boundary.npy", np.random.default_rng(0).normal(size=(1, 16)))
    budgets = {"invert": ["--steps", "2", "--steps-first", "4"], "fit": ["--iters", "10"]}
    for line in _block("own-video").strip().splitlines():
        args = shlex.split(line.split("#")[0])
        if args[1] == "convert":
            args[2] = checkpoint  # the block names a rosinality file; an NVlabs pickle converts the same way
        _run(shlex.join(args), budgets.get(args[1], []))
    slow = read_video(tmp_path / "my_slow.mp4")
    assert len(slow) == 7 * 4 + 1 and slow.fps == pytest.approx(30)  # 7/30 s made four times longer, at 30 fps
    assert slow.pixels.shape[1:3] == frames.shape[1:3]  # pasted back into the full frame
    seconds, pitch = _heard(tmp_path / "my_slow.mp4")
    assert seconds == pytest.approx(len(slow) / 30, abs=0.1) and pitch == pytest.approx(440, abs=10)
    _run("dynode edit my.traj.safetensors -o plain.mp4 -d smile -s 0 --full-frame")
    edited, plain = (read_video(tmp_path / name).pixels.astype(float) for name in ("my_smile.mp4", "plain.mp4"))
    changed = np.abs(edited - plain).mean(axis=(0, -1))  # (H, W) mean change per pixel
    assert changed.max() > 10 and (changed > 2).mean() < 0.5  # the face changed, not the whole frame
    border = np.concatenate([changed[:8].ravel(), changed[-8:].ravel(), changed[:, :8].ravel(), changed[:, -8:].ravel()])
    assert border.mean() < 1  # around the face the frame is the video's (up to the codec's noise)
