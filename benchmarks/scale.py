"""How inversion, tuning and rendering scale to real generator sizes. Prints JSON.

Randomly initialised generators of the FFHQ config-f layout (w_dim 512, 8 mapping layers,
channels 512 up to 64 px then halving) at 256 and 1024 px, and the bundled ``toyfaces64``:
seconds for one W+ inversion step (forward and backward through the synthesis network, one
frame), the seconds a frame that this gives for inversion without the encoder (300 steps for
the first frame, 100 for the others; the per-frame figure for a 120-frame video) and with it
(20 steps a frame), seconds for one pivotal-tuning step (4 frames, weights trained), rendered
frames per second (batches of 4, no gradients) and peak memory (resident set on the CPU, the
allocator's peak on a GPU). Weights are random: speed and memory do not depend on them.

    python benchmarks/scale.py                       # CPU
    python benchmarks/scale.py --device cuda         # a GPU, when there is one
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time

import torch

from dynode.config import PTIConfig
from dynode.generators import load_generator
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.inversion import pivotal_tuning


def config_f(resolution: int) -> StyleGAN2Config:
    channels = {r: min(512, 512 * 64 // r) if r > 64 else 512 for r in (2 ** k for k in range(2, 11)) if r <= resolution}
    return StyleGAN2Config(resolution=resolution, w_dim=512, n_mlp=8, channels=channels)


def _timed(fn, repeat: int, device: str) -> float:
    fn()  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(name: str, gen, device: str, repeat: int) -> dict:
    gen = gen.to(device).eval().requires_grad_(False)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    g = torch.Generator().manual_seed(0)
    codes = gen.mapping(torch.randn(4, gen.w_dim, generator=g).to(device))[:, None].repeat(1, gen.num_ws, 1)
    target = torch.zeros(1, 3, gen.resolution, gen.resolution, device=device)

    def step():
        w = codes[:1].clone().requires_grad_(True)
        (gen.synthesis(w) - target).pow(2).mean().backward()

    def render():
        with torch.no_grad():
            gen.synthesis(codes)

    step_s = _timed(step, repeat, device)
    with torch.no_grad():
        images = gen.synthesis(codes)
    ticks = []  # between the steps' progress calls: the tuning's set-up (a copy, two renders) left out
    pivotal_tuning(gen, images, codes, PTIConfig(steps=1 + repeat, batch_size=4),
                   progress=lambda done, total: ticks.append(time.perf_counter()))
    pti_s = (ticks[-1] - ticks[0]) / repeat
    render_s = _timed(render, repeat, device)
    frames = 120
    return {"generator": name, "resolution": gen.resolution, "parameters_m": round(sum(p.numel() for p in
                                                                                       gen.parameters()) / 1e6, 2),
            "inversion_step_s": round(step_s, 3),
            "inversion_s_per_frame": round(step_s * (300 + 100 * (frames - 1)) / frames, 1),
            "inversion_s_per_frame_encoder_20_steps": round(step_s * 20, 1),
            "pti_step_s": round(pti_s, 3), "render_frames_per_s": round(4 / render_s, 2),
            "peak_memory_mb": round(_peak_mb(device), 1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--resolutions", type=int, nargs="*", default=[256, 1024])
    p.add_argument("--repeat", type=int, default=2, help="timed repetitions of each operation")
    a = p.parse_args(argv)
    if a.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(min(2, torch.get_num_threads()))
    card = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else platform.processor() or "cpu"
    rows = [measure("toyfaces64", load_generator("toyfaces64"), a.device, a.repeat)]
    for res in a.resolutions:
        torch.manual_seed(0)
        rows.append(measure(f"config-f {res}", StyleGAN2Generator(config_f(res)), a.device, a.repeat))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(json.dumps({"device": a.device, "card": card, "threads": torch.get_num_threads(), "results": rows},
                     indent=2))


if __name__ == "__main__":
    main()
