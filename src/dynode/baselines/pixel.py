"""Pixel-space baselines that interpolate the observed frames directly (no GAN involved).

- :func:`minterpolate`: ffmpeg's motion-compensated ``minterpolate`` filter (the binary that
  ships in the imageio-ffmpeg package), on a uniform frame grid.
- :func:`flow_interpolate` (defined in :mod:`dynode.flow`, which paste-back shares):
  bidirectional DIS optical flow (OpenCV) between the two observations around each query time,
  with the flow at the query time approximated from the two end flows as in Super SloMo (Jiang
  et al. 2018), and the two warped frames blended.

Both take and return uint8 (N, H, W, 3) frames.
"""

from __future__ import annotations

import subprocess

import numpy as np

from dynode.errors import InputError
from dynode.flow import check_frames, flow_interpolate

__all__ = ["flow_interpolate", "minterpolate"]


def minterpolate(frames: np.ndarray, factor: int) -> np.ndarray:
    """ffmpeg ``minterpolate`` (bidirectional motion estimation, overlapped-block compensation).

    Args:
        frames: uint8 (T, H, W, 3) observed at a uniform rate.
        factor: output frames per input interval (>= 1).

    Returns:
        uint8 ((T - 1) * factor + 1, H, W, 3): frame k * factor is (close to) input frame k.

    Raises:
        InputError: bad frames or factor. RuntimeError: ffmpeg failed (its stderr attached).
    """
    import imageio_ffmpeg

    frames = check_frames(frames)
    if factor < 1:
        raise InputError(f"factor must be >= 1, got {factor}")
    T, H, W, _ = frames.shape
    # The filter refuses frames under two 16-px blocks a side: pad small frames (edges repeated).
    pad_h, pad_w = max(0, 32 - H), max(0, 32 - W)
    padded = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    # Time is nominal (1 input frame a second): the filter's motion search does not depend on it.
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{W + pad_w}x{H + pad_h}",
           "-r", "1", "-i", "-", "-vf", f"minterpolate=fps={factor}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    # The filter stops a few output frames short of the last input frame: pad with copies of it.
    padded = np.concatenate([padded, np.repeat(padded[-1:], 2, 0)])
    run = subprocess.run(cmd, input=padded.tobytes(), capture_output=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"ffmpeg minterpolate failed: {run.stderr.decode(errors='replace')[-500:]}")
    out = np.frombuffer(run.stdout, np.uint8).reshape(-1, H + pad_h, W + pad_w, 3)[:, :H, :W]
    n = (T - 1) * factor + 1
    if len(out) < n:
        raise RuntimeError(f"ffmpeg minterpolate returned {len(out)} frames, expected at least {n}")
    return out[:n].copy()
