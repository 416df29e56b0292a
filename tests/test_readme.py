"""Every example in README.md runs here, as written; the documentation site builds strictly."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import frame_count, image_size
from typer.testing import CliRunner

from dynode.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


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
def test_the_documentation_site_builds_strictly(tmp_path):
    # mkdocs --strict fails on a broken link, a missing page or an API reference that does not resolve
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site/reference/index.html").read_text().count("VideoPipeline") >= 3
    generated = (tmp_path / "site/commands/reference/index.html").read_text()
    assert "dynode interpolate" in generated and "--slowdown" in generated
