import contextlib
import io
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from dynode.metrics.attributes import ATTRIBUTES
from conftest import frame_count, image_size

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str) -> dict:
    """The JSON a benchmark prints, run as its command line would run it (``python benchmarks/SCRIPT ARGS``)
    but in this process, which has already imported torch and dynode."""
    out, path = io.StringIO(), ROOT / "benchmarks" / script
    saved = sys.argv, list(sys.path)
    sys.argv, sys.path[:0] = [str(path), *args], [str(path.parent)]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        assert not e.code, f"{script} exited with {e.code}"
    finally:
        sys.argv, sys.path[:] = saved
    return json.loads(out.getvalue())


@pytest.mark.slow
def test_generator_quality_benchmark_reports_and_draws(tiny_folder, tmp_path):
    out = tmp_path / "gq"
    report = _bench("generator_quality.py", "--generator", str(tiny_folder), "--videos", "1", "--frames", "2",
                    "--budgets", "2", "--out", str(out))
    assert set(report["results"]) == {"w+@2", "w@2"}
    entry = report["results"]["w+@2"]
    assert entry["psnr"]["min"] <= entry["psnr"]["mean"] and entry["stlpips"]["mean"] > 0 and entry["seconds_per_frame"] > 0
    assert set(entry["attribute_match"]) == {"smile", "eye_open", "roll"}
    assert report["targets"]["w+_psnr>=30"] is False  # an untrained generator cannot reach it
    assert json.loads((out / "generator_quality.json").read_text()) == report
    assert min(image_size(out / "samples.png")) >= 16 and min(image_size(out / "reconstructions.png")) >= 16


@pytest.mark.slow
def test_interpolation_benchmark_scores_every_method(tiny_folder, tmp_path):
    out = tmp_path / "interp"
    report = _bench("interpolation.py", "--generator", str(tiny_folder), "--seeds", "5", "--fps", "2", "--seconds", "4",
                    "--factor", "2", "--steps", "2", "--steps-first", "2", "--iters", "4", "--fit-frames", "0",
                    "--out", str(out))
    interp = report["summary"]["interpolation"]
    assert {"dynode", "dynode-detail", "dynode-initial", "dynode-cde", "paper", "linear", "slerp", "spline",
            "minterpolate", "dis_flow", "inversion"} <= set(interp)
    # The video's own detail carried along the path puts back what the untrained generator cannot draw.
    assert interp["dynode-detail"]["psnr"] > interp["dynode"]["psnr"] + 3
    assert interp["dis_flow"]["psnr"] > interp["linear"]["psnr"]  # an untrained generator loses to the real frames
    # auto checks the video's own kept frames and draws it as the candidate they choose (not the spline alone,
    # which an untrained generator cannot make match the real frames); the check is a share of the render.
    auto = report["auto"]
    assert auto["choices"] in (["flow"], ["blend"])
    assert set(auto["candidates_psnr"]) == {"spline", "flow", "blend", "fused"}
    assert interp["auto"]["psnr"] == pytest.approx(auto["candidates_psnr"][auto["choices"][0]], abs=0.01)
    assert auto["check_share_of_render"] > 0
    extrap = report["summary"]["extrapolation_first8"]
    assert {"dynode", "dynode-detail", "constant_velocity", "dynode-sde-mean16"} <= set(extrap)
    assert extrap["dynode-sde-mean16"]["spread_end"] > extrap["dynode-sde-mean16"]["spread_start"]
    # Pixel baselines see the real frames, so an untrained generator loses to them.
    assert report["targets"]["interp_beats_minterpolate"] is False
    assert "| dynode |" in (out / "interpolation.md").read_text() and min(image_size(out / "strip.png")) >= 16


