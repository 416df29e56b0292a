"""A motion that turns back, per vector field: the error of one solve from the first code. Prints JSON.

A 1-D path out and back, x(t) = sin(pi t / 2) over 2 s at 8 fps (17 codes), is fitted by each
field in a 1-component subspace; the path is then solved once from the first code (``initial``)
and through every code (``exact``) and compared with the truth at 20 times in between. A
first-order autonomous field cannot pass back through a point with the opposite velocity.

    python benchmarks/turn_back.py
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from dynode.config import FitConfig
from dynode.dynamics import fit
from dynode.types import GeneratorRecord, LatentSequence


def path(times: torch.Tensor) -> torch.Tensor:
    lat = torch.zeros(len(times), 2, 4)
    lat[:, 0, 0] = torch.sin(math.pi * times.double() / 2).float()
    return lat


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fields", nargs="+", default=["mlp", "second_order", "augmented"])
    p.add_argument("--iters", type=int, default=300)
    a = p.parse_args(argv)
    t = torch.linspace(0, 2, 17, dtype=torch.float64)
    query = torch.linspace(0.05, 1.95, 20)
    seq = LatentSequence(t, path(t), torch.zeros(17), torch.zeros(17), GeneratorRecord("synthetic"))
    report = {}
    for name in a.fields:
        traj = fit(seq, FitConfig(field=name, subspace_dim=1, iters=a.iters))
        report[name] = {mode: round(float((traj.evaluate(query, path=mode) - path(query)).abs().max()), 4)
                        for mode in ("initial", "exact")}
    print(json.dumps({"iters": a.iters, "max_abs_error": report}, indent=2))


if __name__ == "__main__":
    main()
