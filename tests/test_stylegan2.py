import pytest
import torch

from dynode.errors import InputError
from dynode.generators.stylegan2 import StyleGAN2Config, upfirdn2d, _blur_kernel

from conftest import TINY


def test_output_shape_and_num_ws(tiny_gen):
    assert tiny_gen.num_ws == 6
    img = tiny_gen(torch.randn(3, TINY.w_dim))
    assert img.shape == (3, 3, 16, 16)


def test_w_equals_w_plus_with_repeated_rows(tiny_gen):
    w = tiny_gen.mapping(torch.randn(2, TINY.w_dim))
    a = tiny_gen.synthesis(w)
    b = tiny_gen.synthesis(w[:, None].repeat(1, tiny_gen.num_ws, 1))
    torch.testing.assert_close(a, b)


def test_fixed_noise_is_deterministic_and_random_noise_is_not(tiny_gen):
    w = tiny_gen.mapping(torch.randn(1, TINY.w_dim))
    with torch.no_grad():
        for p in tiny_gen.modules():
            if hasattr(p, "weight") and p.__class__.__name__ == "NoiseInjection":
                p.weight.fill_(1.0)
    torch.testing.assert_close(tiny_gen.synthesis(w), tiny_gen.synthesis(w))
    assert not torch.allclose(tiny_gen.synthesis(w, randomize_noise=True), tiny_gen.synthesis(w))


def test_batch_equals_singles(tiny_gen):
    ws = tiny_gen.mapping(torch.randn(3, TINY.w_dim))[:, None].repeat(1, tiny_gen.num_ws, 1)
    batch = tiny_gen.synthesis(ws)
    singles = torch.cat([tiny_gen.synthesis(ws[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, singles, atol=1e-5, rtol=1e-5)


def test_truncation_pulls_towards_mean(tiny_gen):
    z = torch.randn(4, TINY.w_dim)
    far = (tiny_gen.mapping(z) - tiny_gen.w_avg).norm()
    near = (tiny_gen.mapping(z, truncation=0.5) - tiny_gen.w_avg).norm()
    torch.testing.assert_close(near, 0.5 * far)


def test_upsampling_preserves_a_constant_image():
    x = torch.ones(1, 2, 4, 4)
    up = upfirdn2d(x, _blur_kernel() * 4, up=2, pad=(2, 1))
    assert up.shape == (1, 2, 8, 8)
    torch.testing.assert_close(up[:, :, 2:-2, 2:-2], torch.ones(1, 2, 4, 4))


def test_wrong_latent_shape_and_bad_config_are_named_errors(tiny_gen):
    with pytest.raises(InputError, match="expected ws of shape"):
        tiny_gen.synthesis(torch.randn(1, 3, TINY.w_dim))
    with pytest.raises(InputError, match="power of two"):
        StyleGAN2Config(resolution=48)
    with pytest.raises(InputError, match="lacks resolutions"):
        StyleGAN2Config(resolution=32, channels={4: 8, 8: 8})
