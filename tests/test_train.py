import json

import pytest
import torch

from dynode.errors import InputError
from dynode.generators import load_generator
from dynode.generators.train import TrainConfig, train

from conftest import TINY


def test_training_runs_resumes_and_exports(tmp_path):
    cfg = TrainConfig(generator=TINY, kimg=0.016, batch=4, snapshot_kimg=0.008)
    first = train(cfg, tmp_path)
    assert first.kimg == pytest.approx(0.016) and (tmp_path / "state.pt").is_file()
    second = train(TrainConfig(generator=TINY, kimg=0.024, batch=4), tmp_path, resume=tmp_path / "state.pt")
    assert second.kimg == pytest.approx(0.024)
    g = load_generator(str(tmp_path / "export"))
    assert g.resolution == 16 and list((tmp_path / "samples").glob("*.png"))


def test_resume_takes_new_hyperparameters_with_augmentation_and_path_length(tmp_path):
    train(TrainConfig(generator=TINY, kimg=0.008, batch=4), tmp_path)
    cfg = TrainConfig(generator=TINY, kimg=0.024, batch=4, lr=0.001, augment="color,translation,cutout",
                      pl_weight=2.0, pl_every=1)
    result = train(cfg, tmp_path, resume=tmp_path / "state.pt")
    assert result.kimg == pytest.approx(0.024)
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    assert state["pl_mean"] > 0
    assert {g["lr"] for g in state["opt_g"]["param_groups"]} == {0.001}
    assert json.loads(state["config"])["augment"] == "color,translation,cutout"


def test_unknown_augmentation_is_refused(tmp_path):
    with pytest.raises(InputError, match="valid names"):
        train(TrainConfig(generator=TINY, kimg=0.01, batch=4, augment="zoom"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_odd_batch_is_refused(tmp_path):
    with pytest.raises(InputError, match="even"):
        train(TrainConfig(generator=TINY, kimg=0.01, batch=3), tmp_path)
