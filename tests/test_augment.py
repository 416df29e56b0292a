import pytest
import torch

from dynode.errors import InputError
from dynode.generators.augment import diff_augment


def _images(b=4, size=16):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_empty_policy_is_identity():
    x = _images()
    assert diff_augment(x, "", torch.Generator()) is x


def test_unknown_policy_is_named():
    with pytest.raises(InputError, match="flip"):
        diff_augment(_images(), "color,flip", torch.Generator())


def test_translation_moves_content_by_whole_pixels():
    x = _images(b=32)
    y = diff_augment(x, "translation", torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    for a, b in zip(x, y):
        # Each output is the input shifted by (dy, dx) with zeros shifted in.
        found = any(torch.equal(b[:, max(dy, 0):16 + min(dy, 0), max(dx, 0):16 + min(dx, 0)],
                                a[:, max(-dy, 0):16 + min(-dy, 0), max(-dx, 0):16 + min(-dx, 0)])
                    for dy in range(-2, 3) for dx in range(-2, 3))
        assert found


def test_cutout_zeroes_a_square_and_keeps_the_rest():
    x = _images(b=8) * 0.5 + 0.6  # no zeros of its own
    y = diff_augment(x, "cutout", torch.Generator().manual_seed(2))
    zeroed = (y == 0).all(1)
    assert zeroed.any(2).any(1).all()  # every image has a hole
    assert torch.equal(y[~zeroed[:, None].expand_as(y)], x[~zeroed[:, None].expand_as(x)])


def test_same_seed_same_augmentation_and_gradients_flow():
    x = _images().requires_grad_(True)
    policy = "color,translation,cutout"
    a = diff_augment(x, policy, torch.Generator().manual_seed(3))
    b = diff_augment(x, policy, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
