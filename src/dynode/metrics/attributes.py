"""A small CNN that reads toy-face attributes back from images (a learned ground-truth probe).

It is trained on renders of the toy-face world, so it reads any image of that world (real
renders or generator samples). It labels generator samples to find edit directions, and
measures whether an edit or a reconstruction kept the intended attributes.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dynode.data.toyfaces import FACTORS, hair_lightness, render, sample_factors
from dynode.errors import CheckpointError, InputError
from dynode.io.checkpoints import load_model_files, save_model
from dynode.seeding import seeded

# Attributes the probe predicts, each normalised to [0, 1] over its range.
ATTRIBUTES = ("smile", "mouth_open", "eye_open", "glasses", "hair_lightness", "hair_length", "skin",
              "tx", "ty", "roll", "scale", "gaze_x", "gaze_y")


def attribute_targets(factors: dict[str, torch.Tensor]) -> torch.Tensor:
    """Ground-truth attributes in [0, 1] from toy-face factors: (B, len(ATTRIBUTES))."""
    cols = []
    for name in ATTRIBUTES:
        if name == "hair_lightness":
            cols.append(hair_lightness(factors["hair_color"]))
        else:
            low, high, _ = FACTORS[name]
            cols.append((factors[name] - low) / (high - low))
    return torch.stack(cols, 1).float()


class AttributeRegressor(nn.Module):
    """Images (B, 3, R, R) in [-1, 1] -> attributes (B, len(ATTRIBUTES)) in [0, 1] (R resized to 64)."""

    attributes = ATTRIBUTES

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, 2, 1), nn.SiLU(), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.SiLU(), nn.Conv2d(4 * w, 4 * w, 3, 2, 1), nn.SiLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 16, 256), nn.SiLU(), nn.Linear(256, len(ATTRIBUTES)))
        self.width = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise InputError(f"AttributeRegressor: expected (B, 3, H, W) images, got {tuple(images.shape)}")
        if images.shape[-2:] != (64, 64):
            images = F.interpolate(images, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
        return torch.sigmoid(self.head(self.features(images)))


def train_regressor(steps: int = 2000, batch: int = 64, seed: int = 0, lr: float = 2e-3,
                    progress: Callable[[int, int, float], None] | None = None) -> tuple[AttributeRegressor, dict]:
    """Train the probe on fresh renders; returns the model and stats (held-out mean abs error). Its
    initial weights are drawn with torch's generator seeded with ``seed`` (restored after)."""
    g = torch.Generator().manual_seed(seed)
    with seeded(seed):
        model = AttributeRegressor()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    start = time.time()
    for step in range(steps):
        f = sample_factors(batch, g)
        loss = F.mse_loss(model(render(f, 64)), attribute_targets(f))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None:
            progress(step + 1, steps, loss.item())
    model.eval()
    test = sample_factors(512, torch.Generator().manual_seed(seed + 999))
    with torch.no_grad():
        err = (model(render(test, 64)) - attribute_targets(test)).abs().mean(0)
    stats = {"steps": steps, "seconds": time.time() - start,
             "heldout_mae": {n: round(float(e), 4) for n, e in zip(ATTRIBUTES, err)}}
    return model, stats


def save_regressor(folder, model: AttributeRegressor, stats: dict) -> None:
    save_model(folder, model, "attribute_regressor", {"width": model.width, "attributes": list(ATTRIBUTES),
                                                      "stats": stats})


def load_regressor(folder: str | Path | None = None) -> AttributeRegressor:
    """Load a probe saved by :func:`save_regressor`; by default the bundled ``toyface_attributes``."""
    if folder is None:
        folder = Path(str(resources.files("dynode") / "weights" / "toyface_attributes"))
    meta, tensors = load_model_files(folder)
    if meta.get("architecture") != "attribute_regressor" or tuple(meta["config"]["attributes"]) != ATTRIBUTES:
        raise CheckpointError(f"{folder}: not an attribute regressor for {ATTRIBUTES}")
    model = AttributeRegressor(meta["config"]["width"])
    model.load_state_dict(tensors)
    return model.eval().requires_grad_(False)


MOTION_ATTRIBUTES = ("smile", "mouth_open", "eye_open", "tx", "ty", "roll", "scale", "gaze_x", "gaze_y")
IDENTITY_ATTRIBUTES = ("glasses", "hair_lightness", "hair_length", "skin")


@torch.no_grad()
def read_attributes(probe: AttributeRegressor, images: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """The probe on (T, 3, R, R) images in chunks: (T, len(ATTRIBUTES))."""
    return torch.cat([probe(c) for c in images.split(chunk)])


@torch.no_grad()
def edit_report(probe: AttributeRegressor, edited: torch.Tensor, unedited: torch.Tensor, source: torch.Tensor,
                attribute: str, sign: float, min_change: float = 0.1, chunk: int = 128) -> dict:
    """How an edit changed a video, read by the probe on every frame.

    Args:
        edited, unedited, source: (T, 3, R, R) images in [-1, 1]: the edited video, the unedited
            reconstruction it was made from, and the source video.
        attribute: the attribute the edit targets (one of ``ATTRIBUTES``). sign: +1 or -1, the
            way it should move. min_change: the move that counts as reaching the target.

    Returns:
        change_mean/min (of the attribute, signed so that positive is the intended way),
        change_cv (its coefficient of variation over frames: how much the edit's strength varies),
        success_rate (share of frames with change >= min_change) and its value in each
        quarter of the video (late quarters falling behind mean the edit fades with time),
        motion_drift (mean |edited - unedited| over the motion attributes other than the
        target), motion_tolerance (the same between the unedited reconstruction and the source:
        the reconstruction's own error, which the drift should stay within), and
        identity_drift (over the identity attributes other than the target).
    """
    if attribute not in ATTRIBUTES:
        raise InputError(f"edit_report: unknown attribute {attribute!r}; known: {list(ATTRIBUTES)}")
    if not edited.shape == unedited.shape == source.shape:
        raise InputError(f"edit_report: edited {tuple(edited.shape)}, unedited {tuple(unedited.shape)} and source "
                         f"{tuple(source.shape)} must match")

    e, u, s = (read_attributes(probe, x, chunk) for x in (edited, unedited, source))
    a = ATTRIBUTES.index(attribute)
    change = (e[:, a] - u[:, a]) * float(np.sign(sign))
    hit = (change >= min_change).float()
    motion = [ATTRIBUTES.index(m) for m in MOTION_ATTRIBUTES if m != attribute]
    identity = [ATTRIBUTES.index(m) for m in IDENTITY_ATTRIBUTES if m != attribute]
    return {"change_mean": round(float(change.mean()), 4), "change_min": round(float(change.min()), 4),
            "change_cv": round(float(change.std() / change.mean().abs().clamp(min=1e-6)), 4),
            "success_rate": round(float(hit.mean()), 4),
            "success_by_quarter": [round(float(q.mean()), 4) for q in hit.tensor_split(4)],
            "motion_drift": round(float((e - u)[:, motion].abs().mean()), 4),
            "motion_tolerance": round(float((u - s)[:, motion].abs().mean()), 4),
            "identity_drift": round(float((e - u)[:, identity].abs().mean()), 4)}
