"""The artifacts passed between stages, and dynode's tensor conventions.

Conventions (only ``dynode.io`` converts):
- images: float32, (N, 3, H, W), RGB, range [-1, 1]; video pixels: uint8 (T, H, W, 3).
- latents: (T, num_ws, w_dim) W+ codes; a W code is the same with all num_ws rows equal.
- times: float seconds from the first frame (float64 tensors), never frame indices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from dynode.errors import InputError
from dynode.io.checkpoints import load_artifact, save_artifact


def check_times(times, name: str = "times") -> torch.Tensor:
    """Validate a 1-D time grid: finite, strictly increasing. Returns float64 (T,).

    Raises:
        InputError: not 1-D, non-finite, unsorted or duplicate entries.
    """
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1) if not torch.is_tensor(times) else times.double()
    if t.dim() != 1:
        raise InputError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or infinite values: {t.tolist()[:8]}")
    if t.numel() > 1 and not (t[1:] > t[:-1]).all():
        bad = int(torch.nonzero(t[1:] <= t[:-1])[0]) + 1
        raise InputError(f"{name} must be strictly increasing; entry {bad} is {t[bad].item()} after {t[bad - 1].item()}")
    return t


def bracket(observed: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The observations around each time: indices lo, hi = lo + 1 (N,) and the fraction (N,) of
    the way from observed[lo] to observed[hi], clamped to [0, 1] (times outside the span take
    the first or last interval's end).

    Args:
        observed: (T >= 2,) strictly increasing times. times: (N,) of the same dtype.
    """
    hi = torch.searchsorted(observed, times).clamp(1, len(observed) - 1)
    lo = hi - 1
    return lo, hi, ((times - observed[lo]) / (observed[hi] - observed[lo])).clamp(0, 1)


@dataclass
class Frames:
    """Decoded video frames.

    Attributes:
        pixels: uint8 (T, H, W, 3) RGB.
        times: float64 (T,) seconds from the first frame.
        fps: nominal frame rate of the source (used when writing).
    """

    pixels: np.ndarray
    times: torch.Tensor
    fps: float

    def __post_init__(self):
        if self.pixels.ndim != 4 or self.pixels.shape[-1] != 3 or self.pixels.dtype != np.uint8:
            raise InputError(f"Frames.pixels must be uint8 (T, H, W, 3), got {self.pixels.dtype} {self.pixels.shape}")
        self.times = check_times(self.times, "Frames.times")
        if len(self.times) != len(self.pixels):
            raise InputError(f"Frames: {len(self.pixels)} frames but {len(self.times)} times")

    def __len__(self) -> int:
        return len(self.pixels)

    def select(self, index) -> "Frames":
        """A subset of the frames (index: slice, list or bool mask), times kept."""
        idx = torch.arange(len(self))[index]
        return Frames(self.pixels[idx.numpy()], self.times[idx], self.fps)


@dataclass
class LatentSequence:
    """Per-frame inverted codes of a video.

    Attributes:
        times: float64 (T,) seconds.
        latents: float32 (T, num_ws, w_dim).
        losses: float32 (T,) final inversion loss per frame.
        psnr: float32 (T,) reconstruction PSNR per frame, dB.
        generator: name or folder of the generator the codes belong to.
        space: "w+" or "w".
        info: free-form stats (steps, seconds, config).
        delta: the pivotal-tuning change of the generator's weights for this video (None: none);
            render with ``load_generator(generator, delta=delta)``.
    """

    times: torch.Tensor
    latents: torch.Tensor
    losses: torch.Tensor
    psnr: torch.Tensor
    generator: str
    space: str = "w+"
    info: dict = field(default_factory=dict)
    delta: dict | None = None

    def __post_init__(self):
        self.times = check_times(self.times, "LatentSequence.times")
        if self.latents.dim() != 3 or self.latents.shape[0] != len(self.times):
            raise InputError(f"LatentSequence.latents must be (T={len(self.times)}, num_ws, w_dim), "
                             f"got {tuple(self.latents.shape)}")
        if not torch.isfinite(self.latents).all():
            bad = torch.nonzero(~torch.isfinite(self.latents.flatten(1)).all(1)).flatten().tolist()
            raise InputError(f"LatentSequence.latents contain NaN/inf at frames {bad[:10]}")

    def __len__(self) -> int:
        return len(self.times)

    def select(self, index) -> "LatentSequence":
        idx = torch.arange(len(self))[index]
        return LatentSequence(self.times[idx], self.latents[idx], self.losses[idx], self.psnr[idx],
                              self.generator, self.space, dict(self.info), self.delta)

    def save(self, path: str | os.PathLike) -> None:
        tensors = {"times": self.times, "latents": self.latents, "losses": self.losses, "psnr": self.psnr}
        tensors.update({f"delta.{k}": v for k, v in (self.delta or {}).items()})
        save_artifact(path, "latents", tensors, {"generator": self.generator, "space": self.space, "info": self.info})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LatentSequence":
        t, info = load_artifact(path, "latents")
        delta = {k[len("delta."):]: v for k, v in t.items() if k.startswith("delta.")} or None
        return cls(t["times"], t["latents"], t["losses"], t["psnr"], info["generator"], info["space"], info["info"],
                   delta)
