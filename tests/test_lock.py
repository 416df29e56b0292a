"""Locked edits: the edit's effect held at the first frame's on every frame."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from dynode.config import EditSpec, FitConfig, InversionConfig, LockConfig
from dynode.edit import Direction, Edit, Schedule, carry
from dynode.edit.lock import lock
from dynode.errors import InputError
from dynode.io.images import to_uint8
from dynode.pipelines import VideoPipeline


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """A tiny generator's pipeline on a 12-frame video of a path with turns, fitted."""
    from conftest import TINY, make_tiny
    from dynode.io.checkpoints import save_model
    from dynode.generators import load_generator
    from dynode.types import Frames
    root = tmp_path_factory.mktemp("lock")
    gen = load_generator(str(save_model(root / "tiny", make_tiny(), "stylegan2", TINY.to_dict())))
    w = gen.mapping(torch.randn(3, TINY.w_dim, generator=torch.Generator().manual_seed(4)))
    a = torch.linspace(0, 2, 12)[:, None]
    path = torch.where(a < 1, w[0] * (1 - a) + w[1] * a, w[1] * (2 - a) + w[2] * (a - 1))
    with torch.no_grad():
        frames = Frames(to_uint8(gen.synthesis(path)), torch.arange(12, dtype=torch.float64) / 8, 8.0)
    return VideoPipeline.from_frames(frames, gen, InversionConfig(steps=20, steps_first=60),
                                     fit=FitConfig(iters=40, subspace_dim=3))


def test_locking_holds_the_first_frames_effect_better_than_carrying_the_edit(moving):
    pipe = moving
    t = pipe.trajectory.observed_times
    d = Direction("d", torch.randn(pipe.generator.w_dim, generator=torch.Generator().manual_seed(9)), sigma=0.5)
    every = LockConfig(stride=1, tolerance=0.02)
    locked, stats = lock(pipe.trajectory, pipe.generator, t, [Edit(d, 3.0)], config=every)
    before, after = np.array(stats[0].response_before), np.array(stats[0].response_locked)
    assert stats[0].keyframes == len(t) and stats[0].target == pytest.approx(1.0) and before[0] == 1.0
    assert np.abs(after - 1).max() < 0.05 < 0.1 < np.abs(before - 1).max()  # the carried edit drifts; locked holds
    plain = pipe.trajectory.evaluate(t)
    assert not torch.allclose(locked - plain, carry(pipe.trajectory, t, [Edit(d, 3.0)]) - plain)


def test_schedules_and_bad_settings(moving):
    pipe = moving
    t = pipe.trajectory.observed_times
    d = Direction("d", torch.ones(pipe.generator.w_dim), sigma=0.3)
    faded, _ = lock(pipe.trajectory, pipe.generator, t, [Edit(d, 2.0, Schedule.parse("0:0,1:1"))])
    torch.testing.assert_close(faded[0], pipe.trajectory.evaluate(t[:1])[0])  # weight 0 at t = 0: unedited
    with pytest.raises(InputError, match="valid"):
        LockConfig("colour")
    with pytest.raises(InputError, match="needs the probe response"):
        LockConfig("pixels", target=0.8)
    with pytest.raises(InputError, match="probe attribute"):
        from dynode.metrics.attributes import load_regressor
        lock(pipe.trajectory, pipe.generator, t, [Edit(d, 2.0)], config=LockConfig("probe"), probe=load_regressor())
    with pytest.raises(InputError, match="valid"):
        EditSpec(propagation="frozen")
    clip = pipe.edit(EditSpec(propagation="locked"), edits=[Edit(d, 1.0)])
    assert len(clip.numpy()) == 12 and clip.reports[0].direction == "d"
    with pytest.raises(InputError, match=r"edits=\[\.\.\.\]"):
        pipe.edit([Edit(d, 1.0)])  # Edit objects go in edits=, the first argument is the spec
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        EditSpec(steady=1.0)
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        EditSpec(("d",), steady=-0.1)


def test_a_steady_edit_changes_the_picture_as_much_and_from_frame_to_frame_less(moving):
    pipe = moving
    d = Direction("d", torch.randn(pipe.generator.w_dim, generator=torch.Generator().manual_seed(3)), sigma=0.5)
    plain = pipe.interpolate(times=pipe.trajectory.observed_times, fidelity="latent").numpy().astype(np.float32)
    change = {s: pipe.edit(EditSpec(propagation="first-frame", steady=s), edits=[Edit(d, 3.0)],
                           times=pipe.trajectory.observed_times).numpy() - plain
              for s in (0.0, 0.8)}
    jumps = {s: np.abs(np.diff(c, axis=0)).mean() for s, c in change.items()}
    assert jumps[0.8] < jumps[0.0]
    assert abs(np.abs(change[0.8]).mean() - np.abs(change[0.0]).mean()) < 0.25 * np.abs(change[0.0]).mean()


