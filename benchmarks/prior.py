"""The motion prior against the per-video dynamics and the naive baselines at 4, 2 and 1 fps. Prints JSON.

For each kept rate (4 fps over 8 s, 2 fps over 16 s, 1 fps over 32 s: bench-interp's three
settings) and each toy-face video (seeds 101-103; priors train on seeds from 2,000,000), the first
three quarters are kept at that rate and inverted as the pipeline does, and the ground truth is
rendered at 4x the rate. Rows, the latent path rendered alone and (``-detail``) with the video's
own detail:
- interpolation, the held-out frames in between: spline, dynode (the default per-video field),
  each prior conditioned on the video as ``dynode fit`` does (past the end, a refined copy where a
  backtest on the video's last quarter says it forecasts better), ``-conditioned``: conditioned
  alone (``refine_ahead=0``), and ``-refined``: refined on the video everywhere (``--iters`` steps,
  50 by default, 0: none);
- extrapolation, the next 8 kept-rate frames: hold the last frame, constant velocity, dynode, each prior;
- calibration: the codes of those 8 future frames (the kept frames and these inverted as one video,
  so that they continue the kept codes) against the band holding the middle 80% of 64 sampled
  futures, per principal component of the first prior: the share inside (0.8 is calibrated), for
  each prior's futures and the default field's SDE; and the latent error of each path there;
- motion: the share of the kept codes' variance in time (in W) that lies outside the first prior's
  components, which a trajectory carries beside its path.
Also the seconds to condition a prior on a 100-frame video and to fit the default field to it, and a
figure of a prior's futures against the truth (``futures.png``).

    python benchmarks/prior.py --out bench_out/prior
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from common import inverted, save_report, scores, timed
from dynode.baselines import constant_velocity, spline
from dynode.config import FitConfig, InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.dynamics import load_prior, sample_future
from dynode.io.images import to_uint8
from dynode.pipelines import Models, VideoPipeline
from dynode.types import Frames

SETTINGS = {"4fps": (4.0, 8.0), "2fps": (2.0, 16.0), "1fps": (1.0, 32.0)}
FACTOR, SAMPLES = 4, 64


def _coverage(samples: torch.Tensor, truth: torch.Tensor, chart) -> float:
    """Share of (frame, component) where the truth lies in the samples' 10-90% band, in ``chart``'s coordinates."""
    z = chart.encode(samples.reshape(-1, *samples.shape[2:])).reshape(len(samples), len(truth), -1)
    lo, hi = torch.quantile(z, 0.1, dim=0), torch.quantile(z, 0.9, dim=0)
    zt = chart.encode(truth)
    return float(((zt >= lo) & (zt <= hi)).float().mean())


def run_video(models: Models, priors: dict, seed: int, fps: float, seconds: float, inv: InversionConfig,
              fit_cfg: FitConfig, iters: int, cache: Path | None, motion: float = 1.0) -> tuple[dict, dict]:
    """Every row's scores on one video, and the codes the futures figure needs."""
    dt = 1.0 / (fps * FACTOR)
    n_span = int(round(seconds * 0.75 * fps)) * FACTOR + 1
    t_all = torch.arange(int(round(seconds * fps)) * FACTOR + 1, dtype=torch.float64) * dt
    truth = ToyFaceVideo(seed, motion).render(t_all, models.generator.resolution)
    t_span, t_future = t_all[:n_span], t_all[n_span:]
    kept = list(range(0, n_span, FACTOR))
    held = [i for i in range(n_span) if i % FACTOR]
    first8 = list(range(FACTOR - 1, min(8 * FACTOR, len(t_future)), FACTOR))
    # The kept frames and the next 8 at the kept rate, inverted as one video: each frame's codes depend only on
    # those before it, so the kept codes are what inverting them alone gives, and the future codes (the truth of
    # the calibration) continue them as the video's own codes would.
    whole = inverted(models, seed, torch.cat([t_span[kept], t_future[first8]]), inv, cache, motion).sequence
    seq = replace(whole, times=whole.times[:len(kept)], latents=whole.latents[:len(kept)],
                  losses=whole.losses[:len(kept)], psnr=whole.psnr[:len(kept)])
    future_codes = whole.latents[len(kept):]
    pipe = VideoPipeline(models, seq, frames=Frames(to_uint8(truth[kept]), seq.times, fps))
    interp, extrap, calibration = {}, {}, {}

    def row(into, name, codes_at, times, target, rows, via=pipe, fit_s=0.0):
        for fidelity, suffix in (("latent", ""), ("detail", "-detail")):
            pix, secs = timed(lambda: via.render(codes_at(times), times, fidelity=fidelity).numpy())
            into[name + suffix] = scores(pix, target, rows, secs + fit_s)

    row(interp, "spline", lambda t: spline(seq.times, seq.latents, t), t_span, truth[:n_span], held)
    row(extrap, "hold_last", lambda t: seq.latents[-1:].expand(len(t), -1, -1), t_future, truth[n_span:], first8)
    chart = next(iter(priors.values())).chart()
    calibration["hold_last"] = {"latent_mse": float((chart.encode(seq.latents[-1:]) - chart.encode(
        future_codes)).pow(2).mean())}
    row(extrap, "constant_velocity", lambda t: constant_velocity(seq.times, seq.latents, t), t_future, truth[n_span:],
        first8)
    fitted = {"dynode": timed(lambda: pipe.fit(fit_cfg))}
    for name, prior in priors.items():
        via = VideoPipeline(replace(models, prior=prior), pipe.sequence, frames=pipe.frames)
        fitted[name] = timed(lambda: via.fit(FitConfig(field="prior", refine=0)))
        fitted[f"{name}-conditioned"] = timed(lambda: via.fit(FitConfig(field="prior", refine=0, refine_ahead=0)))
        if iters:
            fitted[f"{name}-refined"] = timed(lambda: via.fit(FitConfig(field="prior", refine=iters)))
    figure = {"future_times": t_future[first8], "future_codes": future_codes, "kept": seq.latents, "kept_times": seq.times}
    for name, (via, fit_s) in fitted.items():
        traj = via.trajectory
        row(interp, name, traj.evaluate, t_span, truth[:n_span], held, via, fit_s)
        row(extrap, name, traj.evaluate, t_future, truth[n_span:], first8, via, fit_s)
        futures = sample_future(traj, t_future[first8], SAMPLES, seed)
        calibration[name] = {"inside_80": _coverage(futures, future_codes, chart),
                             "latent_mse": float((chart.encode(traj.evaluate(t_future[first8])) - chart.encode(future_codes))
                                                 .pow(2).mean())}
        figure[name] = (traj.evaluate(t_future[first8]), futures)
    x, outside = seq.latents.flatten(1), chart.residual(seq.latents).flatten(1)
    motion = {"kept": {"outside_prior_share": float((outside - outside.mean(0)).pow(2).sum() / (x - x.mean(0)).pow(2).sum())}}
    return {"interpolation": interp, "extrapolation_first8": extrap, "calibration": calibration, "motion": motion}, figure