@pytest.mark.slow
def test_editing_benchmark_scores_every_mode(tiny_folder, tmp_path):
    import torch

    from dynode.edit import Direction, save_directions
    from dynode.edit.directions import DIRECTIONS_FILE
    from dynode.generators import generator_id
    gid = generator_id(str(tiny_folder))
    save_directions(tiny_folder / DIRECTIONS_FILE, [Direction(n, torch.randn(16, generator=torch.Generator().manual_seed(i)),
                                                              attribute=n, generator_id=gid)
                                                    for i, n in enumerate(("skin", "smile"))])
    out = tmp_path / "edit"
    report = _bench("editing.py", "--generator", str(tiny_folder), "--seeds", "5", "--frames", "6", "--fps", "4",
                    "--edits", "skin:2", "smile:-1", "--steps", "2", "--steps-first", "2", "--iters", "4",
                    "--probe-free", "skin:2", "random:2", "--out", str(out))
    summary = report["summary"]
    assert {"skin/keyframe", "skin/first-frame", "smile/per-frame", "keyframe", "first-frame", "per-frame", "paper",
            "unedited", "motion pc0 x0.5", "motion pc0 x2"} <= set(summary)
    # exaggerating the main motion component moves the probe's motion attributes more than damping it
    assert summary["motion pc0 x2"]["amplitude_ratio"] > summary["motion pc0 x0.5"]["amplitude_ratio"]
    # the detail reconstruction is the source itself: its flicker is the source's own
    assert summary["unedited, detail"]["flicker"] == pytest.approx(1.0, abs=1e-3)
    assert len(summary["first-frame"]["success_by_quarter"]) == 4
    checks = {"colour_drift<=unedited+1", "shape_cv<=0.1_probe_and_judge", "leakage<=2", "flicker<=1.1x_unedited",
              "no_keyframe_at_a_bound", "6_frames_under_10s", "identity_and_motion_drift<=first_frame",
              "w_distance<=1.1x_first_frame", "seconds<=3x_first_frame"}
    assert {"auto", "keyframe", "first-frame", "locked"} <= set(report["targets"])
    assert all(set(t) == checks for t in report["targets"].values())
    assert {"skin/first-frame, detail", "unedited, detail", "skin/locked", "smile/locked, probe",
            "skin/first-frame, steady", "skin/locked, simple", "skin/locked, held", "smile/locked, detail"} <= set(summary)
    # the keyframe edit keeps the unedited frame outside the edit's region; the first-frame edit does not
    assert summary["skin/keyframe"]["leakage"] <= summary["skin/first-frame"]["leakage"]
    assert summary["first-frame"]["w_distance"] == summary["keyframe"]["w_distance"]  # the same latent edit
    # The default mode draws its edits from the codes of the edit added to every frame (neither is raised here: the
    # tiny generator's directions are not learned ones).
    assert all(summary[f"{n}/auto"]["w_distance"] == summary[f"{n}/per-frame"]["w_distance"] for n in ("skin", "smile"))
    # Without --judge the probe judges too: the same reading twice.
    assert summary["skin/locked"]["judge_change_cv"] == summary["skin/locked"]["change_cv"]
    # The probe-free check: an edit that changes the picture, on every frame, in every mode.
    modes = ("first-frame", "per-frame", "locked", "first-frame, steady", "locked, simple")
    assert all(summary[f"probe-free {d}/{m}"]["image_change_mean"] > 1 for m in modes for d in ("skin", "random"))
    assert "| probe-free edit |" in (out / "editing.md").read_text() and "probe-free/locked" in summary
    # The entanglement table: each edit against every attribute the judge reads, its own in bold.
    assert "| edit (auto) | smile | mouth_open |" in (out / "editing.md").read_text()
    assert set(summary["skin/auto"]["judge_attributes"]) == set(ATTRIBUTES) and summary["skin/auto"]["attribute"] == "skin"
    assert frame_count(out / "side_by_side_skin.mp4") == 6
    assert all(min(image_size(out / f"strip_{name}.png")) >= 16 for name in ("skin", "smile"))
    assert json.loads((out / "editing.json").read_text()) == report


