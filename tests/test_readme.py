"""Every example in README.md runs here, as written, and the documentation's training commands (with tiny
budgets appended); the documentation site builds strictly."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import frame_count, image_size
from typer.testing import CliRunner

from dynode.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MODELS_PAGE = (ROOT / "docs/commands/models.md").read_text()
TINY_BUDGETS = {"train-gan": ["--kimg", "0.016", "--batch", "8"], "train-attributes": ["--steps", "3"],
                "directions": ["--samples", "40"], "train-encoder": ["--steps", "3", "--batch", "4"],
                "train-prior": ["--toy", "3", "--seconds", "21", "--fps", "4", "--steps", "3", "--workers", "1"]}


def _block(marker: str, text: str = README) -> str:
    match = re.search(rf"<!-- {marker}:.*?-->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"block {marker!r} not found"
    return match.group(1)


def _run(line: str, extra=()):
    args = shlex.split(line)
    assert args[0] == "dynode", line
    result = CliRunner().invoke(app, args[1:] + list(extra))
    assert result.exit_code == 0, (line, result.output)


@pytest.mark.slow
def test_walkthrough_and_python_api(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in _block("walkthrough").strip().splitlines():
        _run(line)
    from dynode.io.video import read_video
    for name in ("toy_latent.mp4", "toy_futures.mp4", "toy_hair.mp4", "toy_hair_locked.mp4", "toy_smile_detail.mp4",
                 "toy_big_motion.mp4", "toy_trajectory.png"):
        path = tmp_path / name
        assert min(image_size(path)) >= 64 if path.suffix == ".png" else frame_count(path) >= 8, name
    assert len(read_video(tmp_path / "toy_8x.mp4")) == 15 * 8 + 1  # 16 frames (2 s at 8 fps), 8x
    assert len(read_video(tmp_path / "cut_4x.mp4")) == 23 * 4 + 1  # 24 frames in two shots; the cut held, not morphed
    namespace: dict = {}
    exec(compile(_block("python"), "README.md", "exec"), namespace)
    assert namespace["pixels"].shape == (16, 64, 128, 3) and namespace["frames"].shape == (3, 64, 64, 3)
    assert len(read_video(tmp_path / "toy_4x_api.mp4")) == 15 * 4 + 1
    assert namespace["futures"].numpy().shape[2] == 3 * 64


@pytest.mark.slow
def test_training_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in _block("training", MODELS_PAGE).strip().splitlines():
        _run(line, TINY_BUDGETS[shlex.split(line)[1]])
    # what each command exported loads and works: an InterFaceGAN direction per editable attribute, a
    # probe reading every attribute, and an encoder made for the trained generator
    from dynode.edit.directions import load_library
    from dynode.edit.directions import EDITABLE
    from dynode.generators import load_generator
    from dynode.inversion.encoder import load_encoder
    from dynode.metrics.attributes import ATTRIBUTES, load_regressor
    export = str(tmp_path / "runs/toyfaces64/export")
    assert set(EDITABLE) <= set(load_library(export)), sorted(load_library(export))
    generator = load_generator(export)
    with torch.no_grad():
        images = generator.synthesis(generator.mean_latent[None, None].expand(2, generator.num_ws, -1))
        assert load_regressor(tmp_path / "runs/probe")(images).shape == (2, len(ATTRIBUTES))
        assert load_encoder(tmp_path / "runs/toyfaces64/export/encoder", generator).encode(generator, images).shape \
            == (2, generator.num_ws, generator.w_dim)
    # the prior, trained on the toy videos the encoder inverted, comes with the generator's bundle
    from dynode.pipelines import Models
    assert Models.from_pretrained(export).prior.latent_shape == (generator.num_ws, generator.w_dim)


@pytest.mark.slow
def test_the_documentation_site_builds_strictly(tmp_path):
    # mkdocs --strict fails on a broken link, a missing page or an API reference that does not resolve
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site/reference/index.html").read_text().count("VideoPipeline") >= 3
    generated = (tmp_path / "site/commands/reference/index.html").read_text()
    assert "dynode interpolate" in generated and "--slowdown" in generated


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
