import numpy as np
import pytest
import torch
from PIL import Image

from dynode.errors import InputError
from dynode.io.video import read_video, write_video


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


def test_odd_sizes_are_written_padded_to_even(tmp_path):
    write_video(tmp_path / "odd.mp4", _pixels(3, 23, 31), 10.0)
    frames = read_video(tmp_path / "odd.mp4")
    assert frames.pixels.shape == (3, 24, 32, 3)


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


def _av_video(path, frames, fps=10, rotation=None, audio_seconds=None):
    """An mp4 written with PyAV directly: optional display rotation and a 440 Hz mono AAC track."""
    import av
    from fractions import Fraction
    with av.open(str(path), mode="w") as c:
        v = c.add_stream("libx264", rate=Fraction(fps))
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=44100) if audio_seconds else None
        if a is not None:
            a.layout = "mono"
        for f in frames:
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode())
        if a is not None:
            n = int(44100 * audio_seconds)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)[None]
            for i in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, i:i + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = 44100, i
                c.mux(a.encode(af))
            c.mux(a.encode())


def _pattern(n=6, h=48, w=64):
    f = np.zeros((n, h, w, 3), np.uint8)
    f[:, :16, :16] = (255, 0, 0)  # a red block in the top-left corner
    f[:, :, :, 2] = np.linspace(0, 255, w, dtype=np.uint8)[None, None]
    return f


def test_rotation_metadata_is_applied_as_ffmpeg_does(tmp_path):
    import subprocess

    import imageio_ffmpeg
    _av_video(tmp_path / "rot.mp4", _pattern(), rotation=90)
    ours = read_video(tmp_path / "rot.mp4")
    assert ours.pixels.shape[1:3] == (64, 48)
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(tmp_path / "rot.mp4"), "-frames:v",
                          "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    theirs = np.frombuffer(raw, np.uint8).reshape(64, 48, 3)
    assert np.abs(ours.pixels[0].astype(int) - theirs).mean() < 4


def test_audio_is_carried_into_outputs(tmp_path):
    from dynode.io.video import VideoReader
    _av_video(tmp_path / "talk.mp4", _pattern(20), fps=10, audio_seconds=2.0)
    assert VideoReader(tmp_path / "talk.mp4").has_audio
    write_video(tmp_path / "out.mp4", _pattern(40), 20.0, audio=tmp_path / "talk.mp4")
    import av
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.audio, "no audio track in the output"
        heard = sum(f.samples for f in c.decode(c.streams.audio[0])) / 44100
    assert 1.8 < heard < 2.2
    write_video(tmp_path / "silent.mp4", _pattern(4), 10.0, audio=tmp_path / "out.mp4")  # shorter: cut


def _heard(path):
    """Seconds of audio in a file and the frequency (Hz) of its loudest tone."""
    import av
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(stream)])
        rate = stream.rate
    return len(samples) / rate, np.argmax(np.abs(np.fft.rfft(samples))) * rate / len(samples)


def test_slowed_audio_is_stretched_with_its_pitch_kept(tmp_path):
    from dynode.io.video import write_frames
    _av_video(tmp_path / "talk.mp4", _pattern(20), fps=10, audio_seconds=2.0)
    for stretch in (4.0, 0.5):  # slowed down 4x (two atempo 0.5 steps), sped up 2x
        n = int(20 * stretch)
        write_frames(tmp_path / "out.mp4", iter(_pattern(n)), 10.0, audio=tmp_path / "talk.mp4", audio_stretch=stretch)
        seconds, pitch = _heard(tmp_path / "out.mp4")
        assert abs(seconds - 2.0 * stretch) < 0.15 * stretch and abs(pitch - 440) < 10, (stretch, seconds, pitch)
    with pytest.raises(InputError, match="stretch must be positive"):
        write_frames(tmp_path / "bad.mp4", iter(_pattern(2)), 10.0, audio=tmp_path / "talk.mp4", audio_stretch=0)
    assert not (tmp_path / "bad.mp4").exists()


def test_streamed_writing_and_failures_leave_no_file(tmp_path):
    from dynode.io.video import VideoWriter
    with VideoWriter(tmp_path / "s.mp4", 10.0) as w:
        for chunk in np.array_split(_pattern(9), 3):
            w.write(chunk)
    assert len(read_video(tmp_path / "s.mp4")) == 9
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "broken.mp4", 10.0) as w:
            w.write(_pattern(2))
            raise RuntimeError("renderer crashed")
    with pytest.raises(InputError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", 10.0):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp4"]


def test_corrupt_data_mid_stream_is_skipped(tmp_path):
    frames = (np.random.default_rng(0).integers(0, 255, (30, 48, 64, 3))).astype(np.uint8)
    write_video(tmp_path / "ok.mp4", frames, 10.0)
    data = bytearray((tmp_path / "ok.mp4").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 2000] = bytes(2000)  # zero a stretch in the middle of the frame data
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    lines = []
    got = read_video(tmp_path / "bad.mp4", log=lines.append)
    assert len(got) >= 20 and got.pixels.shape[1:] == (48, 64, 3)
    (tmp_path / "cut.mp4").write_bytes(bytes(data[: len(data) * 3 // 4]))
    with pytest.raises(InputError):
        read_video(tmp_path / "cut.mp4")  # the index is at the end: a cut mp4 is not a video


def test_every_and_size_reduce_frames_as_they_are_decoded(tmp_path):
    write_video(tmp_path / "v.mp4", _pattern(9), 10.0)
    small = read_video(tmp_path / "v.mp4", every=3, size=16)
    assert small.pixels.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(small.times.numpy(), [0.0, 0.3, 0.6], atol=1e-6)


def test_variable_frame_rate_keeps_the_real_timestamps(tmp_path):
    import av
    from fractions import Fraction
    stamps = [0.0, 0.1, 0.15, 0.4, 0.45, 1.0]  # irregular: dropped and bunched frames
    with av.open(str(tmp_path / "vfr.mp4"), mode="w") as c:
        v = c.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        for f, t in zip(_pattern(len(stamps)), stamps):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = int(t * 1000), Fraction(1, 1000)
            c.mux(v.encode(frame))
        c.mux(v.encode())
    got = read_video(tmp_path / "vfr.mp4")
    np.testing.assert_allclose(got.times.numpy(), stamps, atol=2e-3)
