import numpy as np
import pytest
import torch

from dynode.data.toyfaces import ToyFaceVideo, render
from dynode.errors import InputError
from dynode.io.images import to_uint8
from dynode.metrics.attributes import edit_report, load_regressor
from dynode.metrics.consistency import flicker, identity_consistency


@pytest.fixture(scope="module")
def toy():
    """A 12-frame toy-face video (64 px) and its factors."""
    video = ToyFaceVideo(5)
    t = torch.linspace(0, 1.5, 12)
    return video.factors_at(t), video.render(t)


def test_flicker_is_one_for_the_source_and_grows_with_flicker(toy):
    _, frames = toy
    src = to_uint8(frames)
    assert flicker(src, src)["relative"] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    shift = rng.integers(-20, 21, size=(len(src), 1, 1, 1))
    flickering = np.clip(src.astype(int) + shift, 0, 255).astype(np.uint8)
    report = flicker(flickering, src)
    assert report["relative"] > 1.5 and report["source_warp_error"] == flicker(src, src)["warp_error"]
    # A frozen output does not follow the source's motion either: it scores worse than the source.
    frozen = np.repeat(src[:1], len(src), 0)
    assert flicker(frozen, src)["relative"] > 1.2
    with pytest.raises(InputError, match="frame for frame"):
        flicker(src[:-1], src)


def test_identity_consistency():
    same = torch.ones(5, 8)
    assert identity_consistency(same) == {"tl_id": 1.0, "tg_id": 1.0, "face_found": 1.0}
    gap = same.clone()
    gap[2] = float("nan")
    assert identity_consistency(gap)["face_found"] == 0.8 and identity_consistency(gap)["tl_id"] == 1.0
    drift = torch.stack([torch.ones(8) + 0.5 * k * torch.arange(8.0) for k in range(5)])
    scores = identity_consistency(drift, same)
    assert scores["tg_id"] < scores["tl_id"] < 1.0
    with pytest.raises(InputError, match="T>=2"):
        identity_consistency(torch.ones(1, 8))


def test_edit_report_reads_the_target_and_the_drift(toy):
    factors, frames = toy
    probe = load_regressor()
    darker = dict(factors, skin=(factors["skin"] + 0.4).clamp(max=1.0))
    if float((darker["skin"] - factors["skin"]).min()) < 0.3:
        darker["skin"] = (factors["skin"] - 0.4).clamp(min=0.0)
    edited = render(darker, 64)
    sign = float(torch.sign((darker["skin"] - factors["skin"]).mean()))
    report = edit_report(probe, edited, frames, frames, "skin", sign)
    assert report["success_rate"] == 1.0 and report["change_mean"] > 0.2
    assert report["motion_drift"] < 0.05 and report["motion_tolerance"] == 0.0
    assert edit_report(probe, edited, frames, frames, "skin", -sign)["success_rate"] == 0.0
    moved = dict(factors, tx=factors["tx"] + 0.05)
    assert edit_report(probe, render(moved, 64), frames, frames, "skin", sign)["motion_drift"] > report["motion_drift"]
    with pytest.raises(InputError, match="unknown attribute"):
        edit_report(probe, edited, frames, frames, "beard", 1)


def test_dlib_embeddings_are_stable_within_a_clip_and_nan_without_a_face(carphone):
    from dynode.io.video import read_video
    from dynode.metrics.identity import FaceEmbedder
    clip = read_video(carphone, max_frames=4)
    embed = FaceEmbedder()
    e = embed(clip.pixels)
    assert e.shape == (4, 128) and torch.isfinite(e).all()
    assert torch.isnan(embed(np.full_like(clip.pixels[:1], 128))).all()
    same = identity_consistency(e)
    assert same["tl_id"] > 0.9 and same["face_found"] == 1.0