@pytest.mark.slow
def test_real_clip_benchmark_scores_crops_full_frames_and_identity(tiny_folder, tmp_path):
    out = tmp_path / "real"
    report = _bench("real_clip.py", "--generator", str(tiny_folder), "--frames", "9", "--keep", "2", "--steps", "2",
                    "--steps-first", "2", "--pti-steps", "2", "--iters", "4", "--out", str(out))
    r = report["results"]["2"]
    assert r["kept"] == 5 and r["held_out"] == 4
    assert set(r["full_frame"]) == {"dynode", "dynode-detail", "auto-full-frame", "spline-detail", "dynode-ode-detail",
                                    "auto-spline", "spline-flow-blend", "spline-fused", "linear", "minterpolate",
                                    "dis_flow"}
    # auto, checked on the full frames: its row is the candidate it chose, as drawn
    choice = r["auto_choice_full_frame"]["method"]
    row = {"spline": "auto-spline", "flow": "dis_flow", "blend": "spline-flow-blend", "fused": "spline-fused"}[choice]
    assert r["full_frame"]["auto-full-frame"] == r["full_frame"][row]
    assert r["crops"]["dynode-detail"]["psnr"] > r["crops"]["dynode"]["psnr"] + 3
    assert r["full_frame"]["dis_flow"]["psnr"] > r["full_frame"]["dynode"]["psnr"]  # untrained generator vs real frames
    assert {"invert", "pti", "fit", "paste"} <= set(r["seconds"]) and "tl_id" in r["identity"]["dynode"]
    assert report["crop_paste_ceiling"]["psnr"] > 25
    assert min(image_size(out / "strip.png")) >= 16 and (out / "real_clip.json").is_file()


@pytest.mark.slow
def test_encoder_benchmark_scores_every_start_and_times_the_pipeline(tiny_folder, tmp_path):
    import torch

    from dynode.edit import Direction, save_directions
    from dynode.edit.directions import DIRECTIONS_FILE
    from dynode.generators import generator_id, load_generator
    from dynode.config.training import EncoderConfig
    from dynode.inversion.encoder import encoder_folder, train_encoder
    gen = load_generator(str(tiny_folder))
    train_encoder(gen, EncoderConfig(steps=5, batch=4), export=encoder_folder(gen))
    save_directions(tiny_folder / DIRECTIONS_FILE, [Direction("hair_color", torch.ones(16),
                                                              generator_id=generator_id(str(tiny_folder)))])
    out = tmp_path / "enc"
    report = _bench("encoder.py", "--generator", str(tiny_folder), "--frames", "3", "--fps", "4", "--steps", "2", "100",
                    "--tuning-steps", "5", "300", "--iters", "10", "--out", str(out))
    assert set(report["inversion"]) == {"optimisation alone (300/100 steps)", "encoder, 1 pass", "encoder, 3 passes",
                                        "encoder + 2 steps", "encoder + 100 steps (the default before tuning)",
                                        "encoder + tuning 5 steps", "encoder + tuning 300 steps (the default)"}
    assert set(report["pipeline_seconds"]) == {"invert", "fit", "interpolate_4x_detail", "edit"}
    assert report["outputs"] == {"interpolated_frames": 9, "edited_frames": 3}
    rows = report["inversion"]
    assert rows["optimisation alone (300/100 steps)"]["psnr"] > rows["encoder, 3 passes"]["psnr"]  # 5 steps' training
    assert rows["encoder + 100 steps (the default before tuning)"]["psnr"] > rows["encoder + 2 steps"]["psnr"]
    assert rows["encoder + tuning 300 steps (the default)"]["psnr"] > rows["encoder + tuning 5 steps"]["psnr"] + 1
    assert set(report["targets"]) >= {"encoder_alone_psnr>=28", "3_frames_end_to_end_at_most_15s"}
    assert (out / "encoder.md").is_file()


@pytest.mark.slow
def test_inversion_benchmark_scores_every_recipe_between_and_past_the_frames(tmp_path):
    report = _bench("inversion.py", "--seeds", "501", "--fps", "4", "--seconds", "2", "--factor", "2",
                    "--tuning-steps", "3", "60", "--long-frames", "0", "--out", str(tmp_path))
    rows = report["results"]["4"]
    assert set(rows) == {"optimised (encoder + 100 steps a frame)", "tuned 3", "tuned 60"}
    for row in rows.values():
        assert set(row) >= {"latent", "detail", "latent_ahead_psnr", "detail_ahead_psnr", "kept_psnr", "tuning_seconds"}
        assert set(row["detail"]) == {"psnr", "ssim", "stlpips", "flicker"}
    assert rows["optimised (encoder + 100 steps a frame)"]["tuning_seconds"] == 0
    assert rows["tuned 60"]["kept_psnr"] > rows["tuned 3"]["kept_psnr"] + 1  # the tuning's steps count
    assert (tmp_path / "inversion.md").is_file()


