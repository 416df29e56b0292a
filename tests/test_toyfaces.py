import pytest
import torch

from dynode.data.toyfaces import FACTOR_NAMES, ToyFaceVideo, render, sample_factors
from dynode.errors import InputError


def test_render_shape_range_and_any_resolution():
    f = sample_factors(3, torch.Generator().manual_seed(0))
    for res in (32, 64, 96):
        x = render(f, res)
        assert x.shape == (3, 3, res, res) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1


def test_video_is_deterministic_and_continuous_in_time():
    v = ToyFaceVideo(seed=5)
    a, b = v.render([0.0, 0.5]), ToyFaceVideo(seed=5).render([0.0, 0.5])
    assert torch.equal(a, b)
    assert not torch.equal(v.render([0.0]), ToyFaceVideo(seed=6).render([0.0]))
    # A tiny time step changes the frame a little, a large one a lot (smooth motion).
    near = (v.render([1.0]) - v.render([1.001])).abs().mean()
    far = (v.render([1.0]) - v.render([2.0])).abs().mean()
    assert near < 0.01 < far


def test_factors_at_arbitrary_times_within_ranges():
    f = ToyFaceVideo(seed=2).factors_at(torch.tensor([0.0, 0.123, 3.7, 10.0]))
    assert set(f) == set(FACTOR_NAMES)
    assert all(v.shape == (4,) for v in f.values())
    assert (f["smile"].abs() <= 1).all() and (f["eye_open"] >= 0).all()


def test_glasses_and_smile_change_the_picture():
    f = sample_factors(1, torch.Generator().manual_seed(3))
    base = render(f)
    for name, value in (("glasses", 1 - f["glasses"]), ("smile", -f["smile"])):
        g = dict(f, **{name: value})
        assert (render(g) - base).abs().max() > 0.5


def test_missing_factor_is_a_named_error():
    f = sample_factors(1, torch.Generator().manual_seed(0))
    del f["smile"]
    with pytest.raises(InputError, match="smile"):
        render(f)
