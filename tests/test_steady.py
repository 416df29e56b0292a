"""Steady edits: the edit's change averaged along the video's motion."""

import numpy as np
import pytest

from dynode.edit.steady import radius, steady
from dynode.errors import InputError


def _moving(n=24, size=48, seed=0):
    """A textured picture sliding one pixel a frame to the right (the unedited renders), uint8 (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(40, 200, (size, size + n, 3)).astype(np.float32)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, 2, 1)) / 4  # some grain
    return np.stack([texture[:, n - t:n - t + size] for t in range(n)]).round().astype(np.uint8)


def _chunks(frames, size):
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def test_a_jittering_edit_is_steadied_and_its_slow_change_kept():
    plain = _moving()
    n = len(plain)
    rng = np.random.default_rng(1)
    ramp = np.linspace(20, 40, n)[:, None, None, None]  # the edit strengthens slowly over the video
    jitter = rng.normal(0, 8, (n, 1, 1, 1))  # and jumps from frame to frame
    edited = np.clip(plain + ramp + jitter, 0, 255).round().astype(np.uint8)
    out = np.concatenate(list(steady(_chunks(plain, 5), _chunks(edited, 7), 0.7, chunk=4)))
    assert out.shape == edited.shape and out.dtype == np.uint8
    inner = slice(4, -4)  # away from the sides, where the edges replicate under the motion
    change = lambda x: (x.astype(np.float32) - plain.astype(np.float32))[:, 8:-8, 8:-8].mean((1, 2, 3))  # noqa: E731
    before, after = change(edited), change(out)
    assert np.abs(np.diff(after[inner])).mean() < 0.5 * np.abs(np.diff(before[inner])).mean()
    assert abs(after[inner].mean() - before[inner].mean()) < 1.0
    assert np.corrcoef(after[inner], ramp.ravel()[inner])[0, 1] > 0.8  # the slow change passes


def test_strength_zero_chunks_and_bad_input():
    plain = _moving(n=10)
    edited = np.clip(plain.astype(int) + 30, 0, 255).astype(np.uint8)
    same = list(steady(_chunks(plain, 3), _chunks(edited, 4), 0.0, chunk=4))
    assert [len(c) for c in same] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(same), edited)
    # a constant edit on every frame stays that edit
    held = np.concatenate(list(steady(_chunks(plain, 3), _chunks(edited, 3), 0.8)))
    assert np.abs(held.astype(int) - edited.astype(int))[:, 8:-8, 8:-8].mean() < 1.0
    assert radius(0.0) == 0 and 1 <= radius(0.5) < radius(0.9) <= 8
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        radius(1.0)
    with pytest.raises(InputError, match="differ"):
        list(steady([plain], [edited[:, :20]], 0.5))


def test_frames_with_nothing_in_common_keep_their_own_change():
    rng = np.random.default_rng(2)
    plain = rng.integers(0, 256, (6, 32, 32, 3)).astype(np.uint8)  # every frame a new picture: no motion to follow
    edited = np.clip(plain.astype(int) + rng.integers(-30, 30, (6, 1, 1, 3)), 0, 255).astype(np.uint8)
    out = np.concatenate(list(steady([plain], [edited], 0.7)))
    assert np.abs(out.astype(int) - edited.astype(int)).mean() < 0.25 * np.abs(edited.astype(int) - plain).mean()
