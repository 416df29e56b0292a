"""Keyframe edits (the keyframe's look held along the motion, kept in its region) and the measures of an
edit's look (colour drift, hue, leakage, distance from W)."""

import numpy as np
import pytest
import torch

from dynode.edit import Direction, Edit
from dynode.config import EditSpec, FitConfig, InversionConfig
from dynode.edit.confine import confine
from dynode.edit.keyframe import Keyframes, hold
from dynode.edit.lock import LockReport
from dynode.errors import InputError
from dynode.metrics.appearance import edit_look, w_distance, w_stats


def _scene(n=16, size=48, seed=0):
    """A textured picture sliding one pixel a frame to the right, and the mask (n, size, size) of a
    square patch that moves with it (the region an edit changes)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(60, 180, (size, size + n, 3)).astype(np.float32)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, 2, 1)) / 4
    patch = np.zeros((size, size + n), np.float32)
    patch[16:32, n + 14:n + 30] = 1
    frames = np.stack([texture[:, n - t:n - t + size] for t in range(n)]).round().astype(np.uint8)
    return frames, np.stack([patch[:, n - t:n - t + size] for t in range(n)])


def _latent_edit(plain, patch, leak=5.0):
    """An edit as the generator draws it: the patch turns orange on the first frame and drifts to tan over
    the video, and the background takes a faint tint of ``leak`` levels."""
    n = len(plain)
    start, end = np.array([70.0, 10.0, -40.0]), np.array([30.0, 25.0, 10.0])
    colour = start + np.linspace(0, 1, n)[:, None] * (end - start)
    change = patch[..., None] * colour[:, None, None, :] + (1 - patch[..., None]) * leak
    return np.clip(plain + change, 0, 255).round().astype(np.uint8)


def _held(plain, edited, key_index=0, chunk=5):
    times = np.arange(len(plain)) / 8.0
    keys = Keyframes(times[[key_index]], plain[[key_index]], edited[[key_index]])
    split = lambda x: [x[i:i + chunk] for i in range(0, len(x), chunk)]  # noqa: E731
    return np.concatenate(list(hold(split(plain), split(edited), split(times), keys)))


def test_the_keyframes_colour_is_held_along_the_motion_and_the_background_kept():
    plain, patch = _scene(n=10)
    edited = _latent_edit(plain, patch)
    out = _held(plain, edited)
    assert out.shape == plain.shape and out.dtype == np.uint8
    region = (edited[0].astype(np.float32) - plain[0])
    latent, held = edit_look(plain, edited, region), edit_look(plain, out, region)
    # the drifting edit changes colour visibly (Delta-E well above 5); held, it stays within 1 of the unedited patch
    assert latent.colour_drift > 10 and latent.hue_range > 20
    assert held.colour_drift <= held.unedited_drift + 1.0 and held.hue_range < 5
    # the faint background tint is measured as leakage, and the keyframe edit keeps it out
    assert latent.leakage == pytest.approx(5.0, abs=0.6) and held.leakage < 1.0
    # on the keyframe itself: the latent edit inside its region
    inside = patch[0] > 0
    inner = np.zeros_like(inside)
    inner[18:30, 16:28] = True
    np.testing.assert_allclose(out[0][inner], edited[0][inner], atol=1)
    np.testing.assert_array_equal(out[0][~inside & (np.abs(np.arange(48) - 22)[None, :] > 12)],
                                  plain[0][~inside & (np.abs(np.arange(48) - 22)[None, :] > 12)])


def test_a_later_keyframe_is_held_on_the_frames_nearest_it():
    plain, patch = _scene()
    edited = _latent_edit(plain, patch)
    out = _held(plain, edited, key_index=15)
    change = (out.astype(np.float32) - plain)[:, 20:28]
    moving_patch = patch[:, 20:28] > 0
    last_colour = (edited[15].astype(np.float32) - plain[15])[patch[15] > 0].mean(0)
    for t in (8, 11, 15):  # the frames up to 7 pixels of motion away take the last frame's colour
        assert np.abs(change[t][moving_patch[t]].mean(0) - last_colour).max() < 4


def test_where_the_flow_fails_the_latent_change_stays_in_its_own_region():
    rng = np.random.default_rng(2)
    plain = rng.integers(60, 180, (4, 32, 32, 3)).astype(np.uint8)  # every frame a new picture: nothing to follow
    patch = np.zeros((4, 32, 32), np.float32)
    patch[:, 8:20, 8:20] = 1
    edited = _latent_edit(plain, patch, leak=3.0)
    out = _held(plain, edited).astype(np.float32)
    latent = edited.astype(np.float32) - plain
    inside = np.zeros((32, 32), bool)
    inside[10:18, 10:18] = True
    # mostly the frame's own edit, not the keyframe's (carried as it is, the keyframe's change would be off by
    # key_gap; about a third of it still comes through where random pixels agree by chance)
    key_gap = np.abs(latent[1:] - latent[:1])[:, inside].mean()
    assert np.abs(out[1:] - plain[1:] - latent[1:])[:, inside].mean() < 0.4 * key_gap
    assert np.abs(out[1:] - plain[1:])[:, 24:, 24:].mean() < 0.5  # and not its faint tint elsewhere


def test_bad_keyframes_and_frames_are_named():
    plain, patch = _scene(n=4)
    with pytest.raises(InputError, match="must match"):
        Keyframes(np.array([0.0]), plain[:1], plain[:2])
    with pytest.raises(InputError, match="differ"):
        list(hold([plain], [plain[:, :20]], [np.arange(4) / 8.0], Keyframes(np.array([0.0]), plain[:1], plain[:1])))
    assert EditSpec(keyframes=(2.0, 0.5, 2)).keyframes == (0.5, 2.0)
    with pytest.raises(InputError, match="finite seconds"):
        EditSpec(keyframes=(float("nan"),))
    with pytest.raises(InputError, match="marks no region"):
        edit_look(plain, plain)


def test_a_lock_says_which_keyframes_it_could_not_hold():
    report = LockReport("skin", 0.5, 4, (0.5, 0.3, 0.2, 0.5), (0.5, 0.48, 0.3, 0.5), (1.0, 1.4, 4.0, 1.0),
                        (True, True, False, True), (2,))
    assert report.unheld == 1
    assert "3 of 4 keyframes held" in report.summary() and "keyframes [2]" in report.summary()


def test_w_distance_is_about_one_for_sampled_codes_and_grows_off_the_distribution(tiny_gen):
    z = torch.randn(256, tiny_gen.w_dim, generator=torch.Generator().manual_seed(5))
    w = tiny_gen.mapping(z)[:, None].expand(-1, tiny_gen.num_ws, -1)
    stats = w_stats(tiny_gen)
    sampled = w_distance(w, stats)
    assert 0.8 < float(sampled.mean()) < 1.2
    d = Direction("d", torch.randn(tiny_gen.w_dim, generator=torch.Generator().manual_seed(1)), sigma=1.0)
    far = w_distance(w[:16] + d.offset(8.0, tiny_gen.num_ws), stats)
    assert float(far.mean()) > 1.5 * float(sampled[:16].mean())


def _line_pipe(tiny_gen):
    from dynode.config import FitConfig, InversionConfig
    from dynode.io.images import to_uint8
    from dynode.pipelines import VideoPipeline
    from dynode.types import Frames
    w = tiny_gen.mapping(torch.randn(2, tiny_gen.w_dim, generator=torch.Generator().manual_seed(4)))
    a = torch.linspace(0, 1, 8)[:, None]
    with torch.no_grad():
        frames = Frames(to_uint8(tiny_gen.synthesis(w[0] * (1 - a) + w[1] * a)), torch.arange(8.0).double() / 8, 8.0)
    return VideoPipeline.from_frames(frames, tiny_gen, InversionConfig(steps=5, steps_first=20),
                                     fit=FitConfig(iters=20, subspace_dim=2))


def _mouth_and_skin(gen) -> tuple[Edit, Edit]:
    """A shape edit (its direction made for mouth_open) and a colour edit (made for skin), strength 3."""
    vectors = torch.randn(2, gen.w_dim, generator=torch.Generator().manual_seed(9))
    return (Edit(Direction("mouth", vectors[0], sigma=0.5, attribute="mouth_open"), 3.0),
            Edit(Direction("skin", vectors[1], sigma=0.5, attribute="skin"), 3.0))


def test_the_default_edit_draws_a_shape_on_every_frame_and_holds_a_colours_look(tiny_gen):
    pipe = _line_pipe(tiny_gen)
    t = pipe.trajectory.observed_times
    mouth, skin = _mouth_and_skin(tiny_gen)
    assert EditSpec().propagation == "auto" and skin.direction.appearance and not mouth.direction.appearance
    edit = lambda edits, mode: pipe.edit(EditSpec(propagation=mode), edits=edits, times=t).numpy()  # noqa: E731
    # A shape is drawn anew on every frame, the edit added to every code and kept where it changes the frame
    # clearly; a colour's look is held from the keyframe, over the same codes.
    plain = pipe.interpolate(times=t, fidelity="latent").numpy()
    shape = edit([mouth], "auto")
    np.testing.assert_array_equal(shape, np.concatenate(list(confine([plain], [edit([mouth], "per-frame")]))))
    assert not np.array_equal(shape, edit([mouth], "first-frame"))
    held = edit([skin], "auto")
    assert not np.array_equal(held, edit([skin], "per-frame")) and not np.array_equal(held, edit([skin], "keyframe"))
    both, each = edit([mouth, skin], "auto"), edit([mouth, skin], "per-frame")
    assert not np.array_equal(both, each)


def test_the_pipelines_keyframe_edit_renders_every_frame_and_defaults_to_the_first(tmp_path, tiny_gen):
    pipe = _line_pipe(tiny_gen)
    frames = pipe.frames
    d = Direction("d", torch.randn(tiny_gen.w_dim, generator=torch.Generator().manual_seed(9)), sigma=0.5)
    t = pipe.trajectory.observed_times
    keyed = pipe.edit(EditSpec(propagation="keyframe"), edits=[Edit(d, 3.0)], times=t).numpy()
    carried = pipe.edit(EditSpec(propagation="first-frame", steady=0), edits=[Edit(d, 3.0)], times=t).numpy()
    assert keyed.shape == carried.shape == (8, *frames.pixels.shape[1:])
    plain = pipe.interpolate(times=t, fidelity="latent").numpy().astype(np.float32)
    strong = np.abs(carried[0] - plain[0]).mean(-1) > 20  # well inside the region, the first frame is the edit
    np.testing.assert_allclose(keyed[0][strong], carried[0][strong], atol=40)
    assert not np.array_equal(keyed, carried)
    later = pipe.edit(EditSpec(propagation="keyframe", keyframes=(0.5,)), edits=[Edit(d, 3.0)], times=t).numpy()
    assert not np.array_equal(later, keyed)


def test_the_default_edit_raises_a_weak_edit_to_its_strength_in_tenths_of_the_range():
    # A video's codes answer a learned offset less than the generator's samples may: the default mode raises
    # an edit until the probe reads at least 90% of strength x 0.1 on average over the video's first, middle
    # and last frames; per-frame (the same codes, the strength as given) does not, and an edit already strong
    # enough is left as it is.
    from dynode.data.toyfaces import ToyFaceVideo
    from dynode.edit.modes import UNIT_CHANGE
    from dynode.io.images import from_uint8, to_uint8
    from dynode.metrics.attributes import ATTRIBUTES
    from dynode.pipelines import Models, VideoPipeline
    from dynode.types import Frames
    models = Models.from_pretrained("toyfaces64")
    times = torch.arange(6, dtype=torch.float64) / 4
    frames = Frames(to_uint8(ToyFaceVideo(11).render(times, 64)), times, 4.0)
    said = []
    pipe = VideoPipeline.from_frames(frames, models, InversionConfig(tune=False), fit=FitConfig(refine=0),
                                     log=said.append)
    keys = (0.0, 0.75, 1.25)
    plain = models.probe(from_uint8(pipe.interpolate(times=keys, path="exact", fidelity="latent").numpy()))
    for name, strength in (("glasses", 2.0), ("eye_open", -2.0)):
        column, moved = ATTRIBUTES.index(name), {}
        for mode in ("auto", "per-frame"):
            px = pipe.edit(EditSpec((name,), (strength,), propagation=mode, steady=0, times=keys)).numpy()
            moved[mode] = float((models.probe(from_uint8(px))[:, column] - plain[:, column]).mean())
        if name == "glasses":  # next to nothing as given: raised to the strength's amount, and the user is told
            assert moved["per-frame"] / (strength * UNIT_CHANGE) < 0.85 <= moved["auto"] / (strength * UNIT_CHANGE)
            assert any(line.startswith("auto: glasses +2 raised") for line in said), said
        else:  # already beyond it: left as it is (kept to where it changes the frame clearly)
            assert any(line.startswith("auto: eye_open -2 moves eye_open by -") and line.endswith("as asked")
                       for line in said), said
            assert abs(moved["auto"] - moved["per-frame"]) < 0.01 and moved["auto"] / (strength * UNIT_CHANGE) > 1, moved


def test_a_confined_edit_keeps_its_shape_and_drops_a_faint_tint_far_from_it():
    plain = np.full((1, 64, 64, 3), 100, np.uint8)
    edited = plain.copy()
    edited[0] += 3  # a faint tint of the whole frame
    edited[0, 28:36, 20:44] = 160  # a clear change: a mouth
    edited[0, 36:38, 20:44] = 106  # its faint edge
    out = next(confine([plain], [edited]))[0].astype(int)
    assert (out[28:36, 20:44] == 160).all()  # the shape is kept whole
    assert (out[36:38, 22:42] >= 105).all()  # and its faint edge next to it
    assert (out[:10] == 100).all() and (out[:, :6] == 100).all()  # the tint far from it is gone


def test_a_raise_says_what_the_default_did_to_the_strength():
    from dynode.edit.modes import Raise
    short = Raise("glasses", "glasses", 2.0, 3.0, 0.001, 0.02, 0.2)
    assert short.warning and "by +0.02 on this video (asked: +0.20) at 3.0x" in short.summary()
    raised = Raise("smile", "smile", 2.0, 1.5, 0.12, 0.21, 0.2)
    assert not raised.warning and raised.summary().startswith("auto: smile +2 raised 1.5x (to +3.00)")
    kept = Raise("eye_open", "eye_open", -2.0, 1.0, -0.3, -0.3, -0.2)
    assert not kept.warning and kept.summary().endswith("as asked")


def test_the_default_draws_a_colour_by_the_tuned_generator_and_a_shape_by_the_one_before(tiny_gen):
    # On a generator tuned to the video, the one before the tuning draws a shape edit's change (the tuned one
    # draws it weakly), but its edges do not sit where the tuned render's do: a colour is drawn by the tuned
    # generator itself, which leaves no light seam at the hair's edge; with a shape edit beside it, the shape's
    # change is drawn from the colour-edited codes.
    from dynode.edit.modes import MODES, PerFrame, Scene
    pipe = _line_pipe(tiny_gen)
    t = pipe.trajectory.observed_times
    mouth, skin = _mouth_and_skin(tiny_gen)
    before = tiny_gen  # stands for the generator before a tuning
    plans = {name: MODES["auto"].plan(Scene(pipe.trajectory, t, edits, EditSpec(), tiny_gen, before, None, "exact",
                                            False))
             for name, edits in (("colour", (skin,)), ("shape", (mouth,)), ("both", (mouth, skin)))}
    assert plans["colour"].base is None and plans["shape"].base is before and plans["both"].base is before
    assert plans["shape"].own is None
    np.testing.assert_allclose(plans["both"].own, PerFrame.propagate(pipe.trajectory, t, [skin], "exact"))
    first = MODES["first-frame"].plan(Scene(pipe.trajectory, t, (mouth, skin), EditSpec(), tiny_gen, before, None,
                                            "exact", False))
    assert first.base is before and first.own is None  # the other modes draw every change as before
