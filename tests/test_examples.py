"""Directions learned from a user's labelled example frames (dynode.edit.examples)."""

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from dynode.cli import app
from dynode.config.training import LearnConfig
from dynode.data.toyfaces import render, sample_factors
from dynode.edit.directions import sample_w
from dynode.edit.examples import EncoderCodes, PerceptualFeatures, read_examples, train_reader
from dynode.edit.learn import learn_direction
from dynode.errors import InputError
from dynode.generators import load_generator
from dynode.inversion.encoder import encoder_folder, load_encoder
from dynode.io.images import to_uint8
from dynode.metrics.attributes import ATTRIBUTES, load_regressor


def _faces(glasses: float, n: int, seed: int) -> torch.Tensor:
    factors = sample_factors(n, torch.Generator().manual_seed(seed))
    factors["glasses"] = torch.full((n,), glasses)
    return render(factors, 64)


def _write(folder, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, frame in enumerate(to_uint8(images)):
        Image.fromarray(np.asarray(frame)).save(folder / f"{i}.png")


@pytest.fixture(scope="module")
def toy():
    gen = load_generator("toyfaces64")
    return gen, load_encoder(encoder_folder(gen), gen)


def test_examples_are_read_from_two_folders_and_refused_with_the_way_out(tmp_path):
    _write(tmp_path / "with", _faces(1.0, 8, 0))
    with pytest.raises(InputError, match="no without/ folder"):
        read_examples(tmp_path, 64)
    _write(tmp_path / "without", _faces(0.0, 3, 1))
    with pytest.raises(InputError, match="3 images; a reader needs at least 8"):
        read_examples(tmp_path, 64)
    r = CliRunner().invoke(app, ["directions", "fit", "--examples", str(tmp_path), "-o", str(tmp_path / "d.safetensors")])
    assert r.exit_code == 2 and "--name" in r.output and not (tmp_path / "d.safetensors").exists()


def test_a_direction_learned_from_labelled_frames_draws_the_attribute(toy):
    gen, encoder = toy
    reader, stats = train_reader(EncoderCodes(encoder, gen), "glasses", _faces(1.0, 24, 0), _faces(0.0, 24, 1))
    assert stats["heldout_accuracy"] >= 0.75 and reader.attributes == ("glasses",)
    config = LearnConfig(steps=12, pool=24, samples=8, toy=4, seed=0)
    direction = learn_direction(gen, reader, "glasses", config=config, encoder=encoder, frames=_faces(0.0, 16, 2))
    assert direction.attribute == "glasses" and direction.method == "learned"
    # The bundled probe, which the learning never saw, reads glasses drawn on faces that had none.
    codes = sample_w(gen, 32, 5)[:, None].repeat(1, gen.num_ws, 1)
    probe, column = load_regressor(), ATTRIBUTES.index("glasses")
    with torch.no_grad():
        before = probe(gen.synthesis(codes))[:, column]
        after = probe(gen.synthesis(codes + direction.offset(3.0, gen.num_ws)))[:, column]
    bare = before < 0.3
    assert bare.sum() >= 8 and float((after - before)[bare].mean()) > 0.1  # a random offset moves it ~0


def test_examples_that_do_not_differ_are_refused(toy):
    gen, encoder = toy
    with pytest.raises(InputError, match="do not separate"):
        train_reader(EncoderCodes(encoder, gen), "glasses", _faces(0.0, 16, 3), _faces(0.0, 16, 4))


def test_without_an_encoder_the_reader_reads_imagenet_features_and_passes_gradients_to_the_picture():
    def faces(lightness: float, seed: int) -> torch.Tensor:
        factors = sample_factors(16, torch.Generator().manual_seed(seed))
        factors["hair_color"] = torch.full((16,), lightness)
        return render(factors, 64)

    reader, stats = train_reader(PerceptualFeatures(), "blond", faces(0.95, 0), faces(0.05, 1))
    assert stats["features"] == "alexnet" and stats["heldout_accuracy"] >= 0.75
    images = faces(0.5, 2)[:4].requires_grad_(True)
    reader(images).sum().backward()  # the learning goes through the reader to the generator's picture
    assert images.grad is not None and float(images.grad.abs().sum()) > 0
