"""Seeded work that leaves torch's global random state as it found it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generators (the CPU's and every GPU's) seeded with ``seed`` inside the block and
    restored after it: for library code whose randomness is torch's own (modules built with torch's
    default initialisation, layers that draw noise), so that a seeded call changes nothing for its caller.
    Code that can take a ``torch.Generator`` takes one instead."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
