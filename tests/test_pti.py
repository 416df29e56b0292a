import copy
import dataclasses

import pytest
import torch

from dynode.config import InversionConfig, PTIConfig
from dynode.dynamics import fit, save_trajectory
from dynode.config import FitConfig
from dynode.errors import CheckpointError, InputError
from dynode.generators import apply_delta, load_generator
from dynode.inversion import invert, pivotal_tuning
from dynode.io.checkpoints import load_latents, save_latents
from dynode.metrics import psnr


def test_pivotal_tuning_improves_reconstruction_and_travels_with_the_codes(tmp_path, tiny_gen, tiny_folder):
    # Frames the tiny generator cannot make: smooth colour gradients.
    ramp = torch.linspace(-1, 1, 16)
    images = torch.stack([torch.stack([ramp[None].expand(16, 16) * s, ramp[:, None].expand(16, 16) * -s,
                                       torch.full((16, 16), 0.3 * s)]) for s in (0.5, 0.7, 0.9)])
    seq = invert(load_generator(str(tiny_folder)), images, torch.tensor([0.0, 0.1, 0.2]),
                 InversionConfig(steps=5, steps_first=10))
    before = {k: v.clone() for k, v in tiny_gen.state_dict().items()}
    delta, stats = pivotal_tuning(tiny_gen, images, seq.latents, PTIConfig(steps=40, batch_size=3))
    assert stats.psnr_after > stats.psnr_before + 1
    assert all(torch.equal(v, tiny_gen.state_dict()[k]) for k, v in before.items())  # the original is untouched
    assert not any(k.startswith("style.") for k in delta)  # the mapping network is not tuned
    tuned = apply_delta(copy.deepcopy(tiny_gen), delta)
    assert float(psnr(tuned.synthesis(seq.latents), images).mean()) == pytest.approx(stats.psnr_after, abs=1e-3)
    seq = dataclasses.replace(seq, generator=dataclasses.replace(seq.generator, delta=delta), tuning=stats)
    save_latents(tmp_path / "l.safetensors", seq)
    back = load_latents(tmp_path / "l.safetensors")
    assert back.tuning == stats and back.stats == seq.stats  # the typed records round-trip
    traj = fit(back, FitConfig(iters=5, subspace_dim=2))
    save_trajectory(tmp_path / "t.safetensors", traj)
    from dynode.pipelines import VideoPipeline
    gen = VideoPipeline.from_artifacts(tmp_path / "t.safetensors").generator  # reloaded with the video's delta
    torch.testing.assert_close(gen.synthesis(seq.latents), tuned.synthesis(seq.latents))
    with pytest.raises(CheckpointError, match="does not fit"):
        apply_delta(copy.deepcopy(tiny_gen), {"conv1.conv.weight": torch.zeros(3)})
    with pytest.raises(InputError, match="pivots"):
        pivotal_tuning(tiny_gen, images, seq.latents[:2])
    with pytest.raises(InputError, match="PTIConfig"):
        PTIConfig(steps=0)
