"""Resumable inversion: the frames done so far kept in a file, continued after an interruption.

An interrupted inversion resumes only with the same frames, generator and config: the partial
file records a fingerprint of all three, and one that does not match is started over (and said).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dynode.config import InversionConfig
from dynode.errors import CheckpointError
from dynode.io.checkpoints import load_artifact, save_artifact
from dynode.types import Frames, Generator

Checkpoint = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


def fingerprint(frames: Frames, generator: Generator, config: InversionConfig) -> str:
    """What an interrupted inversion must share with its resume: the frames, the generator, the config."""
    h = hashlib.sha256(np.ascontiguousarray(frames.pixels).tobytes())
    h.update(frames.times.numpy().tobytes())
    h.update(f"{generator.record.id}|{generator.record.name}|{json.dumps(config.to_dict(), sort_keys=True)}".encode())
    return h.hexdigest()[:24]


def resume(partial: str | Path, frames: Frames, generator: Generator, config: InversionConfig,
           log: Callable[[str], None]) -> tuple[tuple[torch.Tensor, ...] | None, Checkpoint]:
    """(codes, losses, PSNR of the frames already done, or None; a checkpoint callback) for an
    inversion kept in ``partial``: pass both to :func:`dynode.inversion.invert`."""
    partial, key = Path(partial), fingerprint(frames, generator, config)
    done = None
    if partial.is_file():
        try:
            tensors, info = load_artifact(partial, "partial-latents")
        except CheckpointError:
            tensors, info = None, {}
        if info.get("fingerprint") == key:
            done = (tensors["codes"], tensors["losses"], tensors["psnr"])
            log(f"resuming: {len(done[0])} of {len(frames)} frames were inverted before ({partial})")
        else:
            log(f"{partial} is from another video, generator or inversion config: starting over")

    def keep(codes, losses, psnrs):
        save_artifact(partial, "partial-latents", {"codes": codes, "losses": losses, "psnr": psnrs},
                      {"fingerprint": key, "frames": len(frames)})
    return done, keep
