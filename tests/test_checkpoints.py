import json

import pytest
import torch

from dynode.errors import CheckpointError
from dynode.generators import load_generator
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.io.checkpoints import load_artifact, save_artifact, save_model

from conftest import TINY, make_tiny


def test_generator_round_trip(tiny_folder, tiny_gen):
    loaded = load_generator(str(tiny_folder))
    w = tiny_gen.mapping(torch.randn(2, TINY.w_dim))
    torch.testing.assert_close(loaded.synthesis(w), tiny_gen.synthesis(w))
    torch.testing.assert_close(loaded.w_avg, tiny_gen.w_avg)


def test_checkpoint_of_another_resolution_is_refused(tmp_path):
    g32 = make_tiny(config=StyleGAN2Config(resolution=32, w_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8}))
    folder = save_model(tmp_path / "m", g32, "stylegan2", TINY.to_dict())  # config says 16 px, weights are 32 px
    with pytest.raises(CheckpointError, match="do not match the stylegan2 config"):
        load_generator(str(folder))


def test_checkpoint_of_another_architecture_is_refused(tiny_folder):
    meta = json.loads((tiny_folder / "config.json").read_text())
    meta["architecture"] = "biggan"
    (tiny_folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="biggan"):
        load_generator(str(tiny_folder))


def test_unknown_generator_name_lists_bundled():
    with pytest.raises(CheckpointError, match="bundled name"):
        load_generator("no-such-model")


def test_corrupt_weights_are_a_checkpoint_error(tiny_folder):
    (tiny_folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="unreadable weights"):
        load_generator(str(tiny_folder))


def test_artifact_kind_is_checked(tmp_path):
    save_artifact(tmp_path / "a.safetensors", "latents", {"x": torch.zeros(2)}, {"a": 1})
    tensors, info = load_artifact(tmp_path / "a.safetensors", "latents")
    assert info == {"a": 1} and torch.equal(tensors["x"], torch.zeros(2))
    with pytest.raises(CheckpointError, match="expected 'trajectory'"):
        load_artifact(tmp_path / "a.safetensors", "trajectory")
    with pytest.raises(CheckpointError, match="no such artifact"):
        load_artifact(tmp_path / "missing.safetensors", "latents")


def test_bundled_generator_loads():
    g = load_generator("toyfaces64")
    assert isinstance(g, StyleGAN2Generator) and g.resolution == 64
    assert torch.isfinite(g.synthesis(g.w_avg[None])).all()
