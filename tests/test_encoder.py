"""The iterative encoder: trained through the generator, each pass nearer the target, refused for
another generator or in an older dynode's one-pass form (which can start a new run)."""

import json

import pytest
import torch

from conftest import TINY, make_tiny
from dynode.config import InversionConfig
from dynode.config.training import EncoderConfig
from dynode.errors import CheckpointError, InputError
from dynode.generators import load_generator
from dynode.inversion import invert
from dynode.inversion.encoder import (Encoder, encoder_folder, export_encoder, load_encoder, sample_codes,
                                      train_encoder, warm_weights)
from dynode.io.checkpoints import load_latents, save_model
from dynode.metrics import psnr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    gen = load_generator(str(save_model(root / "tiny", make_tiny(), "stylegan2", TINY.to_dict())))
    config = EncoderConfig(steps=150, batch=16, lr=3e-3, passes=2, perceptual_weight=0.0, toy=0.25)
    enc, stats = train_encoder(gen, config, root / "run", encoder_folder(gen))
    return gen, enc, stats, config, root


def test_each_pass_comes_nearer_and_starts_inversion_closer(trained):
    gen, enc, stats, config, root = trained
    codes = sample_codes(gen, 16, config, float(enc.spread), torch.Generator().manual_seed(99))
    with torch.no_grad():
        images = gen.synthesis(codes)
        start = float(psnr(enc.start(gen, len(images))[1], images).mean())
        one, two = (float(psnr(gen.synthesis(enc.encode(gen, images, n)), images).mean()) for n in (1, 2))
    assert stats["steps"] == 150 and one > start + 3  # far nearer than the mean code's render
    assert two > one + 0.3  # the second pass corrects the first
    log = [json.loads(line) for line in (root / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [50, 100, 150] and log[-1]["psnr"] > log[0]["psnr"]
    t = torch.arange(4, dtype=torch.float64) / 4
    quick = InversionConfig(steps=3, steps_first=3)
    from_encoder = invert(gen, images[:4], t, InversionConfig(steps=3, steps_first=3, init="encoder"), encoder=enc)
    from_mean = invert(gen, images[:4], t, InversionConfig(steps=3, steps_first=3, init="mean"))
    assert from_encoder.stats.init == "encoder" and invert(gen, images[:4], t, quick).stats.init == "previous"
    assert from_encoder.psnr.mean() > from_mean.psnr.mean()


def test_an_older_one_pass_encoder_is_refused_but_starts_a_new_run(trained, tmp_path):
    gen, enc, _, config, _ = trained
    new = Encoder(TINY.resolution, gen.num_ws, gen.w_dim)
    weights = {k: v for k, v in new.state_dict().items() if k != "features.0.weight"}
    weights["features.0.weight"] = torch.randn(32, 3, 3, 3)
    save_model(tmp_path / "old", _Weights(weights), "encoder",
               {"resolution": TINY.resolution, "num_ws": gen.num_ws, "w_dim": gen.w_dim, "width": 32,
                "generator_id": gen.record.id})
    with pytest.raises(CheckpointError, match="one-pass encoder of an older dynode; retrain it"):
        load_encoder(tmp_path / "old", gen)
    warm_weights(new, tmp_path / "old")
    first = new.features[0].weight
    torch.testing.assert_close(first[:, :3], weights["features.0.weight"])
    assert first[:, 3:].abs().max() == 0  # the current render is read only once trained to
    with pytest.raises(CheckpointError, match="not an encoder"):
        warm_weights(new, encoder_folder(gen).parent)


class _Weights(torch.nn.Module):
    """A module whose state dict is the given tensors (to write an old encoder's files)."""

    def __init__(self, tensors: dict):
        super().__init__()
        self.tensors = tensors

    def state_dict(self, *args, **kwargs):
        return self.tensors


def test_exported_encoders_reload_for_their_generator_only(trained, tmp_path):
    gen, enc, _, config, root = trained
    again = load_encoder(encoder_folder(gen), gen)
    x = torch.zeros(1, 3, TINY.resolution, TINY.resolution)
    torch.testing.assert_close(again.encode(gen, x), enc.encode(gen, x))
    other = load_generator(str(save_model(tmp_path / "other", make_tiny(seed=7), "stylegan2", TINY.to_dict())))
    export_encoder(tmp_path / "foreign", enc, gen)
    with pytest.raises(CheckpointError, match=rf"an encoder for generator {gen.record.id}, but .* generator {other.record.id}"):
        load_encoder(tmp_path / "foreign", other)
    with pytest.raises(CheckpointError, match="a run for generator"):
        train_encoder(other, config, resume=root / "run" / "state.pt")
    with pytest.raises(InputError, match="needs an encoder"):
        invert(other, x, torch.zeros(1, dtype=torch.float64), InversionConfig(init="encoder"))


def test_the_cli_uses_an_encoder_when_there_is_one(trained, tmp_path, tiny_folder, tiny_video):
    from typer.testing import CliRunner

    from dynode.cli import app
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    r = run("invert", tiny_video, "-o", tmp_path / "l.safetensors", "--generator", tiny_folder, "--init", "encoder",
            "--steps", 1, "--steps-first", 1)
    assert r.exit_code == 2 and "has no encoder" in r.output and not (tmp_path / "l.safetensors").exists()
    r = run("train-encoder", "--generator", tiny_folder, "--out", tmp_path / "run", "--steps", 5, "--batch", 4)
    assert r.exit_code == 0, r.output
    r = run("invert", tiny_video, "-o", tmp_path / "l.safetensors", "--generator", tiny_folder, "--steps", 1,
            "--steps-first", 1)
    assert r.exit_code == 0 and load_latents(tmp_path / "l.safetensors").stats.init == "encoder"
    r = run("invert", tiny_video, "-o", tmp_path / "m.safetensors", "--generator", tiny_folder, "--steps", 1,
            "--steps-first", 1, "--init", "previous")
    assert r.exit_code == 0 and load_latents(tmp_path / "m.safetensors").stats.init == "previous"
