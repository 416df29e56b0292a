"""A passage the generator cannot draw: auto's choice for the whole span against a choice per stretch. Prints JSON.

Toy-face videos with fixed seeds are rendered at ``factor`` x the working frame rate, and over
the middle ``--occluded`` share of each a skin-coloured disc (a hand) slides across the face: a
thing the toy generator never draws. Every ``factor``-th frame is kept and given to dynode (the
default inversion and fit); the frames in between are predicted and scored against the truth
(PSNR, SSIM, ST-LPIPS). Rows: the candidates ``auto`` chooses among (``spline-detail``,
``dis_flow``, ``spline-flow-blend``), ``auto`` (one way for the whole span, the default) and
``auto-per-stretch`` (``DetailConfig(per_stretch=True)``: each stretch between kept frames its
own way, from the checks around it); the choices are reported per video, the stretches as a
string of initials (s spline, f flow, b blend), and the PSNR inside and outside the occluded
passage.

    python benchmarks/occluded.py --out bench_out/occluded
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from common import save_report, scores, timed
from dynode.choice import mean
from dynode.config import DetailConfig, FitConfig, InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.flow import flow_interpolate
from dynode.io.images import from_uint8, save_grid, to_uint8
from dynode.metrics import psnr
from dynode.pipelines import Models, VideoPipeline
from dynode.types import Frames

ROWS = ("spline-detail", "dis_flow", "spline-flow-blend", "auto", "auto-per-stretch")


def occluded_video(seed: int, times: torch.Tensor, resolution: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (T, R, R, 3) frames of toy-face video ``seed`` with a disc sliding across the face over the middle
    ``share`` of the times, and bool (T,) where it shows."""
    frames = to_uint8(ToyFaceVideo(seed).render(times, resolution))
    yy, xx = np.mgrid[0:resolution, 0:resolution]
    start, length = float(times[-1]) * (1 - share) / 2, float(times[-1]) * share
    shown = np.zeros(len(times), bool)
    for i, t in enumerate(times.tolist()):
        s = (t - start) / length
        if not 0 <= s <= 1:
            continue
        cx, cy = -12 + s * (resolution + 24), resolution * 0.55 + 6 * np.sin(6 * s)
        disc = (xx - cx) ** 2 + ((yy - cy) / 1.4) ** 2 < (resolution * 0.22) ** 2
        shade = 0.8 + 0.2 * yy[disc] / resolution
        frames[i][disc] = (np.array([200.0, 160.0, 130.0]) * shade[:, None]).astype(np.uint8)
        shown[i] = disc.any()
    return frames, shown


def run_video(models: Models, seed: int, fps: float, seconds: float, factor: int, share: float) -> tuple[dict, dict]:
    """Scores of every row on one video, and its frames for the strip."""
    resolution = models.generator.resolution
    t = torch.arange(int(round(seconds * fps)) * factor + 1, dtype=torch.float64) / (fps * factor)
    pixels, shown = occluded_video(seed, t, resolution, share)
    truth = from_uint8(pixels)
    kept = list(range(0, len(t), factor))
    held = [i for i in range(len(t)) if i % factor]
    pipe, setup_s = timed(lambda: VideoPipeline.from_frames(Frames(pixels[kept], t[kept], fps), models,
                                                             InversionConfig(), fit=FitConfig()))
    per_stretch = pipe.with_detail(DetailConfig(per_stretch=True))
    spline, spline_s = timed(lambda: pipe.interpolate(times=t, path="spline", fidelity="detail").numpy())
    flow, flow_s = timed(lambda: flow_interpolate(pixels[kept], t[kept], t))
    out = {"spline-detail": (spline, spline_s), "dis_flow": (flow, flow_s),
           "spline-flow-blend": (mean(spline, flow), spline_s + flow_s),
           "auto": timed(lambda: pipe.interpolate(times=t).numpy()),
           "auto-per-stretch": timed(lambda: per_stretch.interpolate(times=t).numpy())}
    inside, outside = [i for i in held if shown[i]], [i for i in held if not shown[i]]
    result = {}
    for name, (pix, seconds_) in out.items():
        result[name] = scores(pix, truth, held, seconds_)
        x = from_uint8(pix)
        for label, rows in (("psnr_occluded", inside), ("psnr_clear", outside)):
            result[name][label] = float(psnr(x[rows], truth[rows]).mean())
    whole, stretch = pipe.choices()[0], per_stretch.choices()[0]
    result["auto"]["method"] = whole.method
    result["auto-per-stretch"].update(method=stretch.method, stretches="".join(m[0] for m in stretch.stretches),
                                      loo_scores=stretch.scores)
    result["setup_seconds"] = round(setup_s, 1)
    return result, {name: pix for name, (pix, _) in out.items()} | {"truth": pixels, "held": held}


def markdown(report: dict) -> str:
    lines = ["| method | PSNR dB | occluded passage | clear | SSIM | ST-LPIPS |", "|---|---|---|---|---|---|"]
    for name in ROWS:
        r = report["summary"][name]
        lines.append(f"| {name} | {r['psnr']:.2f} | {r['psnr_occluded']:.2f} | {r['psnr_clear']:.2f} | "
                     f"{r['ssim']:.4f} | {r['stlpips']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder")
    p.add_argument("--seeds", type=int, nargs="+", default=[201, 202, 203, 204])
    p.add_argument("--fps", type=float, default=2.0, help="working frame rate (kept frames)")
    p.add_argument("--seconds", type=float, default=16.0)
    p.add_argument("--factor", type=int, default=4, help="ground truth at this multiple of the working rate")
    p.add_argument("--occluded", type=float, default=0.3, help="the share of the video the disc crosses")
    p.add_argument("--out", type=Path, default=None, help="folder for JSON, markdown and a PNG strip")
    a = p.parse_args(argv)
    if a.factor < 2 or a.seconds * a.fps < 3 or not 0 < a.occluded < 1:
        p.error("need --factor >= 2, at least 4 kept frames and 0 < --occluded < 1")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = Models.from_pretrained(a.generator)
    per_video, strip = [], None
    for seed in a.seeds:
        result, frames = run_video(models, seed, a.fps, a.seconds, a.factor, a.occluded)
        per_video.append(result)
        strip = strip or frames
        print(f"seed {seed}: " + ", ".join(f"{name} {result[name]['psnr']:.2f}" for name in ROWS) +
              f" dB; per stretch {result['auto-per-stretch']['stretches']}", file=sys.stderr)
    summary = {name: {key: round(float(np.mean([v[name][key] for v in per_video])), 4)
                      for key in ("psnr", "psnr_occluded", "psnr_clear", "ssim", "stlpips")} for name in ROWS}
    best_single = max(summary[name]["psnr"] for name in ROWS[:3])
    report = {"generator": a.generator, "seeds": a.seeds, "fps": a.fps, "seconds": a.seconds, "factor": a.factor,
              "occluded": a.occluded, "summary": summary, "per_video": per_video,
              "targets": {"per_stretch_beats_every_single_candidate":
                          summary["auto-per-stretch"]["psnr"] > best_single}}
    table = markdown(report)
    print(table, file=sys.stderr)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        cols = strip["held"][len(strip["held"]) // 2 - 6:len(strip["held"]) // 2 + 6:2]
        rows = [strip[k][cols] for k in ("truth", *ROWS)]
        save_grid(a.out / "strip.png", torch.cat([from_uint8(r) for r in rows]), ncol=len(cols), scale=2)
        save_report(a.out, "occluded", table, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
