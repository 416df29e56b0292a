"""Detail carried along the latent path (--fidelity detail)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from dynode.cli import app
from dynode.config import DetailConfig, FitConfig, InversionConfig
from dynode.detail import Detail
from dynode.dynamics import save_trajectory
from dynode.errors import InputError
from dynode.pipelines import VideoPipeline
from conftest import frame_count

FAST = dict(inversion=InversionConfig(steps=2, steps_first=3), fit=FitConfig(iters=5, subspace_dim=2))


def _blobs(shift: float, size: int = 32) -> np.ndarray:
    """A smooth scene (what a generator draws) shifted right by ``shift`` pixels."""
    y, x = np.mgrid[:size, :size].astype(np.float32)
    img = np.stack([128 + 90 * np.sin((x - shift) / 5), 128 + 90 * np.cos(y / 6), 128 + 60 * np.sin((x - shift + y) / 7)],
                   -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _grain(shift: int, size: int = 32) -> np.ndarray:
    """Fine texture (what a generator cannot draw) moving with the scene."""
    tex = np.random.default_rng(0).normal(0, 12, (size, size, 3)).astype(np.float32)
    return np.roll(tex, shift, axis=1)


def test_detail_reproduces_observed_frames_and_follows_the_motion_between_them():
    renders = np.stack([_blobs(0), _blobs(4)])
    frames = np.stack([np.clip(r + _grain(s), 0, 255).astype(np.uint8) for r, s in zip(renders, (0, 4))])
    detail = Detail(frames, renders, [0.0, 1.0])
    np.testing.assert_array_equal(detail.apply([0.0, 1.0], renders), frames)  # observed: the frames themselves
    middle = _blobs(2)
    truth = np.clip(middle + _grain(2), 0, 255).astype(np.float32)
    carried = detail.apply([0.5], middle[None])[0].astype(np.float32)
    inner = (slice(4, -4), slice(6, -6))  # away from the borders the texture enters and leaves by
    assert np.abs(carried - truth)[inner].mean() < 0.5 * np.abs(middle.astype(np.float32) - truth)[inner].mean()
    with pytest.raises(InputError, match="times"):
        Detail(frames, renders, [0.0])


def test_the_detail_fades_where_neither_neighbour_draws_what_the_render_draws():
    renders = np.stack([_blobs(0), _blobs(4)])
    frames = np.clip(renders.astype(np.float32) + 40.0, 0, 255).astype(np.uint8)  # a residual of +40 levels
    middle = _blobs(2)
    middle[10:20, 10:20] = 0  # new content (a dark square) that neither observation's render holds
    out = Detail(frames, renders, [0.0, 1.0]).apply([0.5], middle[None])[0].astype(np.float32)
    change = out - middle.astype(np.float32)
    assert np.abs(change[12:18, 12:18]).mean() < 10  # no residual painted over what is new
    assert np.abs(change[24:, 24:] - 40).mean() < 10  # the residual carried where the renders agree


def test_real_flow_takes_the_picture_from_the_real_frames_where_their_flow_holds_and_the_path_where_not():
    renders = np.stack([_blobs(0), _blobs(4)])
    frames = np.stack([np.clip(r + _grain(s), 0, 255).astype(np.uint8) for r, s in zip(renders, (0, 4))])
    truth = np.clip(_blobs(2) + _grain(2), 0, 255).astype(np.float32)
    late = _blobs(3)[None]  # the latent path's geometry, a pixel ahead of the truth
    inner = (slice(4, -4), slice(6, -6))
    error = {}
    for real_flow in (False, True):
        out = Detail(frames, renders, [0.0, 1.0], DetailConfig(real_flow=real_flow)).apply([0.5], late)[0]
        error[real_flow] = np.abs(out.astype(np.float32) - truth)[inner].mean()
    assert error[True] < 0.7 * error[False], error  # the real frames' own motion corrects the path's
    # Frames with nothing in common (a cut, new content): no consistent flow, the latent path's picture stays.
    other = np.stack([frames[0], np.ascontiguousarray(np.rot90(frames[1]))])
    fused = Detail(other, renders, [0.0, 1.0], DetailConfig(real_flow=True)).apply([0.5], late)[0].astype(np.float32)
    plain = Detail(other, renders, [0.0, 1.0]).apply([0.5], late)[0].astype(np.float32)
    assert np.abs(fused - plain).mean() < 0.25 * np.abs(fused - np.float32(0.5) * (other[0] + other[1].astype(np.float32))).mean()


def test_an_edit_keeps_only_the_fine_grain_where_it_changes_the_picture():
    renders = np.stack([_blobs(0), _blobs(0)])
    frames = np.clip(renders.astype(np.float32) + 40.0, 0, 255).astype(np.uint8)  # a flat, low-frequency residual
    detail = Detail(frames, renders, [0.0, 1.0])
    edited = np.clip(renders[:1].astype(np.float32) - 60, 0, 255).astype(np.uint8)
    out = detail.apply([0.5], renders[:1], edited)[0].astype(np.float32)
    # The flat offset would undo the edit; in the strongly edited picture it is dropped.
    assert np.abs(out - edited[0]).mean() < 10 < np.abs(out - frames[0]).mean()


def test_the_pipeline_renders_detail_for_interpolation_extrapolation_and_edits(tiny_folder, tiny_video, tmp_path):
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    observed = pipe.frames.pixels
    exact = pipe.interpolate(times=pipe.sequence.times, fidelity="detail").numpy()
    np.testing.assert_array_equal(exact, observed)  # the exact path's renders + residuals are the frames
    latent = pipe.interpolate(factor=2, fidelity="latent").numpy()
    detailed = pipe.interpolate(factor=2, fidelity="detail").numpy()
    # between the frames, the detail carried is about the size of the observed frames' own residuals
    residual = np.abs(observed.astype(int) - latent[::2]).mean()
    carried = np.abs(detailed[1::2].astype(int) - latent[1::2]).mean()
    assert detailed.shape == latent.shape and 0.5 * residual < carried < 1.5 * residual
    assert len(pipe.extrapolate(seconds=0.25, fps=8, fidelity="detail").numpy()) == 8
    d = pipe.direction(str(tmp_path / "dir.npy"))
    from dynode.edit import Edit
    edited = pipe.edit(edits=[Edit(d, 3.0)], fidelity="detail").numpy()
    assert edited.shape == observed.shape and np.abs(edited.astype(int) - observed).mean() > 1  # the edit shows
    with pytest.raises(InputError, match="fidelity"):
        pipe.interpolate(fidelity="sharp")


def test_a_missing_source_is_named_with_the_way_out(tiny_folder, tiny_video, tmp_path):
    import shutil
    shutil.copy(tiny_video, tmp_path / "clip.mp4")
    pipe = VideoPipeline.from_video(tmp_path / "clip.mp4", str(tiny_folder), **FAST)
    save_trajectory(tmp_path / "t.safetensors", pipe.trajectory)
    (tmp_path / "clip.mp4").unlink()
    r = CliRunner().invoke(app, ["interpolate", str(tmp_path / "t.safetensors"), "-o", str(tmp_path / "d.mp4"),
                                 "--fidelity", "detail"])
    assert r.exit_code == 2 and "clip.mp4, which is gone" in r.output and "--fidelity latent" in r.output
    assert not (tmp_path / "d.mp4").exists()
    r = CliRunner().invoke(app, ["interpolate", str(tmp_path / "t.safetensors"), "-o", str(tmp_path / "l.mp4"),
                                 "--fidelity", "latent"])
    assert r.exit_code == 0 and (tmp_path / "l.mp4").is_file()
    with pytest.raises(InputError, match="gone"):
        VideoPipeline.from_artifacts(tmp_path / "t.safetensors").reconstruction(fidelity="detail").numpy()


def test_auto_draws_each_stretch_by_its_own_method(tiny_folder, tiny_video):
    """A choice per stretch: each new time is the spline with detail, the real frames' flow, or their mean, as
    its stretch says, and the kept frames come back whatever the method."""
    from dataclasses import replace

    from dynode.choice import STRETCH_METHODS, mean
    from dynode.flow import flow_interpolate
    fitted = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    pipe = fitted.with_detail(DetailConfig(per_stretch=True))
    choice = pipe.choices()[0]
    observed = pipe.frames.pixels
    assert len(choice.stretches) == len(observed) - 1
    key = next(iter(pipe.cache.choices))
    pipe.cache.choices[key] = replace(choice, stretches=tuple(STRETCH_METHODS[i % 3] for i in range(len(observed) - 1)))
    out = pipe.interpolate(factor=2).numpy()
    times = pipe.sequence.times
    middle = (times[:-1] + times[1:]) / 2
    spline = pipe.interpolate(times=middle, path="spline", fidelity="detail").numpy()
    flow = flow_interpolate(observed, times, middle)
    expected = {"spline": spline, "flow": flow, "blend": mean(spline, flow)}
    for i in range(len(middle)):
        np.testing.assert_array_equal(out[2 * i + 1], expected[STRETCH_METHODS[i % 3]][i])
    assert np.abs(out[::2].astype(int) - observed).max() <= 1


def test_the_cli_chooses_per_stretch_when_asked(tiny_folder, tiny_video, tmp_path):
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    save_trajectory(tmp_path / "t.safetensors", pipe.trajectory)
    for flag, per_stretch in ((), False), (("--per-stretch",), True):
        r = CliRunner().invoke(app, ["interpolate", str(tmp_path / "t.safetensors"), "-o", str(tmp_path / "o.mp4"),
                                     "--factor", "2", *flag])
        assert r.exit_code == 0, r.output
        assert ("per stretch between kept frames:" in r.output) is per_stretch, r.output
        assert frame_count(tmp_path / "o.mp4") == 2 * len(pipe.sequence.times) - 1
