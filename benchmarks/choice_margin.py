"""How auto's check ranks the candidates against how they score, and what each hedge would lose. Prints JSON.

Reads the JSON reports of ``benchmarks/interpolation.py`` and ``benchmarks/occluded.py``: per video,
the leave-one-out check's PSNR of the spline with detail, DIS flow and their mean (the blend), and
the same candidates' PSNR on the held-out frames. For each margin ``hedge`` it applies auto's rule
(:func:`dynode.choice.pick`: the blend unless a single method beats it at the check by more than
``hedge`` dB) and reports the loss against the best of the three on the held-out frames (mean and
worst over the videos), beside the rule without a hedge (the best at the check).

    python benchmarks/choice_margin.py bench_out/interp*/interpolation.json bench_out/occluded/occluded.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dynode.choice import pick

CANDIDATES = {"spline": "spline-detail", "flow": "dis_flow", "blend": "spline-flow-blend"}


def videos(path: Path) -> list[dict]:
    """Each video of a report: its label, the check's scores and the held-out scores of the candidates."""
    report = json.loads(path.read_text())
    out = []
    for seed, video in zip(report["seeds"], report["per_video"]):
        rows = video.get("interpolation", video)  # bench-interp nests its rows, the occluded bench does not
        check = (rows["auto-per-stretch"] if "auto-per-stretch" in rows else rows["auto"])["loo_scores"]
        out.append({"video": f"{path.parent.name}:{seed}", "check": {m: check[m] for m in CANDIDATES},
                    "held_out": {m: rows[row]["psnr"] for m, row in CANDIDATES.items()}})
    return out


def loss(rows: list[dict], rule) -> dict:
    lost = [max(r["held_out"].values()) - r["held_out"][rule(r["check"])] for r in rows]
    return {"mean": round(float(np.mean(lost)), 3), "worst": round(float(np.max(lost)), 3)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("reports", type=Path, nargs="+", help="interpolation.json / occluded.json files")
    p.add_argument("--hedges", type=float, nargs="+", default=[0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0])
    a = p.parse_args(argv)
    rows = [row for path in a.reports for row in videos(path)]
    for r in rows:
        c, h = r["check"], r["held_out"]
        print(f"{r['video']:>16}: check spline-blend {c['spline'] - c['blend']:+.2f}, flow-blend "
              f"{c['flow'] - c['blend']:+.2f}; held out {h['spline'] - h['blend']:+.2f}, "
              f"{h['flow'] - h['blend']:+.2f} dB", file=sys.stderr)
    best_at_check = loss(rows, lambda check: max(check, key=check.get))
    report = {"videos": len(rows), "best_at_check": best_at_check,
              "hedge": {str(h): loss(rows, lambda check, h=h: pick(check, h, 0.05)) for h in a.hedges},
              "per_video": rows}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
