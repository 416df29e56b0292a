import re

import numpy as np
import pytest

from dynode.align import Alignment, align_video, face_mask, paste, paste_at
from dynode.errors import InputError
from dynode.io.crops import matrices
from dynode.io.video import read_video
from dynode.types import Frames


@pytest.fixture(scope="module")
def clip(carphone):
    return read_video(carphone, max_frames=12)


@pytest.fixture(scope="module")
def aligned(clip):
    return align_video(clip, 64, sigma=2.0)


def test_crops_are_faces_and_paste_back_restores_the_frames(clip, aligned):
    alignment, crops = aligned
    assert crops.pixels.shape == (12, 64, 64, 3) and alignment.found.sum() >= 10
    assert np.isfinite(alignment.quads).all() and alignment.frame_shape == (144, 176)
    # The crop is centred on the face: the landmarks' centre maps near the crop's middle.
    m = matrices(alignment)[0]
    centre = m @ np.append(alignment.landmarks[0].mean(0), 1.0)
    assert np.all(np.abs(centre - 32) < 10)
    back = paste(clip.pixels, crops.pixels, alignment)
    assert back.shape == clip.pixels.shape
    assert np.abs(back.astype(float) - clip.pixels).mean() < 3  # only resampling of the face changes
    dark = paste(clip.pixels, np.zeros_like(crops.pixels), alignment)
    changed = np.abs(dark.astype(int) - clip.pixels).sum(-1) > 30
    assert 0.05 < changed.mean() < 0.5  # the face region, not the whole frame
    # the frame's own detail finer than the 64 px crop, kept under the face: its own crop gives the frame back
    assert np.abs(paste(clip.pixels, crops.pixels, alignment, fine=1.0).astype(float) - clip.pixels).max() <= 1
    half = paste(clip.pixels, np.zeros_like(crops.pixels), alignment, opacity=0.5)  # auto's blend in full frames
    assert np.abs(half.astype(float) - (dark.astype(float) + clip.pixels) / 2).max() <= 1


