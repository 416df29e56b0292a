"""How well do held-out toy-face frames invert into a generator? Prints JSON.

Renders toy-face videos whose seeds no other part of the project uses (training draws fresh
random identities, so every frame here is unseen), inverts every frame into W+ and into W at
fixed step budgets, warm-started frame to frame as the pipeline does, and reports PSNR, SSIM,
ST-LPIPS, seconds per frame, and how often the attribute probe reads the same smile, eye
openness and head roll from the reconstruction as the ground-truth factors (within a
tolerance; the probe's own hit rate on the real frames is its ceiling). Writes a sample grid
and a reconstruction grid (rows: real, then each space at the largest budget) as PNG.

    python benchmarks/generator_quality.py --out bench_out/generator
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from dynode.config import InversionConfig
from dynode.data.toyfaces import ToyFaceVideo
from dynode.generators import load_generator, resolve
from dynode.inversion import invert
from dynode.io.checkpoints import atomic_path, load_model_files
from dynode.io.images import save_grid
from dynode.metrics import psnr, ssim, stlpips
from dynode.metrics.attributes import ATTRIBUTES, attribute_targets, load_regressor

SEEDS = (9001, 9002, 9003, 9004, 9005, 9006)
CHECKED = ("smile", "eye_open", "roll")


def _summary(values: torch.Tensor) -> dict:
    return {"mean": round(values.mean().item(), 4), "min": round(values.min().item(), 4),
            "max": round(values.max().item(), 4)}


def run(generator: str, videos: int, frames: int, fps: float, budgets: list[int], spaces: list[str],
        perceptual_weight: float, tolerance: float, out: Path | None, device: str) -> dict:
    gen = load_generator(generator, device)
    probe = load_regressor().to(device)
    cols = [ATTRIBUTES.index(a) for a in CHECKED]
    times = torch.arange(frames, dtype=torch.float64) / fps
    clips = [ToyFaceVideo(seed) for seed in SEEDS[:videos]]
    real = torch.stack([c.render(times, gen.resolution) for c in clips]).to(device)  # (V, T, 3, R, R)
    truth = torch.stack([attribute_targets(c.factors_at(times)) for c in clips]).flatten(0, 1)[:, cols].to(device)

    def hits(images):
        with torch.no_grad():
            read = probe(images)[:, cols]
        return ((read - truth).abs() <= tolerance).float().mean(0)

    report = {"generator": generator, "generator_info": load_model_files(resolve(generator))[0].get("info", {}),
              "device": device, "seeds": list(SEEDS[:videos]), "frames_per_video": frames, "fps": fps,
              "perceptual_weight": perceptual_weight, "tolerance": tolerance,
              "probe_on_real": dict(zip(CHECKED, (round(v, 3) for v in hits(real.flatten(0, 1)).tolist()))),
              "results": {}}
    grid_rows = [real[:, :4].flatten(0, 1)]
    for space in spaces:
        for budget in budgets:
            cfg = InversionConfig(space=space, steps_first=budget, steps=budget, perceptual_weight=perceptual_weight)
            recon, seconds = [], 0.0
            for target in real:
                seq = invert(gen, target, times, cfg)
                seconds += seq.stats.seconds
                with torch.no_grad():
                    recon.append(gen.synthesis(seq.latents.to(device)))
            recon = torch.stack(recon)
            flat, ref = recon.flatten(0, 1), real.flatten(0, 1)
            with torch.no_grad():
                entry = {"psnr": _summary(psnr(flat, ref)), "ssim": _summary(ssim(flat, ref)),
                         "stlpips": _summary(stlpips(flat, ref)),
                         "seconds_per_frame": round(seconds / len(flat), 3),
                         "attribute_match": dict(zip(CHECKED, (round(v, 3) for v in hits(flat).tolist())))}
            report["results"][f"{space}@{budget}"] = entry
            print(f"{space}@{budget}: {json.dumps(entry)}", file=sys.stderr)
            if budget == max(budgets):
                grid_rows.append(recon[:, :4].flatten(0, 1))
    best = report["results"].get(f"w+@{max(budgets)}"), report["results"].get(f"w@{max(budgets)}")
    report["targets"] = {
        "w+_psnr>=30": best[0] is not None and best[0]["psnr"]["mean"] >= 30,
        "w+_stlpips<=0.05": best[0] is not None and best[0]["stlpips"]["mean"] <= 0.05,
        "w_psnr>=24": best[1] is not None and best[1]["psnr"]["mean"] >= 24}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            z = torch.randn(32, gen.w_dim, generator=torch.Generator().manual_seed(123)).to(device)
            save_grid(out / "samples.png", gen(z, truncation=0.8, randomize_noise=False), ncol=8, scale=2)
        save_grid(out / "reconstructions.png", torch.cat(grid_rows), ncol=4 * videos, scale=2)
        with atomic_path(out / "generator_quality.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder")
    p.add_argument("--videos", type=int, default=3, help=f"held-out videos (at most {len(SEEDS)})")
    p.add_argument("--frames", type=int, default=8, help="frames per video")
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--budgets", type=int, nargs="+", default=[100, 300], help="Adam steps per frame")
    p.add_argument("--spaces", nargs="+", default=["w+", "w"], choices=["w+", "w"])
    p.add_argument("--perceptual-weight", type=float, default=InversionConfig().perceptual_weight)
    p.add_argument("--tolerance", type=float, default=0.1, help="attribute match tolerance on the [0, 1] scale")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON and the PNG grids")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    if not 1 <= a.videos <= len(SEEDS) or a.frames < 2:
        p.error(f"--videos must be 1..{len(SEEDS)} and --frames >= 2")
    report = run(a.generator, a.videos, a.frames, a.fps, a.budgets, a.spaces, a.perceptual_weight,
                 a.tolerance, a.out, a.device)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