def test_scale_benchmark_times_the_bundled_generator():
    report = _bench("scale.py", "--resolutions", "--repeat", "1")
    (row,) = report["results"]
    assert row["generator"] == "toyfaces64" and row["resolution"] == 64 and row["parameters_m"] == 0.39
    assert row["inversion_s_per_frame"] > row["inversion_s_per_frame_encoder_20_steps"] > 0
    assert row["render_frames_per_s"] > 0 and row["peak_memory_mb"] > 0


@pytest.mark.slow
def test_shot_benchmark_finds_every_join_of_its_video(tmp_path):
    report = _bench("shots.py", "--seconds", "12", "--size", "320x180", "--repeat", "1", "--out", str(tmp_path))
    assert report["frames"] == 300 and report["joins"] == 2 == report["joins_found"] and report["other_cuts"] == 0
    assert 0 < report["detector_seconds"] and set(report["peak_rss_mb"]) == {"decode", "detect", "read"}
    assert report["size"] == "320x180" and (tmp_path / "long_320x180_12s.mp4").is_file()


def test_compare_reports_sees_a_changed_figure_and_not_a_changed_timing(tmp_path):
    before = {"summary": {"dynode": {"psnr": 30.1, "seconds": 1.0}}, "rows": [{"ssim": 0.9}]}
    same = {"summary": {"dynode": {"psnr": 30.1, "seconds": 2.5}}, "rows": [{"ssim": 0.9}]}
    moved = {"summary": {"dynode": {"psnr": 30.2, "seconds": 1.0}}, "rows": [{"ssim": 0.9}], "new": 1}
    for name, report in (("a", before), ("b", same), ("c", moved)):
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    script = [sys.executable, str(ROOT / "benchmarks" / "compare_reports.py"), str(tmp_path / "a.json")]
    done = subprocess.run([*script, str(tmp_path / "b.json")], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["identical"] == 2
    done = subprocess.run([*script, str(tmp_path / "c.json")], capture_output=True, text=True)
    result = json.loads(done.stdout)
    assert done.returncode == 1 and result["differing"] == {"summary.dynode.psnr": [30.1, 30.2]}
    assert result["only_after"] == ["new"]


def test_turn_back_benchmark_reports_every_field_on_both_paths():
    report = _bench("turn_back.py", "--fields", "mlp", "second_order", "--iters", "5")
    assert set(report["max_abs_error"]) == {"mlp", "second_order"}
    assert all(set(e) == {"initial", "exact"} for e in report["max_abs_error"].values())


def test_prior_ceiling_ranks_the_prior_against_the_naive_and_the_best_linear_predictors(tmp_path):
    import torch
    from safetensors.torch import save_file

    from dynode.pipelines import Models

    prior = Models.from_pretrained("toyfaces64").prior
    g = torch.Generator().manual_seed(0)
    t = torch.arange(256) / 8
    for video in range(16):  # each component a sum of three sinusoids of 0.1-0.6 Hz, as the toy world moves
        freq, phase = 0.1 + 0.5 * torch.rand(3, 32, generator=g), 6.28 * torch.rand(3, 32, generator=g)
        units = torch.sin(6.28 * freq[None] * t[:, None, None] + phase[None]).sum(1)
        codes = prior.mean + (units * prior.spread) @ prior.basis
        save_file({"codes": codes.reshape(256, *prior.latent_shape).contiguous()}, str(tmp_path / f"v{video}.safetensors"))
    report = _bench("prior_ceiling.py", "--codes", str(tmp_path), "--mlp-steps", "10")
    assert report["videos"] == 16 and report["held_out"] == 1
    for rate in ("4fps", "2fps", "1fps"):
        mse, motion = report["rates"][rate]["mse"], report["rates"][rate]["motion_only"]
        assert mse["prior"] < mse["hold_last"] and mse["empirical"] < mse["hold_last"]
        assert list(motion.values()) == sorted(motion.values())  # more noise, less seen ahead
    assert report["rates"]["4fps"]["motion_only"]["0.0"] < 0.2
    assert report["rates"]["4fps"]["mse"]["constant_velocity"] > report["rates"]["4fps"]["mse"]["hold_last"]


@pytest.mark.slow
def test_prior_benchmark_scores_every_row_and_the_futures_calibration(tiny_folder, tmp_path):
    import torch

    from dynode.config.training import PriorConfig
    from dynode.dynamics import train_prior
    from dynode.generators import load_generator

    gen = load_generator(str(tiny_folder))
    g = torch.Generator().manual_seed(0)
    codes = [(torch.arange(96, dtype=torch.float64) / 8, 0.3 * torch.randn(96, gen.num_ws, gen.w_dim, generator=g).cumsum(0))
             for _ in range(4)]
    train_prior(codes, PriorConfig(components=4, resonators=2, steps=5, batch=2, min_fps=1.0), export=tmp_path / "p",
                generator_id=gen.record.id)
    out = tmp_path / "bench"
    report = _bench("prior.py", "--generator", str(tiny_folder), "--priors", f"p={tmp_path / 'p'}", "--seeds", "5",
                    "--settings", "4fps", "--steps", "2", "--steps-first", "10", "--field-iters", "10",
                    "--iters", "3", "--no-speed", "--out", str(out))
    summary = report["summary"]["4fps"]
    methods = {"dynode", "p", "p-conditioned", "p-refined"}
    assert set(summary["extrapolation_first8"]) == {f"{m}{s}" for m in methods | {"hold_last", "constant_velocity"}
                                                    for s in ("", "-detail")}
    assert set(summary["interpolation"]) == {f"{m}{s}" for m in methods | {"spline"} for s in ("", "-detail")}
    calibration = summary["calibration"]
    assert set(calibration) == methods | {"hold_last"}
    assert all(0 <= calibration[m]["inside_80"] <= 1 for m in methods)
    assert 0 < summary["motion"]["kept"]["outside_prior_share"] < 1  # 4 components of 96-dimensional random walks
    ex = summary["extrapolation_first8"]
    assert report["targets"]["4fps_extrap_margin_over_dynode_and_hold_db"] == round(
        ex["p"]["psnr"] - max(ex["dynode"]["psnr"], ex["hold_last"]["psnr"]), 3)
    assert report["speed"] is None and len(report["per_video"]["4fps"]) == 1
    assert min(image_size(out / "futures.png")) >= 100 and (out / "prior.md").is_file()


def test_choice_margin_scores_each_hedge_by_what_it_loses(tmp_path):
    """Two videos: one where the check puts the spline 0.3 dB ahead of the blend but the blend is 0.5 dB better on
    the held-out frames, one where the spline is 2 dB ahead at the check and 1 dB better held out."""
    def video(check, held):
        rows = {name: {"psnr": p} for name, p in zip(("spline-detail", "dis_flow", "spline-flow-blend"), held)}
        return {"interpolation": {**rows, "auto": {"loo_scores": dict(zip(("spline", "flow", "blend", "fused"),
                                                                          (*check, 0.0)))}}}
    path = tmp_path / "interp" / "interpolation.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"seeds": [1, 2], "per_video": [video((30.3, 28.0, 30.0), (35.0, 33.0, 35.5)),
                                                               video((32.0, 28.0, 30.0), (36.0, 33.0, 35.0))]}))
    report = _bench("choice_margin.py", str(path), "--hedges", "0", "0.5", "3")
    assert report["videos"] == 2 and report["best_at_check"] == {"mean": 0.25, "worst": 0.5}
    assert report["hedge"]["0.5"] == {"mean": 0.0, "worst": 0.0}  # the blend for the first, the spline for the second
    assert report["hedge"]["3.0"] == {"mean": 0.5, "worst": 1.0}  # the blend for both
