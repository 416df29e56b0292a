"""Pixel-space baselines that interpolate the observed frames directly (no GAN involved).

- :func:`minterpolate`: ffmpeg's motion-compensated ``minterpolate`` filter (the binary that
  ships in the imageio-ffmpeg package), on a uniform frame grid.
- :func:`flow_interpolate`: bidirectional DIS optical flow (OpenCV) between the two
  observations around each query time, with the flow at the query time approximated from the
  two end flows as in Super SloMo (Jiang et al. 2018), and the two warped frames blended.

Both take and return uint8 (N, H, W, 3) frames.
"""

from __future__ import annotations

import subprocess

import numpy as np
import torch

from dynode.errors import InputError
from dynode.flow import DISFlow, check_frames, warp
from dynode.types import bracket, check_times


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


def flow_interpolate(frames: np.ndarray, observed_times, times) -> np.ndarray:
    """Optical-flow interpolation of the observed frames at any times inside their span.

    Args:
        frames: uint8 (T, H, W, 3) at ``observed_times`` (T,) seconds, any spacing.
        times: (N,) seconds; times outside the span take the first/last frame.

    Returns:
        uint8 (N, H, W, 3).
    """
    frames = check_frames(frames)
    t_obs = check_times(observed_times, "observed_times")
    if len(t_obs) != len(frames):
        raise InputError(f"got {len(frames)} frames but {len(t_obs)} observed times")
    lo, _, frac = bracket(t_obs, torch.as_tensor(times, dtype=torch.float64).reshape(-1))
    dis = DISFlow()
    flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = np.empty((len(lo), *frames.shape[1:]), np.uint8)
    for n, (i, s) in enumerate(zip(lo.tolist(), frac.tolist())):
        if s <= 0 or s >= 1:
            out[n] = frames[i if s <= 0 else i + 1]
            continue
        if i not in flows:
            # DIS flow from a to b: a(x) ~ b(x + flow(x)).
            flows[i] = (dis(frames[i], frames[i + 1]), dis(frames[i + 1], frames[i]))
        f01, f10 = flows[i]
        f_t0 = -(1 - s) * s * f01 + s * s * f10
        f_t1 = (1 - s) ** 2 * f01 - s * (1 - s) * f10
        blend = (1 - s) * warp(frames[i], f_t0).astype(np.float32) + s * warp(frames[i + 1], f_t1).astype(np.float32)
        out[n] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out
