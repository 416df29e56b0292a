"""Memory of fitting against video length, with and without the adjoint method. Prints JSON.

A smooth synthetic latent path (a few slow sinusoids in random directions of a 10 x 128 W+
space, the bundled generator's shape) is sampled at 16 fps for videos of increasing length
and fitted, once back-propagating through the solver and once with the adjoint method. The
solver is rk4 with two steps per frame interval, so the number of solver steps of a
whole-video solve grows with the video as an adaptive solver's does once the field has
learned the motion (a freshly initialised field lets dopri5 take a few long steps whatever the
length, which would hide the growth). Memory is the autograd memory of one iteration: the bytes of every
tensor saved for the backward pass (device independent, exact), at the largest iteration.
The longest window grows to the whole video, so the last iterations solve from the first
frame to the last.

    python benchmarks/fit_memory.py --frames 25 50 100 200 400
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import weakref

import torch

from dynode.config import FitConfig, SolverConfig
from dynode.dynamics import fit
from dynode.types import GeneratorRecord, LatentSequence


def synthetic(frames: int, fps: float = 16.0, seed: int = 0) -> LatentSequence:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float64) / fps
    directions = torch.randn(4, 10 * 128, generator=g)
    freqs, phases = torch.tensor([0.15, 0.23, 0.37, 0.5]), torch.rand(4, generator=g) * 2 * math.pi
    lat = (torch.sin(2 * math.pi * freqs[None] * t[:, None].float() + phases[None]) @ directions).reshape(frames, 10, 128)
    return LatentSequence(t, lat, torch.zeros(frames), torch.zeros(frames), GeneratorRecord("synthetic"))


def measure(seq: LatentSequence, cfg: FitConfig) -> dict:
    live, peak = [0], [0]

    def free(nbytes):
        live[0] -= nbytes

    def pack(x):
        nbytes = x.numel() * x.element_size()
        live[0] += nbytes
        peak[0] = max(peak[0], live[0])
        weakref.finalize(x, free, nbytes)
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        traj = fit(seq, cfg)
    return {"peak_autograd_mb": round(peak[0] / 2**20, 3), "seconds": round(traj.stats.seconds, 2),
            "best_loss": traj.stats.best_loss}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    p.add_argument("--iters", type=int, default=40, help="the longest window reaches the whole video at half of them")
    a = p.parse_args(argv)
    rows = []
    for frames in a.frames:
        seq = synthetic(frames)
        row = {"frames": frames}
        for adjoint in (False, True):
            cfg = FitConfig(field="mlp", iters=a.iters, adjoint=adjoint, solver=SolverConfig("rk4", step_size=0.5 / (frames - 1)))
            row["adjoint" if adjoint else "direct"] = measure(seq, cfg)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print(json.dumps({"iters": a.iters, "solver": "rk4, 2 steps per frame interval", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
