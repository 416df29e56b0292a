import numpy as np
import pytest
import torch
from PIL import Image

from dynode.errors import InputError
from dynode.io.video import read_video, resize_square, write_video


def _pixels(n=5, h=24, w=32):
    """n distinct smooth frames (a moving gradient), like video content."""
    y, x = np.mgrid[0:h, 0:w]
    frames = [np.stack([(x * 8 + 20 * i) % 256, (y * 10) % 256, np.full_like(x, 40 * i % 256)], -1) for i in range(n)]
    return np.stack(frames).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_read_round_trip_keeps_times(tmp_path, suffix):
    px = _pixels()
    write_video(tmp_path / f"v{suffix}", px, 10.0)
    frames = read_video(tmp_path / f"v{suffix}")
    assert len(frames) == 5 and frames.pixels.shape[1:] == (24, 32, 3)
    torch.testing.assert_close(frames.times, torch.arange(5, dtype=torch.float64) / 10, atol=2e-3, rtol=0)
    assert np.abs(frames.pixels.astype(int) - px).mean() < 8


def test_folder_of_images(tmp_path):
    for i, p in enumerate(_pixels(3)):
        Image.fromarray(p).save(tmp_path / f"{i:03d}.png")
    frames = read_video(tmp_path, fps=5)
    assert len(frames) == 3 and frames.times[-1].item() == pytest.approx(0.4)
    np.testing.assert_array_equal(frames.pixels[0], _pixels(3)[0])


def test_missing_unreadable_and_single_frame_videos(tmp_path):
    with pytest.raises(InputError, match="no such video"):
        read_video(tmp_path / "nope.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video")
    with pytest.raises(InputError, match="cannot decode"):
        read_video(tmp_path / "junk.mp4")
    write_video(tmp_path / "one.mp4", _pixels(1), 10.0)
    with pytest.raises(InputError, match="1 frame"):
        read_video(tmp_path / "one.mp4")


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(InputError):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8), np.uint8), 10.0)
    with pytest.raises(InputError, match="cannot write"):
        write_video(tmp_path / "x.avi", _pixels(2), 10.0)
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_are_written_and_resize_square(tmp_path):
    write_video(tmp_path / "odd.mp4", _pixels(3, 23, 31), 10.0)
    frames = read_video(tmp_path / "odd.mp4")
    assert frames.pixels.shape[1:] == (24, 32, 3)
    assert resize_square(frames, 16).pixels.shape == (3, 16, 16, 3)


@pytest.mark.parametrize("suffix,codec", [(".avi", "mpeg4"), (".mov", "libx264"), (".webm", "libvpx-vp9")])
def test_reads_other_containers(tmp_path, suffix, codec):
    import av
    px = _pixels(4, 24, 32)
    path = tmp_path / f"v{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for p in px:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(p, format="rgb24")))
        container.mux(stream.encode())
    frames = read_video(path)
    assert len(frames) == 4 and frames.pixels.shape[1:] == (24, 32, 3)
    torch.testing.assert_close(frames.times, torch.arange(4, dtype=torch.float64) / 12, atol=2e-3, rtol=0)
