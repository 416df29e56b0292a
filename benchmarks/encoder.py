"""Inversion from the iterative encoder against optimisation alone, and a whole video end to end.
Prints JSON.

A toy-face video (``--frames`` at ``--fps``, seed ``--seed``) is inverted by optimisation alone
(warm start from the previous frame, 300 steps for the first frame and 100 for each later one:
the default without an encoder), by the encoder alone after one pass and after all of its passes,
from the encoder's codes with each of ``--steps`` optimisation steps (``--init encoder``: the
first frame from its code, later ones from the previous solution moved by its change between
frames), and from the encoder's codes as they are with the generator tuned to the whole video for
each of ``--tuning-steps`` steps (``--steps 0``; the default recipe, whose row is marked; each
scored with its tuned generator). Each reconstruction is scored against the frames
(PSNR, ST-LPIPS) and for temporal consistency (flicker: warping error between consecutive frames
along the source's DIS flow, over the source's own). Then the whole video goes through the pipeline
with the default inversion: invert, fit, 4x interpolation (with detail), an edit, with the seconds
of every stage.

    python benchmarks/encoder.py --out bench_out/encoder
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from common import save_report, timed
from dynode.config import DEFAULT_GENERATOR, FitConfig, InversionConfig
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
from dynode.times import Stopwatch
from dynode.types import Frames


def _scores(gen, codes: torch.Tensor, frames: Frames, flows, seconds: float) -> dict:
    pixels = render_pixels(gen, codes)
    x, y = from_uint8(pixels), from_uint8(frames.pixels)
    with torch.no_grad():
        return {"psnr": round(float(psnr(x, y).mean()), 3), "stlpips": round(float(stlpips(x, y).mean()), 4),
                "flicker": round(flicker(pixels, frames.pixels, flows)["relative"], 4), "seconds": round(seconds, 2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default=DEFAULT_GENERATOR, help="bundled name or model folder (with an encoder)")
    p.add_argument("--seed", type=int, default=401, help="toy-face video seed (not one the encoder saw)")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--fps", type=float, default=12.0)
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 70, 100],
                   help="optimisation steps a frame after the encoder, one row each")
    p.add_argument("--tuning-steps", type=int, nargs="+", default=[100, 200, 300],
                   help="pivotal tuning steps after the encoder's codes, one row each")
    p.add_argument("--iters", type=int, default=FitConfig().iters,
                   help="fitting iterations in the pipeline (of a field; a motion prior is conditioned, not fitted)")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON and markdown")
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    gen = load_generator(a.generator)
    encoder = load_encoder(encoder_folder(gen), gen)
    times = torch.arange(a.frames, dtype=torch.float64) / a.fps
    frames = Frames(to_uint8(ToyFaceVideo(a.seed).render(times, gen.resolution)), times, a.fps)
    flows = source_flows(frames.pixels)
    images = from_uint8(frames.pixels)
    default = InversionConfig()
    alone = InversionConfig(init="previous").resolved(False)
    rows = {}

    def row(name: str, codes_of, generator_of=lambda codes: gen) -> None:
        codes, seconds = timed(codes_of)
        rows[name] = _scores(generator_of(codes), codes, frames, flows, seconds)
        print(f"{name}: {json.dumps(rows[name])}", file=sys.stderr)

    alone_name = f"optimisation alone ({alone.steps_first}/{alone.steps} steps)"
    row(alone_name,
        lambda: invert(gen, images, times, alone).latents)
    for passes in sorted({1, encoder.passes}):
        row(f"encoder, {passes} pass{'es' * (passes > 1)}", lambda: encoder.encode(gen, images, passes))
    for steps in a.steps:
        cfg = replace(default, init="encoder", steps=steps)
        name = f"encoder + {steps} steps" + (" (the default before tuning)" if steps == 100 else "")
        row(name, lambda: invert(gen, images, times, cfg, encoder=encoder).latents)
    tuned = {}
    for steps in a.tuning_steps:
        cfg = replace(default, steps=0, tuning=replace(default.tuning, steps=steps))
        name = f"encoder + tuning {steps} steps" + (" (the default)" if cfg.resolved(True) == default.resolved(True) else "")
        row(name, lambda: tuned.setdefault(steps, VideoPipeline.from_frames(frames, gen, cfg, fit=None,
                                                                            log=lambda s: None)).sequence.latents,
            lambda codes: tuned[steps].generator)

    watch = Stopwatch()
    pipe = VideoPipeline.from_frames(frames, gen, default, fit=None, log=lambda s: None)
    watch.lap("invert")
    pipe = pipe.fit(FitConfig(iters=a.iters))
    watch.lap("fit")
    interpolated = pipe.interpolate(factor=4).numpy()
    watch.lap("interpolate_4x_detail")
    edited = pipe.edit(edits=[Edit(pipe.direction("hair_color"), 2.0)]).numpy()
    watch.lap("edit")
    stages = {k: round(v, 2) for k, v in watch.seconds.items()}
    total = round(sum(stages.values()), 2)
    report = {"generator": a.generator, "seed": a.seed, "frames": a.frames, "fps": a.fps, "inversion": rows,
              "pipeline_seconds": stages, "pipeline_total_seconds": total,
              "outputs": {"interpolated_frames": len(interpolated), "edited_frames": len(edited)}}
    passes_row = rows[f"encoder, {encoder.passes} pass{'es' * (encoder.passes > 1)}"]
    twenty = [v for k, v in rows.items() if k.startswith("encoder + ") and k.split()[2].isdigit()
              and int(k.split()[2]) <= 20]
    report["targets"] = {
        "encoder_alone_psnr>=28": passes_row["psnr"] >= 28,
        "encoder_plus_at_most_20_steps_psnr>=33_stlpips<=0.013_flicker<=1.88":
            any(v["psnr"] >= 33 and v["stlpips"] <= 0.013 and v["flicker"] <= 1.88 for v in twenty),
        f"{a.frames}_frames_end_to_end_at_most_15s": total <= 15}
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
