import numpy as np
import pytest
import torch

from dynode.baselines import constant_velocity, flow_interpolate, linear, minterpolate, slerp, spline
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


def test_slerp_keeps_norms_on_a_circle_and_spline_is_exact_on_cubics():
    t = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    ang = torch.tensor([0.0, 1.0, 2.0])
    lat = torch.stack([torch.cos(ang), torch.sin(ang)], -1)[:, None] * 3  # (3, 1, 2) on a circle of radius 3
    q = torch.tensor([0.25, 1.5])
    torch.testing.assert_close(slerp(t, lat, q)[:, 0], 3 * torch.stack([torch.cos(q), torch.sin(q)], -1))
    assert (linear(t, lat, q).norm(dim=-1) < 2.99).all()  # the chord cuts inside the circle
    knots = torch.linspace(0, 3, 7, dtype=torch.float64)
    path = lambda x: (x - 1.5).float().view(-1, 1, 1) * torch.ones(1, 2, 2)  # noqa: E731
    torch.testing.assert_close(spline(knots, path(knots), q.double()), path(q.double()))
    with pytest.raises(InputError, match="increasing"):
        spline(torch.tensor([0.0, 0.0, 1.0]), lat, q)


def _panning(shifts):
    """A smooth random texture panned horizontally by the given pixel shifts."""
    rng = np.random.default_rng(0)
    base = torch.nn.functional.avg_pool2d(torch.from_numpy(rng.random((1, 3, 72, 72))), 5, 1).numpy()[0]
    base = (base - base.min()) / (base.max() - base.min()) * 255
    return np.stack([np.roll(base, s, axis=2)[:, :64, :64].transpose(1, 2, 0) for s in shifts]).astype(np.uint8)


def test_pixel_baselines_follow_a_panning_texture():
    frames = _panning([0, 4, 8])
    middle = _panning([2, 6])
    flow = flow_interpolate(frames, [0.0, 1.0, 2.0], [0.5, 1.5, 2.0])
    minter = minterpolate(frames, 2)
    assert minter.shape == (5, 64, 64, 3) and np.array_equal(flow[2], frames[2])
    for out in (flow[:2], minter[1::2]):
        blend = ((frames[:-1].astype(float) + frames[1:]) / 2)
        # Motion compensation lands closer to the true middle frames than a cross-fade does.
        assert np.abs(out.astype(float) - middle).mean() < 0.6 * np.abs(blend - middle).mean()
    with pytest.raises(InputError, match="uint8"):
        minterpolate(frames.astype(np.float32), 2)
