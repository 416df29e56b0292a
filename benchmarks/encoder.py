"""Inversion from the encoder against optimisation alone, and a whole video end to end. Prints JSON.

A toy-face video (``--frames`` at ``--fps``, seed ``--seed``) is inverted by the defaults
without an encoder (warm start from the previous frame, 300 steps for the first frame and 100
for each later one), by the same with 5x fewer steps, by the encoder alone (no optimisation),
and from the encoder (``--init encoder``: the first frame from its code, later ones from the
previous solution moved by its change between frames) with 5x fewer and with the default
steps. Each reconstruction is scored against the frames (PSNR,
ST-LPIPS) and for temporal consistency (flicker: warping error between consecutive frames
along the source's DIS flow, over the source's own). Then the whole video goes through the
pipeline from the encoder: invert, fit, 4x interpolation (with detail), an edit, with the
seconds of every stage.

    python benchmarks/encoder.py --out bench_out/encoder
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from common import save_report
from dynode.config import FitConfig, InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.edit import Edit
from dynode.generators import load_generator
from dynode.inversion import invert
from dynode.inversion.encoder import encoder_folder, load_encoder
from dynode.io.images import from_uint8, to_uint8
from dynode.metrics import psnr, stlpips
from dynode.metrics.consistency import flicker, source_flows
from dynode.pipelines import VideoPipeline
from dynode.render import render_pixels
from dynode.types import Frames


def _scores(gen, codes: torch.Tensor, frames: Frames, flows, seconds: float) -> dict:
    pixels = render_pixels(gen, codes)
    x, y = from_uint8(pixels), from_uint8(frames.pixels)
    with torch.no_grad():
        return {"psnr": round(float(psnr(x, y).mean()), 3), "stlpips": round(float(stlpips(x, y).mean()), 4),
                "flicker": round(flicker(pixels, frames.pixels, flows)["relative"], 4), "seconds": round(seconds, 2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder (with an encoder)")
    p.add_argument("--seed", type=int, default=401, help="toy-face video seed (not one the encoder saw)")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--fps", type=float, default=12.0)
    p.add_argument("--fewer", type=int, default=5, help="how many times fewer steps for the fast rows")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON and markdown")
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    gen = load_generator(a.generator)
    encoder = load_encoder(encoder_folder(gen), gen)
    times = torch.arange(a.frames, dtype=torch.float64) / a.fps
    frames = Frames(to_uint8(ToyFaceVideo(a.seed).render(times, gen.resolution)), times, a.fps)
    flows = source_flows(frames.pixels)
    images = from_uint8(frames.pixels)
    default = InversionConfig(init="previous")
    fast = InversionConfig(steps_first=default.steps_first // a.fewer, steps=default.steps // a.fewer)
    rows = {}
    for name, cfg in ((f"optimisation ({default.steps_first}/{default.steps} steps)", default),
                      (f"optimisation ({fast.steps_first}/{fast.steps} steps)",
                       InversionConfig(steps_first=fast.steps_first, steps=fast.steps, init="previous")),
                      (f"encoder + {fast.steps} steps", InversionConfig(steps=fast.steps, init="encoder")),
                      (f"encoder + {default.steps} steps", InversionConfig(steps=default.steps, init="encoder"))):
        start = time.perf_counter()
        seq = invert(gen, images, times, cfg, encoder=encoder)
        rows[name] = _scores(gen, seq.latents, frames, flows, time.perf_counter() - start)
        print(f"{name}: {json.dumps(rows[name])}", file=sys.stderr)
    start = time.perf_counter()
    with torch.no_grad():
        codes = torch.cat([encoder(c) for c in images.split(32)])
    rows["encoder alone"] = _scores(gen, codes, frames, flows, time.perf_counter() - start)

    stages, start = {}, time.perf_counter()

    def stage(name):
        nonlocal start
        stages[name] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()

    pipe = VideoPipeline.from_frames(frames, gen, InversionConfig(steps=fast.steps, init="encoder"), fit=None,
                                     log=lambda s: None)
    stage("invert")
    pipe = pipe.fit(FitConfig())
    stage("fit")
    interpolated = pipe.interpolate(factor=4).numpy()
    stage("interpolate_4x_detail")
    edited = pipe.edit([Edit(pipe.direction("hair_color"), 2.0)]).numpy()
    stage("edit")
    total = round(sum(stages.values()), 2)
    report = {"generator": a.generator, "seed": a.seed, "frames": a.frames, "fps": a.fps, "inversion": rows,
              "pipeline_seconds": stages, "pipeline_total_seconds": total,
              "outputs": {"interpolated_frames": len(interpolated), "edited_frames": len(edited)}}
    best = rows[f"optimisation ({default.steps_first}/{default.steps} steps)"]
    enc = rows[f"encoder + {fast.steps} steps"]
    report["targets"] = {"encoder_5x_fewer_steps_psnr>=default": enc["psnr"] >= best["psnr"],
                         "encoder_5x_fewer_steps_stlpips<=default": enc["stlpips"] <= best["stlpips"],
                         f"{a.frames}_frames_end_to_end_under_60s": total < 60}
    lines = ["| inversion | PSNR dB | ST-LPIPS | flicker (x source) | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['psnr']:.2f} | {v['stlpips']:.4f} | {v['flicker']:.3f} | {v['seconds']:.1f} |"
              for k, v in rows.items()]
    lines += ["", "| stage | seconds |", "|---|---|"] + [f"| {k} | {v:.1f} |" for k, v in stages.items()]
    lines.append(f"| total | {total:.1f} |")
    table = "\n".join(lines)
    print(table, file=sys.stderr)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        save_report(a.out, "encoder", table, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