def test_smoothing_steadies_the_crop(clip):
    raw, _ = align_video(clip, 64, sigma=0)
    smooth, _ = align_video(clip, 64, sigma=3)
    jitter = lambda a: np.abs(np.diff(a.quads, axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < jitter(raw)


def test_frames_without_a_face_are_interpolated_and_no_face_is_an_error(clip):
    pixels = clip.pixels.copy()
    pixels[5] = 128  # a blank frame mid-video
    alignment, _ = align_video(Frames(pixels, clip.times, clip.fps), 64, sigma=0)
    assert not alignment.found[5] and alignment.found[4] and alignment.found[6]
    assert np.all(np.minimum(alignment.quads[4], alignment.quads[6]) - 1e-6 <= alignment.quads[5])
    assert np.all(alignment.quads[5] <= np.maximum(alignment.quads[4], alignment.quads[6]) + 1e-6)
    with pytest.raises(InputError, match="no face found"):
        align_video(Frames(np.full_like(pixels, 128), clip.times, clip.fps), 64)


def test_the_largest_of_several_faces_is_used(clip):
    import cv2
    small = np.stack([cv2.resize(p, (132, 108), interpolation=cv2.INTER_AREA) for p in clip.pixels[:2]])
    canvas = np.full((2, 144, 176 + 132, 3), 90, np.uint8)
    canvas[:, :, :176] = clip.pixels[:2]
    canvas[:, 18:18 + 108, 176:] = small
    lines = []
    alignment, _ = align_video(Frames(canvas, clip.times[:2], clip.fps), 64, sigma=0, log=lines.append)
    assert alignment.quads[0, 0] < 176 and "several faces" in lines[0]


def test_alignment_interpolates_in_time_and_round_trips(clip, aligned):
    alignment, crops = aligned
    mid = (alignment.times[0] + alignment.times[1]) / 2
    between = alignment.at([mid])
    np.testing.assert_allclose(between.quads[0], alignment.quads[:2].mean(0))
    again = Alignment.from_dict(alignment.to_dict())
    np.testing.assert_allclose(again.quads, alignment.quads, atol=1e-3)
    out = paste_at(clip, crops.pixels[:3], alignment, [0.0, mid, alignment.times[1]])
    assert out.shape == (3, 144, 176, 3)
    mask = face_mask(alignment.landmarks[0], (144, 176), feather=4)
    assert mask.max() == pytest.approx(1.0, abs=1e-3) and mask[0, 0] == 0


@pytest.mark.slow
def test_cli_full_frame_from_a_real_video(tmp_path, clip):
    from typer.testing import CliRunner

    from dynode.cli import app
    from dynode.io.video import write_video
    write_video(tmp_path / "clip.mp4", clip.pixels[:6], 10.0)
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    fast = ("--steps", 2, "--steps-first", 4)
    r = run("interpolate", tmp_path / "clip.mp4", "--align", "--full-frame", "--factor", 2, "-o", tmp_path / "o.mp4",
            *fast, "--iters", 5, "--pti", "--pti-steps", 2)
    assert r.exit_code == 0, r.output
    out = read_video(tmp_path / "o.mp4")
    assert out.pixels.shape == (11, 144, 176, 3)
    # auto checked the hidden kept frames as full frames, and a generator this far from real faces does not
    # beat the real frames' flow there: the source's frames flowed, alone or with the face at half opacity
    # (the kept ones as they were)
    assert re.search(r"auto: (flow|blend) \(leave-one-out PSNR on 4 kept frames", r.output), r.output
    source = read_video(tmp_path / "clip.mp4").pixels
    assert np.abs(out.pixels[::2].astype(int) - source.astype(int)).mean() < 2
    r = run("invert", tmp_path / "clip.mp4", "--align", "-o", tmp_path / "a.safetensors", *fast)
    assert r.exit_code == 0, r.output
    r = run("fit", tmp_path / "a.safetensors", "-o", tmp_path / "t.safetensors", "--iters", 5)
    assert r.exit_code == 0, r.output
    r = run("edit", tmp_path / "t.safetensors", "-d", "skin", "--full-frame", "-o", tmp_path / "e.mp4")
    assert r.exit_code == 0, r.output
    assert read_video(tmp_path / "e.mp4").pixels.shape == (6, 144, 176, 3)
    # Detail (the default) from the aligned crops of the source, read again from the file: the frames come back.
    r = run("interpolate", tmp_path / "t.safetensors", "--full-frame", "--factor", 1, "-o", tmp_path / "d.mp4")
    assert r.exit_code == 0, r.output
    latent = run("interpolate", tmp_path / "t.safetensors", "--full-frame", "--factor", 1, "--fidelity", "latent",
                 "-o", tmp_path / "l.mp4")
    assert latent.exit_code == 0, latent.output
    truth = clip.pixels[:6].astype(float)
    detail_err = np.abs(read_video(tmp_path / "d.mp4").pixels.astype(float) - truth).mean()
    # Both share the mp4 codec's error on the whole picture, so the ratio cannot fall far (0.57 measured).
    assert detail_err < 0.7 * np.abs(read_video(tmp_path / "l.mp4").pixels.astype(float) - truth).mean()
    r = run("invert", tmp_path / "clip.mp4", "--resize", "-o", tmp_path / "p.safetensors", *fast)
    r = run("fit", tmp_path / "p.safetensors", "-o", tmp_path / "pt.safetensors", "--iters", 5)
    r = run("interpolate", tmp_path / "pt.safetensors", "--full-frame", "-o", tmp_path / "x.mp4")
    assert r.exit_code == 2 and "--align" in r.output and not (tmp_path / "x.mp4").exists()


def test_streaming_from_the_file_matches_the_in_memory_path(tmp_path, clip, aligned):
    from dynode.align import paste_stream
    from dynode.io.video import VideoReader, write_video
    write_video(tmp_path / "c.mp4", clip.pixels, clip.fps)
    in_memory = read_video(tmp_path / "c.mp4")
    a_mem, crops_mem = align_video(in_memory, 64, sigma=2.0, every=2)
    a_file, crops_file = align_video(VideoReader(tmp_path / "c.mp4"), 64, sigma=2.0, every=2)
    np.testing.assert_allclose(a_file.quads, a_mem.quads)
    np.testing.assert_array_equal(crops_file.pixels, crops_mem.pixels)
    assert len(a_file.quads) == 6
    times = np.linspace(0, float(a_mem.times[-1]), 11)
    faces = np.repeat(crops_mem.pixels[:1], 11, 0)
    streamed = np.stack(list(paste_stream(VideoReader(tmp_path / "c.mp4"), iter(faces), a_file, times, every=2)))
    np.testing.assert_array_equal(streamed, paste_at(in_memory.select(slice(None, None, 2)), faces, a_mem, times))
    with pytest.raises(InputError, match="increasing"):
        next(paste_stream(in_memory, iter(faces), a_mem, times[::-1]))
