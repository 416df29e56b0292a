"""The documentation's training commands (docs/commands/models.md), run as written with tiny budgets appended."""

import shlex

import pytest
import torch
from test_readme import ROOT, _block, _run

MODELS_PAGE = (ROOT / "docs/commands/models.md").read_text()
TINY_BUDGETS = {"train-gan": ["--kimg", "0.016", "--batch", "8"], "train-attributes": ["--steps", "3"],
                "directions": ["--samples", "40"], "train-encoder": ["--steps", "3", "--batch", "4"],
                "train-prior": ["--toy", "3", "--seconds", "21", "--fps", "4", "--steps", "3", "--workers", "1"]}


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
