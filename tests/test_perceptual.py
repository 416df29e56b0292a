import pytest
import torch

from dynode.data.toyfaces import render, sample_factors
from dynode.errors import CheckpointError, InputError
from dynode.metrics import stlpips


@pytest.fixture(scope="module")
def faces():
    return render(sample_factors(6, torch.Generator().manual_seed(0)), 64)


def test_stlpips_orders_shifted_noisy_and_unrelated_faces(faces):
    a, b = faces[:3], faces[3:]
    noisy = (a + 0.1 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    shifted = torch.roll(a, 2, dims=3)
    same, d_shift, d_noise, d_other = (stlpips(a, x) for x in (a, shifted, noisy, b))
    assert same.abs().max() < 1e-6
    assert (d_shift < d_noise).all() and (d_noise < d_other).all(), (d_shift, d_noise, d_other)
    assert (d_shift < 0.05).all()  # shift tolerance: a 2-pixel shift is nearly invisible to it


def test_stlpips_is_differentiable_and_takes_small_images(faces):
    x = faces[:2, :, ::4, ::4].clone().requires_grad_(True)  # 16 px, upsampled inside
    stlpips(x, faces[2:4, :, ::4, ::4]).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(InputError, match="one shape"):
        stlpips(faces[:2], faces[:3])


def test_missing_weights_package_is_named(monkeypatch):
    import dynode.metrics.perceptual as mod
    monkeypatch.setattr(mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match="stlpips-pytorch"):
        mod.weights_path()