def test_auto_reads_the_probe_where_it_can_and_held_keyframes_are_not_rendered_again(moving, monkeypatch):
    import dynode.edit.lock as lock_module
    from dynode.metrics.attributes import load_regressor
    pipe, probe = moving, load_regressor()
    t = pipe.trajectory.observed_times
    vector = torch.randn(pipe.generator.w_dim, generator=torch.Generator().manual_seed(9))
    unnamed, skin = Direction("d", vector, sigma=0.5), Direction("skin", vector, sigma=0.5, attribute="skin")
    _, pixels = lock(pipe.trajectory, pipe.generator, t, [Edit(skin, 3.0)])  # no probe: the pixels
    _, fallback = lock(pipe.trajectory, pipe.generator, t, [Edit(unnamed, 3.0)], probe=probe)  # no attribute
    _, read = lock(pipe.trajectory, pipe.generator, t, [Edit(skin, 3.0)], probe=probe)
    assert pixels[0].target == fallback[0].target == 1.0 and read[0].target != 1.0
    with pytest.raises(InputError, match="needs the probe response"):
        lock(pipe.trajectory, pipe.generator, t, [Edit(unnamed, 3.0)], config=LockConfig(target=0.5), probe=probe)

    rendered = []
    render = lock_module.render_images
    monkeypatch.setattr(lock_module, "render_images", lambda g, codes: rendered.append(len(codes)) or render(g, codes))
    n = len(t)
    lock(pipe.trajectory, pipe.generator, t, [Edit(unnamed, 3.0)], config=LockConfig(stride=1, tolerance=10.0))
    assert rendered == [n, n]  # every keyframe held at g = 1 already: no secant step
    rendered.clear()
    _, reports = lock(pipe.trajectory, pipe.generator, t, [Edit(unnamed, 3.0)],
                      config=LockConfig(stride=1, iterations=6, tolerance=0.05))
    after = np.array(reports[0].response_locked)
    assert rendered[:2] == [n, n] and all(0 < k < n for k in rendered[2:]) and len(rendered) <= 2 + 6
    assert np.abs(after - 1).max() < 0.1


def test_the_pixel_response_reads_a_misplaced_change_at_its_size():
    from dynode.edit.lock import _PixelResponse
    g = torch.Generator().manual_seed(0)
    plain = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 40, 40, generator=g) * 2 - 1, 3, 1).expand(2, 3, 38, 38)
    plain = plain.contiguous()  # two identical unedited keyframes: the flow between them is still
    spots = torch.rand(1, 3, 38, 38, generator=g).gt(0.9).float() * 0.5
    full = plain + torch.cat([spots, spots.roll(2, dims=3)])  # the same change, two pixels off on the second
    size, projected = _PixelResponse(plain, full), _PixelResponse(plain, full, projected=True)
    assert size(full)[0] == pytest.approx(1.0) and size(full)[1] == pytest.approx(1.0, abs=0.02)
    assert projected(full)[1] < 0.5  # the projection reads the misplaced change as a weaker edit


def _scaled_response(factor: float):
    """A lock response (in place of the probe's or the pixels') reading ``factor`` times the picture's change
    against the first-frame edit's, whatever the gain: a response that a gain of 1 / factor holds."""
    class Scaled:
        def __init__(self, config, probe, attribute, plain, full):
            self.plain, self.size, self.target = plain, (full - plain).flatten(1).norm(dim=1), 1.0

        def __call__(self, images, rows=slice(None)):
            return factor * (images - self.plain[rows]).flatten(1).norm(dim=1) / self.size[rows]
    return Scaled


def test_an_edit_that_cannot_be_held_keeps_the_carried_edit_instead_of_the_gain_bound(moving, monkeypatch):
    import dynode.edit.lock as lock_module

    # the edit's effect grows ten times slower than the picture changes: it never reaches 1
    monkeypatch.setattr(lock_module, "_response", _scaled_response(0.1))
    pipe = moving
    t = pipe.trajectory.observed_times
    d = Direction("d", torch.randn(pipe.generator.w_dim, generator=torch.Generator().manual_seed(9)), sigma=0.5)
    codes, (report,) = lock(pipe.trajectory, pipe.generator, t, [Edit(d, 3.0)], config=LockConfig(max_gain=4.0))
    assert report.unheld == report.keyframes and len(report.at_bound) == report.keyframes
    assert all(g == 1.0 for g in report.gain_keyframes) and "keep the carried edit" in report.summary()
    carried = carry(pipe.trajectory, t, [Edit(d, 3.0)])  # not pushed to 4x: the edit carried as it is
    torch.testing.assert_close(codes, carried, atol=1e-5, rtol=0)


def test_gains_keep_the_codes_near_the_generators_faces(moving, monkeypatch):
    import dynode.edit.lock as lock_module
    from dynode.metrics.appearance import w_distance, w_stats

    # the edit reads half as strong as the picture changes: holding it asks for a gain of about 2
    monkeypatch.setattr(lock_module, "_response", _scaled_response(0.5))
    pipe = moving
    t = pipe.trajectory.observed_times
    d = Direction("d", torch.randn(pipe.generator.w_dim, generator=torch.Generator().manual_seed(9)), sigma=0.5)
    every = LockConfig(stride=1, tolerance=0.02, iterations=6)
    free, (report_free,) = lock(pipe.trajectory, pipe.generator, t, [Edit(d, 3.0)], config=replace(every, realism=None))
    bounded, (report,) = lock(pipe.trajectory, pipe.generator, t, [Edit(d, 3.0)], config=every)
    stats = w_stats(pipe.generator)
    carried = w_distance(carry(pipe.trajectory, t, [Edit(d, 3.0)]), stats)
    ratio = lambda codes: float((w_distance(codes, stats) / carried).max())  # noqa: E731
    assert min(report_free.gain_keyframes) > 1.5 and ratio(free) > 1.15  # unbounded, the lock strays off W
    assert ratio(bounded) <= 1.1 + 2e-3 and report.off_faces and "nearer the generator's faces" in report.summary()
    assert report.unheld == len(report.off_faces)  # held no further than the faces allow, and said so
