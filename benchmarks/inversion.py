"""The inversion recipes against each other, on frames the inversion never saw. Prints JSON.

Toy-face videos of seeds outside every other benchmark (``--seeds``) are rendered at ``--factor``
x the working rate (``--fps``, one run per rate given). Every ``factor``-th frame of the first
three quarters is kept and inverted by each recipe:

- ``optimised``: the encoder's code then 100 Adam steps a frame, the generator as it is (the
  default before tuning was; ``--steps 100 --no-pti``);
- ``tuned N``: the encoder's codes as they are, then one pivotal tuning of the generator for the
  whole video, N steps (``--steps 0 --pti-steps N``; the default recipe for a generator with an
  encoder), with ``--locality-every 1`` also a row whose locality term is taken every step.

Each recipe's codes are fitted with the default fit (the motion prior where the generator has
one), then the held-out frames between the kept ones are rendered at their exact times along the
default path, by the generator alone (``latent``) and with the video's own detail (``detail``, the
default output), and the next 8 working-rate frames past the last kept one (the extrapolation).
Scores: PSNR, SSIM, ST-LPIPS against the truth, flicker (warping error of the full-rate output
along the truth's DIS flow, relative to the truth's own), the reconstruction PSNR at the kept
frames, and the seconds of inversion + fit. A last section times inversion + fit of a longer
video (``--long-frames`` at 12 fps) with the former default and the default.

    python benchmarks/inversion.py --out bench_out/inversion
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from common import save_report, scores, timed
from dynode.config import FitConfig, InversionConfig, PTIConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.io.images import to_uint8
from dynode.metrics.consistency import flicker, source_flows
from dynode.pipelines import Models, VideoPipeline
from dynode.types import Frames

FORMER = "optimised (encoder + 100 steps a frame)"


def recipes(steps: list[int], locality_every: list[int]) -> dict[str, InversionConfig]:
    """The recipes by row name."""
    out = {FORMER: InversionConfig(steps=100, tune=False)}
    for n in steps:
        for every in locality_every:
            tuning = PTIConfig(steps=n, locality_every=every)
            mark = "" if every == PTIConfig().locality_every else f", locality every {every}"
            default = " (the default)" if tuning == InversionConfig().tuning and not mark else ""
            out[f"tuned {n}{mark}{default}"] = InversionConfig(steps=0, tuning=tuning)
    return out


def run_video(models: Models, seed: int, fps: float, seconds: float, factor: int, fit: FitConfig,
              configs: dict[str, InversionConfig]) -> dict:
    """Every recipe's scores on one video."""
    dt = 1.0 / (fps * factor)
    n_span = int(round(seconds * 0.75 * fps)) * factor + 1
    n_all = int(round(seconds * fps)) * factor + 1
    t_all = torch.arange(n_all, dtype=torch.float64) * dt
    truth = ToyFaceVideo(seed).render(t_all, models.generator.resolution)
    truth_px = to_uint8(truth)
    kept = list(range(0, n_span, factor))
    held = [i for i in range(n_span) if i % factor]
    ahead = list(range(n_span + factor - 1, min(n_span + 8 * factor, n_all), factor))
    frames = Frames(truth_px[kept], t_all[kept], fps)
    flows = source_flows(truth_px[:n_span])
    rows = {}
    for name, cfg in configs.items():
        pipe, secs = timed(lambda: VideoPipeline.from_frames(frames, models, cfg, fit=fit, log=lambda _: None))
        tuning = pipe.sequence.tuning
        row = {"invert_fit_seconds": round(secs, 2), "tuning_seconds": tuning.seconds if tuning else 0.0,
               "kept_psnr": round(float(pipe.sequence.psnr.mean()), 3)}
        for fidelity in ("latent", "detail"):
            px = pipe.interpolate(times=t_all[:n_span].tolist(), fidelity=fidelity).numpy()
            s = scores(px, truth[:n_span], held, 0.0)
            row[fidelity] = {k: round(s[k], 4) for k in ("psnr", "ssim", "stlpips")}
            row[fidelity]["flicker"] = flicker(px, truth_px[:n_span], flows)["relative"]
            fut = pipe.extrapolate(seconds=float(t_all[ahead[-1]] - t_all[kept[-1]]) + 1e-6, fps=fps * factor,
                                   fidelity=fidelity).numpy()[n_span:]
            rows_ahead = [i - n_span for i in ahead]
            row[f"{fidelity}_ahead_psnr"] = round(scores(fut, truth[n_span:n_span + len(fut)], rows_ahead, 0.0)["psnr"], 3)
        rows[name] = row
        print(f"seed {seed} at {fps:g} fps, {name}: {json.dumps(row)}", file=sys.stderr)
    return rows


