"""Compare two benchmark reports (JSON) figure by figure, timings left out: a refactor must change none.

    python benchmarks/compare_reports.py before/interp.json after/interp.json

Prints JSON: how many figures are identical, which differ (before, after), and which exist on one
side only; exits 1 when a figure present in both differs.
"""

from __future__ import annotations

import argparse
import json
import sys

# Keys that measure time or the machine, not what was computed.
TIMING = ("seconds", "stage_", "total", "fit_speed", "per_s", "_s_", "time", "device", "threads", "share_of_render")


def flatten(value, prefix: str = "") -> dict:
    """Every leaf of a JSON value by its dotted path (list items by index)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}.{key}" if prefix else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: value}


def compare(before: dict, after: dict) -> dict:
    a, b = flatten(before), flatten(after)
    kept = lambda path: not any(word in path for word in TIMING)  # noqa: E731
    both = sorted(k for k in set(a) & set(b) if kept(k))
    return {"identical": sum(a[k] == b[k] for k in both),
            "differing": {k: [a[k], b[k]] for k in both if a[k] != b[k]},
            "only_before": sorted(k for k in set(a) - set(b) if kept(k)),
            "only_after": sorted(k for k in set(b) - set(a) if kept(k))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    a = p.parse_args(argv)
    with open(a.before) as f, open(a.after) as g:
        result = compare(json.load(f), json.load(g))
    print(json.dumps(result, indent=2))
    return 1 if result["differing"] else 0


if __name__ == "__main__":
    sys.exit(main())
