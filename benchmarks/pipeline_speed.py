"""The whole pipeline on one toy-face video, timed per stage on each device given. Prints JSON.

A toy-face video (seed 3, --seconds at 16 fps) is read, inverted (the defaults: the bundled
encoder's start and 100 steps a frame), fitted (the defaults), interpolated 8x with detail
and edited (locked hair_color +2), on every device in --devices, in that order; the first
device also pays for the first imports and allocations. For each: seconds per stage, the
reconstruction PSNR, and the frames written.

    python benchmarks/pipeline_speed.py --devices cuda cpu
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from dynode.config import EditSpec, FitConfig, InversionConfig, ReadConfig
from dynode.data.toyfaces import write_toy_video
from dynode.pipelines import VideoPipeline
from dynode.times import Stopwatch


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(video: Path, device: str, out: Path) -> dict:
    watch = Stopwatch()
    pipe = VideoPipeline.from_video(video, "toyfaces64", ReadConfig(), InversionConfig(), None, device,
                                    log=lambda _: None)
    _sync(device)
    watch.lap("invert")
    pipe = pipe.fit(FitConfig())
    _sync(device)
    watch.lap("fit")
    frames = pipe.interpolate(factor=8).write(out / f"interpolated_{device.replace(':', '')}.mp4")
    watch.lap("interpolate_8x_detail")
    pipe.edit(EditSpec(("hair_color",), propagation="locked")).write(out / "edited.mp4")
    watch.lap("edit_locked")
    return {"seconds": {k: round(v, 2) for k, v in watch.seconds.items()}, "frames_inverted": len(pipe.sequence),
            "psnr": round(float(pipe.sequence.psnr.mean()), 2), "frames_interpolated": frames,
            "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor()
            or platform.machine(), "torch_threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", nargs="+", default=["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"])
    p.add_argument("--seconds", type=float, default=4.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_toy_video(tmp / "toy.mp4", 3, args.seconds, 16.0)
        results = {device: run(tmp / "toy.mp4", device, tmp) for device in args.devices}
    print(json.dumps({"video": f"toy seed 3, {args.seconds:g} s at 16 fps", "torch": torch.__version__,
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
