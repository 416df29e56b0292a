import pytest
import torch

from dynode.config import InversionConfig
from dynode.errors import InputError
from dynode.inversion import invert
from dynode.io.checkpoints import load_latents, save_latents

from conftest import TINY


def _targets(gen, n=3):
    w = gen.mapping(torch.randn(n, TINY.w_dim, generator=torch.Generator().manual_seed(4)))
    return gen.synthesis(w), torch.arange(n, dtype=torch.float64) / 4


def test_inversion_reduces_loss_with_more_steps(tiny_gen):
    x, t = _targets(tiny_gen)
    short = invert(tiny_gen, x, t, InversionConfig(steps_first=2, steps=2, lr=0.05))
    long = invert(tiny_gen, x, t, InversionConfig(steps_first=150, steps=60, lr=0.05))
    assert long.losses.mean() < 0.5 * short.losses.mean()
    assert long.psnr.mean() > short.psnr.mean() + 3
    assert long.latents.shape == (3, tiny_gen.num_ws, TINY.w_dim)


def test_w_space_gives_equal_rows(tiny_gen):
    x, t = _targets(tiny_gen, 2)
    seq = invert(tiny_gen, x, t, InversionConfig(space="w", steps_first=5, steps=5))
    torch.testing.assert_close(seq.latents[:, 0], seq.latents[:, -1])


def test_batched_frames_match_requested_count(tiny_gen):
    x, t = _targets(tiny_gen, 3)
    seq = invert(tiny_gen, x, t, InversionConfig(steps_first=2, steps=2, batch_size=2))
    assert len(seq) == 3 and seq.psnr.shape == (3,)


def test_wrong_resolution_is_a_named_error(tiny_gen):
    with pytest.raises(InputError, match="resize or align"):
        invert(tiny_gen, torch.zeros(2, 3, 32, 32), torch.tensor([0.0, 0.1]))


def test_save_load_round_trip(tiny_gen, tmp_path):
    x, t = _targets(tiny_gen, 2)
    seq = invert(tiny_gen, x, t, InversionConfig(steps_first=2, steps=2))
    save_latents(tmp_path / "l.safetensors", seq)
    again = load_latents(tmp_path / "l.safetensors")
    torch.testing.assert_close(again.latents, seq.latents)
    torch.testing.assert_close(again.times, seq.times)
    assert again.stats.config.steps == 2