def _mean(per_video: list[dict]) -> dict:
    def avg(values):
        if isinstance(values[0], dict):
            return {k: avg([v[k] for v in values]) for k in values[0]}
        return round(float(np.mean(values)), 4)
    return {name: avg([v[name] for v in per_video]) for name in per_video[0]}


def markdown(results: dict, long: dict) -> str:
    lines = []
    for rate, rows in results.items():
        lines += [f"**{rate} fps kept** (mean over videos; held-out frames between the kept ones)", "",
                  "| inversion | latent PSNR / SSIM / ST-LPIPS / flicker | with detail PSNR / SSIM / ST-LPIPS / flicker "
                  "| next 8, latent / detail PSNR | PSNR at the kept frames | s invert + fit (tuning) |",
                  "|---|---|---|---|---|---|"]
        for name, r in rows.items():
            cell = lambda f: f"{r[f]['psnr']:.2f} / {r[f]['ssim']:.4f} / {r[f]['stlpips']:.4f} / {r[f]['flicker']:.3f}"  # noqa: E731
            lines.append(f"| {name} | {cell('latent')} | {cell('detail')} | {r['latent_ahead_psnr']:.2f} / "
                         f"{r['detail_ahead_psnr']:.2f} | {r['kept_psnr']:.2f} | {r['invert_fit_seconds']:.1f} "
                         f"({r['tuning_seconds']:.1f}) |")
        lines.append("")
    if long:
        lines += [f"**{long['frames']} frames, inversion + fit**", "",
                  "| inversion | seconds (tuning) | PSNR at the frames |", "|---|---|---|"]
        lines += [f"| {k} | {v['seconds']:.1f} ({v['tuning_seconds']:.1f}) | {v['psnr']:.2f} |"
                  for k, v in long["rows"].items()]
        lines.append(f"\nspeed-up of the default: {long['speedup']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder (with an encoder)")
    p.add_argument("--seeds", type=int, nargs="*", default=[501, 502, 503])
    p.add_argument("--fps", type=float, nargs="+", default=[4.0, 2.0], help="working frame rates, one run each")
    p.add_argument("--seconds", type=float, default=8.0, help="video length; the last quarter lies past the end")
    p.add_argument("--factor", type=int, default=4, help="ground truth at this multiple of the working rate")
    p.add_argument("--tuning-steps", type=int, nargs="+", default=[100, 200, 300])
    p.add_argument("--locality-every", type=int, nargs="+", default=[PTIConfig().locality_every],
                   help="the tuning's locality term every k steps, one row each")
    p.add_argument("--long-frames", type=int, default=120, help="time inversion + fit of this many frames (0: skip)")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON and markdown")
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = Models.from_pretrained(a.generator)
    fit = FitConfig()
    configs = recipes(a.tuning_steps, a.locality_every)
    results = {f"{fps:g}": _mean([run_video(models, s, fps, a.seconds, a.factor, fit, configs) for s in a.seeds])
               for fps in a.fps}
    long = {}
    if a.long_frames:
        times = torch.arange(a.long_frames, dtype=torch.float64) / 12.0
        frames = Frames(to_uint8(ToyFaceVideo(a.seeds[0] + 100).render(times, models.generator.resolution)), times, 12.0)
        rows = {}
        for name, cfg in ((FORMER, configs[FORMER]), ("the default", InversionConfig())):
            pipe, secs = timed(lambda: VideoPipeline.from_frames(frames, models, cfg, fit=fit, log=lambda _: None))
            tuning = pipe.sequence.tuning
            rows[name] = {"seconds": round(secs, 2), "tuning_seconds": tuning.seconds if tuning else 0.0,
                          "psnr": round(float(pipe.sequence.psnr.mean()), 3)}
        long = {"frames": a.long_frames, "rows": rows,
                "speedup": round(rows[FORMER]["seconds"] / rows["the default"]["seconds"], 2)}
    report = {"generator": a.generator, "seeds": a.seeds, "seconds": a.seconds, "factor": a.factor,
              "recipes": {k: v.to_dict() for k, v in configs.items()}, "results": results, "long": long}
    table = markdown(results, long)
    print(table, file=sys.stderr)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        save_report(a.out, "inversion", table, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
