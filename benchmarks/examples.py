"""Directions learned from labelled example frames, as a user with their own generator would make them.

For each named edit, ``--per-side`` toy-face frames that show its attribute (above 0.7 of its range)
and as many that do not (below 0.3) are drawn from the toy-face world (never the benchmark videos)
and written as ``OUT/examples/NAME/with`` and ``without``; ``dynode directions fit --method learned
--name NAME --examples FOLDER`` is then run on them (the same function), with no use of the bundled
probe. The directions land in ``OUT/directions.safetensors``, ready for ``benchmarks/editing.py
--directions``, which measures them on the benchmark videos with the judge as it measures the
library. The JSON gives each reader's held-out accuracy and each direction's learning time; an
attribute whose examples do not separate is reported with the error a user would see.

    python benchmarks/examples.py --out bench_out/examples
    python benchmarks/editing.py --judge bench_out/judge --init auto --steps 0 \\
        --directions bench_out/examples/directions.safetensors --edits glasses:2 ... --rows auto \\
        --probe-free --out bench_out/edit_examples
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dynode.data.toyfaces import render, sample_factors
from dynode.edit import save_directions
from dynode.edit.directions import EDITABLE
from dynode.edit.find import learn_from_examples
from dynode.errors import InputError
from dynode.generators import load_generator
from dynode.io.images import to_uint8
from dynode.metrics.attributes import ATTRIBUTES, attribute_targets


def write_examples(folder: Path, attribute: str, per_side: int, resolution: int, seed: int) -> None:
    """``per_side`` toy-face frames with the attribute high and as many with it low, as PNG files."""
    g = torch.Generator().manual_seed(seed)
    column = ATTRIBUTES.index(attribute)
    sides = {"with": [], "without": []}
    while min(len(v) for v in sides.values()) < per_side:
        factors = sample_factors(256, g)
        value = attribute_targets(factors)[:, column]
        pixels = to_uint8(render(factors, resolution))
        sides["with"] += list(pixels[value > 0.7])
        sides["without"] += list(pixels[value < 0.3])
    for side, frames in sides.items():
        (folder / side).mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames[:per_side]):
            Image.fromarray(np.asarray(frame)).save(folder / side / f"{i:04d}.png")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder")
    p.add_argument("--names", nargs="+", default=list(EDITABLE), choices=list(EDITABLE))
    p.add_argument("--per-side", type=int, default=100, help="example frames with, and as many without")
    p.add_argument("--seed", type=int, default=7, help="draws the example frames")
    p.add_argument("--no-encoder", action="store_true",
                   help="learn as for a generator without an encoder (a reader on ImageNet features)")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    gen = load_generator(a.generator)
    found, report = [], {"generator": a.generator, "per_side": a.per_side, "no_encoder": a.no_encoder, "directions": {}}
    for k, name in enumerate(a.names):
        folder = a.out / "examples" / name
        write_examples(folder, EDITABLE[name], a.per_side, gen.resolution, a.seed + k)
        start = time.time()
        try:
            direction, stats = learn_from_examples(gen, folder, name, attribute=EDITABLE[name], use_encoder=not a.no_encoder)
        except InputError as e:
            report["directions"][name] = {"error": str(e)}
            print(f"{name}: {e}")
            continue
        found.append(direction)
        report["directions"][name] = {**stats, "seconds": round(time.time() - start, 1),
                                      "unit_change": direction.info["unit_change"]}
        print(f"{name}: held-out accuracy {stats['heldout_accuracy']:.0%}, {time.time() - start:.0f} s")
    if found:
        save_directions(a.out / "directions.safetensors", found)
    (a.out / "examples.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