def _mean(per_video: list[dict]) -> dict:
    out = {}
    for task, methods in per_video[0].items():
        out[task] = {m: {k: round(float(np.mean([v[task][m][k] for v in per_video])), 4) for k in methods[m]}
                     for m in methods}
    return out


def markdown(summary: dict) -> str:
    lines = []
    for setting, tasks in summary.items():
        for task in ("interpolation", "extrapolation_first8"):
            lines += [f"**{setting}, {task}** (mean over videos)", "", "| method | PSNR dB | SSIM | ST-LPIPS | s/video |",
                      "|---|---|---|---|---|"]
            lines += [f"| {n} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['stlpips']:.4f} | {m['seconds']:.1f} |"
                      for n, m in tasks[task].items()]
            lines.append("")
        lines += [f"**{setting}, calibration**: truth inside the 80% band of {SAMPLES} futures (latent error of the "
                  "path, the prior's components): " + ", ".join(f"{n} {m.get('inside_80', float('nan')):.2f} ({m['latent_mse']:.3f})"
                                                               for n, m in tasks["calibration"].items()),
                  "", f"**{setting}, motion**: share of the kept codes' variance in time outside the prior's components: "
                  f"{tasks['motion']['kept']['outside_prior_share']:.3f}", ""]
    return "\n".join(lines)


def futures_figure(figure: dict, chart, name: str, out: Path) -> None:
    """The first two components of the prior's futures, its path and the truth past the last kept code."""
    from dynode.plots import _pyplot, _save
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    t_kept, t_future = figure["kept_times"].numpy(), figure["future_times"].numpy()
    kept, truth = chart.encode(figure["kept"]).numpy(), chart.encode(figure["future_codes"]).numpy()
    path, futures = figure[name]
    path = chart.encode(path).numpy()
    z = chart.encode(futures.reshape(-1, *futures.shape[2:])).reshape(len(futures), len(t_future), -1).numpy()
    for k, ax in enumerate(axes):
        ax.plot(t_kept, kept[:, k], "k.-", label="kept codes")
        for s in z[:16]:
            ax.plot(t_future, s[:, k], color="tab:blue", alpha=0.25, lw=0.8)
        ax.plot(t_future, path[:, k], color="tab:blue", label=f"{name}: path and 16 futures")
        ax.plot(t_future, truth[:, k], "r.-", label="truth (inverted future frames)")
        ax.set(xlabel="time (s)", ylabel=f"component {k + 1}", xlim=(t_future[0] - 4 * (t_future[1] - t_future[0]), None))
    axes[0].legend(fontsize=7)
    _save(fig, out)


