import json

from conftest import frame_count, image_size

from dynode.config import FitConfig, InversionConfig
from dynode.dynamics import load_trajectory
from dynode.io.checkpoints import load_latents
from dynode.pipelines.demo import DemoConfig, run_demo


def test_demo_writes_every_output_and_metrics(tmp_path):
    cfg = DemoConfig(seconds=2.0, future=0.5, inversion=InversionConfig(steps_first=10, steps=3),
                     fit=FitConfig(iters=10))
    metrics = run_demo(tmp_path, cfg, log=lambda m: None)
    # 40 frames of truth (2.5 s at 16 fps), 8 given (every 4th of the first 2 s), 29 up to the last one given.
    counts = {"input.mp4": 40, "reconstruction.mp4": 8, "interpolation_8x.mp4": 7 * 8 + 1, "extrapolation.mp4": 40,
              "edit_hair_color.mp4": 40, "edit_smile.mp4": 40, "comparison.mp4": 29}
    assert {name: frame_count(tmp_path / name) for name in counts} == counts
    assert min(image_size(tmp_path / "trajectory.png")) >= 200 and min(image_size(tmp_path / "edit_hair_color.png")) >= 200
    assert image_size(tmp_path / "edit_hair_color_strip.png") == (6 * 64 * 3, 6 * 64 * 3)  # 6 times x (unedited + 5 modes)
    assert image_size(tmp_path / "teaser.png") == (9 * 64 * 2, 4 * 64 * 2)  # 2 kept intervals x 4 rows
    assert len(load_latents(tmp_path / "latents.safetensors")) == 8
    assert load_trajectory(tmp_path / "trajectory.safetensors").observed.shape[0] == 8
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics.to_dict()
    held = on_disk["held_out_interpolation"]  # the summary line: the default output and the latent path vs baselines
    line, metrics_line, shape_text = metrics.headline(), metrics.edit_line(), metrics.shape_line()
    for name, key in (("dynode", "default"), ("the dynamics' latent path", "ode"), ("linear", "linear"), ("DIS flow", "dis_flow")):
        assert f"{name} {held[key]['psnr']:.2f} dB" in line, line
    metrics = on_disk
    assert metrics["video"] == {"seed": 7, "fps": 16.0, "frames": 40, "observed": 8, "held_out": 21, "future": 11,
                                "resolution": 64}
    held = metrics["held_out_interpolation"]  # the kept frames' own detail, carried, beats the bare renders
    assert held["ode_detail"]["psnr"] > held["ode"]["psnr"] + 1
    edit = metrics["edit"]
    for mode in ("auto", "keyframe", "ode", "per_frame", "locked"):  # hair_color +2 lightens the hair in every mode
        assert edit[mode]["attribute_change_mean"] > 0.05, edit
    # The keyframe edit holds the first frame's colour (its drift within 1 Delta-E of the unedited region's
    # own, its hue steadier than the edit carried by the dynamics) and keeps out of the rest of the picture.
    look, carried = edit["keyframe"]["look"], edit["ode"]["look"]
    assert look["colour_drift"] <= look["unedited_drift"] + 1.0, edit
    assert look["hue_range"] < carried["hue_range"] / 2 and look["leakage"] < carried["leakage"] / 2, edit
    assert f"keyframe {look['colour_drift']:.1f}" in metrics_line
    default = edit["auto"]["look"]  # the default holds the colour too, drawn by the tuned generator itself
    assert default["colour_drift"] <= default["unedited_drift"] + 1.0 and f"auto {default['colour_drift']:.1f}" in metrics_line
    assert set(metrics["stage_seconds"]) >= {"invert", "fit", "interpolate", "extrapolate", "edit",
                                             "edit_shape"}
    shape = metrics["shape_edit"]  # smile +2 in the default mode: the mouth drawn anew, smiling, on every frame
    assert shape["direction"] == "smile" and shape["mode"] == "auto" and shape["attribute_change_mean"] > 0.1, shape
    assert f"probe change {shape['attribute_change_mean']:+.2f}" in shape_text, shape
