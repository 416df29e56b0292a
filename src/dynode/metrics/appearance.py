"""What a viewer sees of an edit: its colour over time, what it changes outside its region, and how
far its codes stray from the generator's faces.

A probe reads one scalar per frame (hair lightness, say) and misses what the eye sees first: on
``make demo`` an edit whose lightness the lock holds turns the hair from red-orange to tan over
five seconds. These measures read the pictures:

- **colour drift**: the edited region's mean colour in CIELAB on each frame against the first
  frame's, as a CIE76 Delta-E (above about 5 is a different colour to the eye), and the range of its
  hue angle (degrees). The region is where a reference change (the edit made on the first frame)
  exceeds ``threshold`` levels (or half its largest change, for a faint edit), eroded by a pixel (unless that
  leaves nothing of a thin region) and carried to every frame along DIS flow between
  the unedited frames, so that it follows the motion. The same region of the unedited video is the
  reference: what drifts there is the video's own light and motion, not the edit's.
- **leakage**: the mean change (0-255 levels, over colours) outside the region, dilated by two
  pixels: what the edit does to the background and the rest of the face.
- **realism** (:func:`w_distance` over :func:`w_stats`): how far codes lie from the generator's W distribution, a
  Mahalanobis distance per layer over sampled W codes, scaled so that a sampled code scores about 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from dynode.errors import InputError
from dynode.flow import DISFlow, check_frames, warp


@dataclass(frozen=True)
class Look:
    """An edit's look over a video (see the module).

    Attributes:
        colour_drift: mean Delta-E (CIE76) of the edited region's mean colour against the first frame's.
        colour_drift_max: the largest over frames. hue_range: max - min of its hue angle, degrees.
        unedited_drift, unedited_hue_range: the same of the same region in the unedited video.
        leakage: mean |edited - unedited| (0-255) outside the region. region: its mean share of the frame.
    """

    colour_drift: float
    colour_drift_max: float
    hue_range: float
    unedited_drift: float
    unedited_hue_range: float
    leakage: float
    region: float


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def _drift(colours: np.ndarray) -> tuple[float, float, float]:
    """Mean and max Delta-E against the first row, and the hue range (degrees), of (T, 3) Lab colours."""
    delta = np.linalg.norm(colours - colours[0], axis=1)
    hue = np.degrees(np.unwrap(np.arctan2(colours[:, 2], colours[:, 1])))
    return float(delta.mean()), float(delta.max()), float(hue.max() - hue.min())


def edit_look(plain: np.ndarray, edited: np.ndarray, reference: np.ndarray | None = None,
              threshold: float = 12.0) -> Look:
    """The look of ``edited`` against ``plain`` over time (see the module).

    Args:
        plain: uint8 (T >= 2, H, W, 3), the unedited video.
        edited: the edited video, frame for frame.
        reference: float (H, W, 3) or (H, W): the change that marks the edited region on the first
            frame (default: ``edited[0] - plain[0]``). Pass the same one when comparing edit modes, so
            that each is scored on the same region.
        threshold: levels (mean over colours) of reference change that mark the region (half the
            largest change where that is less: a faint edit has a region too).

    Raises:
        InputError: frames that do not match, or a reference that marks no pixel.
    """
    plain, edited = check_frames(plain), check_frames(edited)
    if plain.shape != edited.shape:
        raise InputError(f"edit_look: unedited {plain.shape} and edited {edited.shape} frames differ")
    if reference is None:
        reference = edited[0].astype(np.float32) - plain[0].astype(np.float32)
    reference = np.abs(np.asarray(reference, np.float32))
    reference = reference.mean(-1) if reference.ndim == 3 else reference
    marked = reference > min(threshold, 0.5 * float(reference.max()))
    first = cv2.erode(marked.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    if not first.any():  # a thin region (a mouth's line) keeps its edge pixels
        first = marked.astype(np.float32)
    if not first.any():
        raise InputError("edit_look: the reference change marks no region (it is flat); the edit changes too "
                         "little to measure")
    dis = DISFlow()
    lab = {"edited": [], "plain": []}
    leak, share = [], []
    for t in range(len(plain)):
        inside = first if t == 0 else (warp(first, dis(plain[t], plain[0])) > 0.5).astype(np.float32)
        weight = inside / max(float(inside.sum()), 1.0)
        for name, frames in (("edited", edited), ("plain", plain)):
            lab[name].append((_lab(frames[t]) * weight[..., None]).sum((0, 1)))
        outside = cv2.dilate(inside, np.ones((5, 5), np.uint8)) < 0.5
        change = np.abs(edited[t].astype(np.float32) - plain[t].astype(np.float32)).mean(-1)
        leak.append(float(change[outside].mean()) if outside.any() else 0.0)
        share.append(float(inside.mean()))
    drift, drift_max, hue = _drift(np.array(lab["edited"]))
    plain_drift, _, plain_hue = _drift(np.array(lab["plain"]))
    return Look(*(round(x, 3) for x in (drift, drift_max, hue, plain_drift, plain_hue, float(np.mean(leak)),
                                        float(np.mean(share)))))


@torch.no_grad()
def w_stats(generator, samples: int = 4096, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (w_dim,) and inverse covariance (w_dim, w_dim), float64, of ``samples`` mapped codes.

    Raises:
        InputError: a generator without ``mapping(z)`` (StyleGAN2 and z-space generators have one).
    """
    if not hasattr(generator, "mapping"):
        raise InputError(f"w_distance needs a generator with a mapping network; {type(generator).__name__} has none")
    z = torch.randn(samples, generator.w_dim, generator=torch.Generator().manual_seed(seed))
    w = generator.mapping(z.to(generator.device)).double().cpu()
    mean = w.mean(0)
    cov = torch.cov((w - mean).T) + 1e-6 * torch.eye(w.shape[1], dtype=torch.float64)
    return mean, torch.linalg.inv(cov)


def w_distance(codes: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """How far each code lies from a generator's W distribution: (N,) float32, about 1 for a sampled code.

    Each layer's row is measured by its Mahalanobis distance under the mean and covariance of
    sampled codes, divided by the square root of w_dim, and the rows are averaged. Inverted W+
    codes lie well off W on every layer (several times a sample's distance): compare an edit's codes
    with the unedited or carried ones.

    Args:
        codes: (N, num_ws, w_dim).
        stats: the generator's :func:`w_stats`, computed once for every set of codes measured.
    """
    mean, inverse = stats
    x = codes.double().cpu() - mean
    d2 = torch.einsum("nld,de,nle->nl", x, inverse, x)
    return (d2.clamp(min=0).sqrt() / len(mean) ** 0.5).mean(1).float()
