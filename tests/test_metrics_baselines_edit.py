import numpy as np
import pytest
import torch

from dynode.baselines import constant_velocity, linear
from dynode.edit import edit_per_frame, edit_start, get_direction
from dynode.errors import InputError
from dynode.metrics import psnr, ssim


def test_psnr_and_ssim_identity_and_ordering():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    noisier = (x + 0.4 * torch.randn_like(x)).clamp(-1, 1)
    assert (psnr(x, x) > 90).all() and torch.allclose(ssim(x, x), torch.ones(2), atol=1e-4)
    assert (psnr(x, noisy) > psnr(x, noisier)).all() and (ssim(x, noisy) > ssim(x, noisier)).all()
    with pytest.raises(InputError):
        psnr(x, x[:1])


def test_linear_and_constant_velocity_are_exact_on_lines():
    t = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    lat = (2 * t).float().view(3, 1, 1).repeat(1, 2, 2)
    q = torch.tensor([0.5, 2.0])
    torch.testing.assert_close(linear(t, lat, q)[:, 0, 0], 2 * q.float())
    torch.testing.assert_close(constant_velocity(t, lat, torch.tensor([4.0]))[:, 0, 0], torch.tensor([8.0]))


def test_edits_add_the_direction_on_chosen_layers():
    start = torch.zeros(4, 3)
    d = torch.ones(3)
    e = edit_start(start, d, 2.0, layers=[1, 2])
    assert e[0].abs().sum() == 0 and torch.equal(e[1], torch.full((3,), 2.0))
    frames = edit_per_frame(torch.zeros(5, 4, 3), d, -1.0)
    assert torch.equal(frames, -torch.ones(5, 4, 3))
    with pytest.raises(InputError, match="out of range"):
        edit_start(start, d, 1.0, layers=[7])


def test_direction_of_wrong_size_and_unknown_name(tmp_path, tiny_folder):
    np.save(tmp_path / "bad.npy", np.ones(5, np.float32))
    with pytest.raises(InputError, match=r"has shape \(5,\)"):
        get_direction(str(tmp_path / "bad.npy"), str(tiny_folder), (6, 16))
    with pytest.raises(InputError, match="unknown direction"):
        get_direction("smile", str(tiny_folder), (6, 16))
    assert get_direction(str(tmp_path / "dir.npy"), str(tiny_folder), (6, 16)).shape == (16,)


def test_bundled_directions_exist_for_the_bundled_generator():
    from dynode.edit import load_directions
    dirs = load_directions("toyfaces64")
    assert {"smile", "glasses", "hair_color"} <= set(dirs)
    assert all(d.shape == (dirs["smile"].shape[0],) for d in dirs.values())