def speed(models: Models, prior, inv: InversionConfig, fit_cfg: FitConfig, cache: Path | None) -> dict:
    """Seconds to condition the prior on, and to fit the per-video field to, a 100-frame video at 16 fps,
    each with its path evaluated half-way between every two frames (where the conditioning is first used)."""
    pipe = inverted(models, 4242, torch.arange(100, dtype=torch.float64) / 16, inv, cache)
    via = VideoPipeline(replace(models, prior=prior), pipe.sequence, frames=pipe.frames)
    times = pipe.sequence.times[:-1] + 1 / 32

    def prior_seconds(config: FitConfig) -> float:
        return round(timed(lambda: via.fit(config).trajectory.evaluate(times))[1], 3)

    return {"frames": 100, "prior_seconds": prior_seconds(FitConfig(field="prior")),
            "prior_conditioned_seconds": prior_seconds(FitConfig(field="prior", refine_ahead=0)),
            "dynode_seconds": round(timed(lambda: pipe.fit(fit_cfg).trajectory.evaluate(times))[1], 2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder")
    p.add_argument("--priors", nargs="*", default=[], metavar="NAME=FOLDER",
                   help="priors to compare (default: the generator's own, as 'prior')")
    p.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--steps", type=int, default=InversionConfig().steps, help="inversion steps a frame (after the encoder)")
    p.add_argument("--steps-first", type=int, default=InversionConfig().steps_first,
                   help="inversion steps of the first frame when the generator has no encoder")
    p.add_argument("--field-iters", type=int, default=FitConfig().iters, help="fitting iterations of the per-video field")
    p.add_argument("--iters", type=int, default=50,
                   help="also refine each prior on the video with this many steps (-refined rows; 0: none)")
    p.add_argument("--motion", type=float, default=1.0,
                   help="scale the videos' motion (1: the world the priors train on; other values test a setting they never saw)")
    p.add_argument("--no-speed", action="store_true", help="skip timing the conditioning of a 100-frame video")
    p.add_argument("--out", type=Path, default=None, help="folder for JSON, markdown, the figure and the inversion cache")
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = Models.from_pretrained(a.generator)
    priors = {n: load_prior(f, models.record.id) for n, f in (item.split("=", 1) for item in a.priors)}
    if not priors:
        if models.prior is None:
            p.error(f"{a.generator} has no motion prior; train one (dynode train-prior) or give --priors")
        priors = {"prior": models.prior}
    inv = InversionConfig(steps=a.steps, steps_first=a.steps_first)
    fit_cfg = FitConfig(field="mlp", iters=a.field_iters)
    cache = a.out / "cache" if a.out else None
    summary, per_setting, figure = {}, {}, None
    for setting in a.settings:
        fps, seconds = SETTINGS[setting]
        per_video = []
        for seed in a.seeds:
            result, fig = run_video(models, priors, seed, fps, seconds, inv, fit_cfg, a.iters, cache, a.motion)
            per_video.append(result)
            figure = figure or fig
            best = next(iter(priors))
            print(f"{setting} seed {seed}: extrapolation {best} {result['extrapolation_first8'][best]['psnr']:.2f} dB, "
                  f"dynode {result['extrapolation_first8']['dynode']['psnr']:.2f}, hold "
                  f"{result['extrapolation_first8']['hold_last']['psnr']:.2f}", file=sys.stderr)
        summary[setting], per_setting[setting] = _mean(per_video), per_video
    first = next(iter(priors))
    report = {"generator": a.generator, "priors": a.priors or ["prior=(the generator's own)"], "seeds": a.seeds,
              "motion": a.motion,
              "inversion": inv.to_dict(), "fit": fit_cfg.to_dict(), "summary": summary, "per_video": per_setting,
              "speed": None if a.no_speed else speed(models, priors[first], inv, fit_cfg, cache), "targets": {}}
    t = report["targets"]
    for setting, s in summary.items():
        ex, it = s["extrapolation_first8"], s["interpolation"]
        t[f"{setting}_extrap_prior_psnr"] = ex[first]["psnr"]
        t[f"{setting}_extrap_margin_over_dynode_and_hold_db"] = round(
            ex[first]["psnr"] - max(ex["dynode"]["psnr"], ex["hold_last"]["psnr"]), 3)
        t[f"{setting}_interp_prior_minus_spline_db"] = round(it[first]["psnr"] - it["spline"]["psnr"], 3)
        t[f"{setting}_interp_prior_detail_minus_spline_detail_db"] = round(
            it[f"{first}-detail"]["psnr"] - it["spline-detail"]["psnr"], 3)
        t[f"{setting}_calibration_inside_80"] = s["calibration"][first]["inside_80"]
    if "4fps" in summary:
        t["4fps_extrap_at_least_25db"] = summary["4fps"]["extrapolation_first8"][first]["psnr"] >= 25
    if "2fps" in summary:
        t["2fps_extrap_2db_above_dynode_and_hold"] = t["2fps_extrap_margin_over_dynode_and_hold_db"] >= 2
    if report["speed"]:
        t["conditioning_faster_than_default_fit"] = report["speed"]["prior_seconds"] < report["speed"]["dynode_seconds"]
    table = markdown(summary)
    print(table, file=sys.stderr)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        futures_figure(figure, priors[first].chart(), first, a.out / "futures.png")
        save_report(a.out, "prior", table, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
