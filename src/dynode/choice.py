"""Which way to render a video between its kept frames, chosen by the video itself.

Which method draws the frames between the kept ones best depends on the video: the video's
detail along the spline of its codes wins where the generator draws the footage well, optical
flow of the real frames where it does not (another domain, a small generator, a hard face). The
video can say which: hide an interior kept frame, predict it from the frames left with every
candidate, and score the prediction against the real frame (PSNR). That is leave-one-out
cross-validation on the video's own frames. The candidates (:data:`METHODS`):

- ``spline``: the natural cubic spline of the codes, rendered, with the video's detail carried
  along it (:mod:`dynode.detail`);
- ``flow``: DIS optical-flow interpolation of the real frames alone;
- ``blend``: the mean of those two pictures (their errors differ, so where they are close the
  mean beats both);
- ``fused``: the spline with detail fused with that flow wherever the flow is consistent
  forwards and backwards (``DetailConfig.real_flow``): chosen only where it beats both.

For a video rendered into its full frames (faces aligned, pasted back) the check is made on the
full frames: each crop prediction is pasted into the flow-interpolated background, ``flow`` is the
flow of the whole frames and ``blend`` the mean of the pasted frame and that flow, as those
outputs are drawn.

A hidden frame is predicted across twice the gap the video has, a harder case than the render,
and one that does not rank the candidates as the video's own gap does: on the benchmark videos
(the interpolation results page) the check puts the single methods further ahead of the blend,
on average, than they are at the video's gap. So the blend is the choice unless a single method
beats it at the check by more than ``hedge`` dB (between single methods within ``tie`` dB, the
one earlier in :data:`METHODS`). Frames are checked evenly over the span, at most
``max_checks`` of them, so the cost does not grow with the video's length; a span with no
interior kept frame to check takes the blend.

With ``DetailConfig.per_stretch`` the choice is also made for each stretch between two kept
frames, from the checks around it (weighed by their distance, as wide as the checks are apart),
among the spline, the flow and the blend. Every candidate draws the kept frames themselves, so
the output is continuous where the method changes. More kept frames are checked then (up to
:data:`STRETCH_CHECKS`): a span whose stretches differ (an occluder, a passage the generator
cannot draw) takes each its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dynode.align.paste import paste
from dynode.baselines.latent import spline
from dynode.config import DetailConfig
from dynode.detail import Detail
from dynode.flow import flow_interpolate
from dynode.io.images import from_uint8
from dynode.metrics.image import psnr
from dynode.render import render_pixels
from dynode.types import Alignment, Generator

METHODS = ("spline", "flow", "blend", "fused")
HEDGE = "blend"  # the choice unless a single method clearly beats it (see the module)
STRETCH_METHODS = ("spline", "flow", "blend")  # what a choice per stretch picks among
STRETCH_CHECKS = 32  # the kept frames a choice per stretch hides at most


@dataclass(frozen=True)
class Choice:
    """The method chosen for one span and why.

    Attributes:
        method: one of :data:`METHODS`. scores: each candidate's mean PSNR (dB) over the checked
            frames. checked: the times (s) of the kept frames hidden and predicted (empty for a
            span with no interior kept frame, whose method is :data:`HEDGE`).
        stretches: with a choice per stretch (``DetailConfig.per_stretch``), the method of each stretch
            between consecutive kept frames (one of :data:`STRETCH_METHODS`), which draws instead of ``method``.
    """

    method: str
    scores: dict[str, float] = field(default_factory=dict)
    checked: tuple[float, ...] = ()
    stretches: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.checked:
            return f"{self.method} (no interior kept frame to check)"
        scores = ", ".join(f"{name} {score:.2f}" for name, score in self.scores.items())
        out = f"{self.method} (leave-one-out PSNR on {len(self.checked)} kept frames: {scores} dB)"
        if self.stretches:
            counts = ", ".join(f"{self.stretches.count(name)} {name}" for name in STRETCH_METHODS
                               if name in self.stretches)
            out += f"; per stretch between kept frames: {counts}"
        return out

    def at(self, times, observed) -> np.ndarray:
        """The method (str (N,)) that draws each of ``times`` (N,) s between the kept frames at ``observed``
        (K,): the span's, or its stretch's; the spline outside the kept frames."""
        t, kept = np.asarray(times, np.float64).reshape(-1), np.asarray(observed, np.float64)
        inside = (t >= kept[0]) & (t <= kept[-1])
        if self.stretches:
            stretch = np.clip(np.searchsorted(kept, t, side="right") - 1, 0, len(self.stretches) - 1)
            methods = np.asarray(self.stretches)[stretch]
        else:
            methods = np.full(len(t), self.method)
        return np.where(inside, methods, "spline")


def checked_frames(count: int, max_checks: int) -> list[int]:
    """Interior indices of ``count`` kept frames to hide, evenly spread, at most ``max_checks``."""
    interior = np.arange(1, count - 1)
    if len(interior) <= max_checks:
        return interior.tolist()
    return sorted(set(np.round(np.linspace(1, count - 2, max_checks)).astype(int).tolist()))


def predictions(generator: Generator, frames: np.ndarray, renders: np.ndarray, times: torch.Tensor,
                codes: torch.Tensor, k: int, config: DetailConfig = DetailConfig()) -> dict[str, np.ndarray]:
    """Every candidate's uint8 (R, R, 3) prediction of kept frame ``k`` from the others.

    Args:
        frames, renders: uint8 (T, R, R, 3) the kept frames and the renders of their ``codes``
            (T, num_ws, w_dim) at ``times`` (T,) seconds.
    """
    keep = np.arange(len(frames)) != k
    t = float(times[k])
    geometry = render_pixels(generator, spline(times[keep], codes[keep], times[k:k + 1]).float())[0]
    detail = Detail(frames[keep], renders[keep], times[keep], config)
    carried = geometry.astype(np.float32) + detail.residual_at(t, geometry)  # the spline with detail
    picture, trust = detail.real_flow(t)  # the two real frames around it, flowed (as flow_interpolate does)
    along, flowed = _uint8(carried), _uint8(picture)
    return {"spline": along, "flow": flowed, "blend": mean(along, flowed),
            "fused": _uint8(trust * picture + (1 - trust) * carried)}


def _uint8(picture: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


def mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The per-pixel mean of two uint8 pictures, uint8."""
    return ((a.astype(np.uint16) + b.astype(np.uint16) + 1) // 2).astype(np.uint8)


def full_frames_needed(count: int, max_checks: int = 8) -> list[int]:
    """The kept frames whose full pictures a check in full frames reads: each checked frame and the two
    around it (at most 3 x ``max_checks``, whatever the video's length)."""
    return sorted({i for k in checked_frames(count, max_checks) for i in (k - 1, k, k + 1)})


def full_frame(predicted: dict[str, np.ndarray], full: dict[int, np.ndarray], times: torch.Tensor, k: int,
               alignment: Alignment) -> dict[str, np.ndarray]:
    """Crop predictions of kept frame ``k`` as full frames: pasted into the flow between the full frames
    around it (``full``: uint8 (H, W, 3) by kept index, at ``times``), which is ``flow``'s own prediction;
    ``blend`` is the mean of the pasted spline and that flow (the spline pasted at half opacity); each face keeps
    the flow's detail finer than the crop, as ``auto`` draws it."""
    around = np.stack([full[k - 1], full[k + 1]])
    background = flow_interpolate(around, times[[k - 1, k + 1]], times[k:k + 1])
    placed = alignment.at(times[k:k + 1].numpy())
    out = {name: paste(background, predicted[name][None], placed, fine=1.0)[0] for name in ("spline", "fused")}
    return {**out, "flow": background[0],
            "blend": paste(background, predicted["spline"][None], placed, opacity=0.5, fine=1.0)[0]}


def check_count(config: DetailConfig, max_checks: int = 8) -> int:
    """How many kept frames the check hides at most: ``max_checks``, or :data:`STRETCH_CHECKS` per stretch."""
    return max(max_checks, STRETCH_CHECKS) if config.per_stretch else max_checks


def pick(scores: dict[str, float], hedge: float, tie: float) -> str:
    """The hedge unless a single method's score beats it by more than ``hedge`` (see the module)."""
    singles = [name for name in METHODS if name != HEDGE and name in scores]
    single = next(name for name in singles if scores[name] >= max(scores[n] for n in singles) - tie)
    return single if scores[single] > scores[HEDGE] + hedge else HEDGE


def local_scores(each: dict[str, list[float]], checks: list[int], count: int) -> list[dict[str, float]]:
    """For each stretch between ``count`` kept frames, the candidates' check scores (``each``: per checked kept
    frame ``checks``) weighed by a Gaussian of the distance, as wide as the checks are apart (at least a frame)."""
    at = np.asarray(checks, np.float64)
    width = max(1.0, (count - 2) / len(checks))
    out = []
    for stretch in range(count - 1):
        weight = np.exp(-0.5 * ((at - (stretch + 0.5)) / width) ** 2)
        out.append({name: float(np.dot(weight, each[name]) / weight.sum()) for name in STRETCH_METHODS})
    return out


def choose(generator: Generator, frames: np.ndarray, renders: np.ndarray, times: torch.Tensor, codes: torch.Tensor,
           config: DetailConfig = DetailConfig(), max_checks: int = 8, hedge: float = 0.5, tie: float = 0.05,
           full: dict[int, np.ndarray] | None = None, alignment: Alignment | None = None) -> Choice:
    """The method that predicts the hidden kept frames best (see the module); with ``config.per_stretch``, also
    each stretch's, from the checks around it (up to :func:`check_count` kept frames hidden).

    Args:
        frames, renders, times, codes: as for :func:`predictions`.
        full, alignment: the kept frames whole that the check reads (uint8 (H, W, 3) by kept index,
            :func:`full_frames_needed`) and the faces' alignment: score the predictions as full frames
            (see :func:`full_frame`).
    """
    checks = checked_frames(len(frames), check_count(config, max_checks))
    if not checks:
        return Choice(HEDGE)
    each: dict[str, list[float]] = {name: [] for name in METHODS}
    for k in checks:
        predicted = predictions(generator, frames, renders, times, codes, k, config)
        if full is not None:
            predicted = full_frame(predicted, full, times, k, alignment)
        truth = from_uint8(frames[k:k + 1] if full is None else full[k][None])
        for name, picture in predicted.items():
            each[name].append(float(psnr(from_uint8(picture[None]), truth)[0]))
    scores = {name: round(float(np.mean(values)), 3) for name, values in each.items()}
    stretches = tuple(pick(local, hedge, tie) for local in local_scores(each, checks, len(frames))) \
        if config.per_stretch else ()
    return Choice(pick(scores, hedge, tie), scores, tuple(round(float(times[k]), 4) for k in checks), stretches)
