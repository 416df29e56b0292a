"""auto: each span's way of drawing the frames between its kept ones, chosen by hiding its own kept frames."""

import numpy as np
import torch

from dynode.choice import HEDGE, METHODS, Choice, checked_frames, choose, full_frames_needed
from dynode.config import DetailConfig
from dynode.render import render_pixels


def _codes(gen, n: int, seed: int = 1) -> torch.Tensor:
    """n codes along a smooth curve through three of the generator's W codes, as W+."""
    w = gen.mapping(torch.randn(3, gen.w_dim, generator=torch.Generator().manual_seed(seed)))
    s = torch.linspace(0, 1, n)[:, None]
    path = (1 - s) ** 2 * w[0] + 2 * s * (1 - s) * w[1] + s ** 2 * w[2]
    return path[:, None].expand(n, gen.num_ws, gen.w_dim).contiguous()


def _texture_video(n: int, size: int) -> np.ndarray:
    """A smooth random texture sliding one pixel a frame: nothing a face generator draws."""
    from scipy.ndimage import gaussian_filter
    big = gaussian_filter(np.random.default_rng(0).random((size + n, size + n, 3)), (2, 2, 0))
    big = (big - big.min()) / (big.max() - big.min()) * 255
    return np.stack([big[i:i + size, i:i + size] for i in range(n)]).astype(np.uint8)


def test_checked_frames_are_interior_and_capped():
    assert checked_frames(2, 8) == [] and checked_frames(5, 8) == [1, 2, 3]
    spread = checked_frames(100, 8)
    assert len(spread) == 8 and spread[0] == 1 and spread[-1] == 98
    needed = full_frames_needed(1000, 8)  # a check in full frames reads each checked frame and its neighbours only
    assert len(needed) == 24 and {k + d for k in checked_frames(1000, 8) for d in (-1, 0, 1)} == set(needed)


def test_a_video_the_generator_draws_keeps_the_latent_path(tiny_gen):
    codes = _codes(tiny_gen, 7)
    times = torch.arange(7, dtype=torch.float64) / 4
    frames = render_pixels(tiny_gen, codes)  # the generator's own video: every frame it can draw
    choice = choose(tiny_gen, frames, frames, times, codes)
    assert choice.method == "spline" and set(choice.scores) == set(METHODS) and len(choice.checked) == 5
    assert choice.scores["spline"] >= max(choice.scores.values()) - 0.05
    assert "spline (leave-one-out PSNR on 5 kept frames" in choice.describe()


def test_a_video_the_generator_cannot_draw_chooses_the_real_frames_flow(tiny_gen):
    codes = _codes(tiny_gen, 7)
    times = torch.arange(7, dtype=torch.float64) / 4
    frames = _texture_video(7, tiny_gen.resolution)
    choice = choose(tiny_gen, frames, render_pixels(tiny_gen, codes), times, codes)
    assert choice.method == "flow", choice.describe()
    assert choice.scores["flow"] > choice.scores["spline"] + 1


def test_two_frames_cannot_be_checked_and_ties_go_to_the_blend(tiny_gen, monkeypatch):
    codes = _codes(tiny_gen, 2)
    frames = render_pixels(tiny_gen, codes)
    choice = choose(tiny_gen, frames, frames, torch.tensor([0.0, 0.5], dtype=torch.float64), codes)
    assert choice == Choice(HEDGE) and "no interior kept frame" in choice.describe()
    import dynode.choice as module
    monkeypatch.setattr(module, "predictions", lambda *args, **kwargs: {m: args[1][0] for m in METHODS})
    codes = _codes(tiny_gen, 5)
    frames = render_pixels(tiny_gen, codes)
    tied = choose(tiny_gen, frames, frames, torch.arange(5, dtype=torch.float64), codes)
    assert len(set(tied.scores.values())) == 1 and tied.method == HEDGE


def test_a_single_method_replaces_the_blend_only_when_it_is_clearly_better(tiny_gen, monkeypatch):
    """Each candidate off the hidden frame by a constant: spline 20 levels against the blend's 21 is 0.4 dB
    (within the hedge: the blend), 4 against 8 is 6 dB (the spline)."""
    import dynode.choice as module
    codes = _codes(tiny_gen, 5)
    frames = np.full((5, tiny_gen.resolution, tiny_gen.resolution, 3), 100, np.uint8)
    times = torch.arange(5, dtype=torch.float64)
    for spline, blend, expected in ((20, 21, HEDGE), (4, 8, "spline")):
        off = {"spline": spline, "flow": 30, "blend": blend, "fused": 30}
        monkeypatch.setattr(module, "predictions", lambda *args, **kwargs: {m: args[1][0] + off[m] for m in METHODS})
        choice = choose(tiny_gen, frames, frames, times, codes)
        assert choice.method == expected, choice.describe()
        assert round(choice.scores["spline"] - choice.scores["blend"], 1) == round(20 * np.log10(blend / spline), 1)


def test_per_stretch_each_stretch_takes_its_own_way(tiny_gen):
    """The generator's own frames, then a texture it cannot draw: the first stretches keep the latent path,
    the last take the real frames' flow, and each time is drawn by its stretch's method."""
    codes = _codes(tiny_gen, 16)
    times = torch.arange(16, dtype=torch.float64) / 4
    renders = render_pixels(tiny_gen, codes)
    frames = np.concatenate([renders[:8], _texture_video(8, tiny_gen.resolution)])
    whole = choose(tiny_gen, frames, renders, times, codes)
    choice = choose(tiny_gen, frames, renders, times, codes, DetailConfig(per_stretch=True))
    assert whole.stretches == () and len(choice.checked) == 14 and len(choice.stretches) == 15
    assert set(choice.stretches[:4]) == {"spline"} and set(choice.stretches[-4:]) == {"flow"}, choice.describe()
    assert "per stretch between kept frames:" in choice.describe()
    between = choice.at(torch.tensor([0.1, 3.6, 5.0]), times)
    assert between.tolist() == ["spline", "flow", "spline"]  # past the kept frames: the spline
