"""Temporal consistency of an output video against its source: flicker and identity.

- :func:`flicker`: the warping error between consecutive output frames, with the motion taken
  from the *source* video (DIS optical flow between source frames t+1 and t): each output
  frame t is warped onto frame t+1 and compared, on the pixels where the source flow is
  consistent forwards and backwards (not occluded). Reported with the same error of the source
  video itself and their ratio: 1 means the output changes between frames as much as the
  source's own motion explains, more means flicker.
- :func:`identity_consistency`: TL-ID and TG-ID (Tzaban et al., STIT): the mean cosine
  similarity of face embeddings between adjacent frames (local) and between all pairs of
  frames (global), divided by the same figure of the source video.
"""

from __future__ import annotations

import numpy as np
import torch

from dynode.errors import InputError
from dynode.flow import DISFlow, check_flow, check_frames, warp


def source_flows(source: np.ndarray, max_mismatch: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each t: the flow from source frame t+1 to t, and the mask (H, W) where it agrees with the
    reverse flow to within ``max_mismatch`` pixels."""
    source = check_frames(source)
    dis = DISFlow()
    out = []
    for a, b in zip(source[1:], source[:-1]):
        back, fwd = dis(a, b), dis(b, a)  # a(x) ~ b(x + back(x)), b(y) ~ a(y + fwd(y))
        out.append((back, check_flow(back, fwd).hard(max_mismatch)))
    return out


def warping_error(frames: np.ndarray, flows: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean absolute difference (0-255) between frame t+1 and frame t warped by the flow, on the masks."""
    frames = check_frames(frames)
    if len(flows) != len(frames) - 1 or flows[0][0].shape[:2] != frames.shape[1:3]:
        raise InputError(f"warping_error: {len(frames)} frames of {frames.shape[1:3]} need {len(frames) - 1} flows "
                         f"of that size, got {len(flows)} of {flows[0][0].shape[:2]}")
    errors = []
    for t, (flow, mask) in enumerate(flows):
        diff = np.abs(frames[t + 1].astype(np.float32) - warp(frames[t], flow).astype(np.float32)).mean(-1)
        if mask.any():
            errors.append(float(diff[mask].mean()))
    return float(np.mean(errors)) if errors else 0.0


def flicker(frames: np.ndarray, source: np.ndarray,
            flows: list[tuple[np.ndarray, np.ndarray]] | None = None) -> dict:
    """Warping error of ``frames`` with the source's motion, the source's own, and their ratio.

    Args:
        frames, source: uint8 (T, H, W, 3), the output and the video it was made from, frame
            for frame. flows: :func:`source_flows` of the source, when scoring several outputs.
    """
    if frames.shape != source.shape:
        raise InputError(f"flicker: output {frames.shape} and source {source.shape} must match frame for frame")
    flows = source_flows(source) if flows is None else flows
    own, ref = warping_error(frames, flows), warping_error(source, flows)
    return {"warp_error": round(own, 4), "source_warp_error": round(ref, 4),
            "relative": round(own / max(ref, 1e-6), 4)}


def identity_consistency(embeddings: torch.Tensor, source_embeddings: torch.Tensor | None = None) -> dict:
    """TL-ID and TG-ID of (T, D) face embeddings; relative to the source's when given (1 = as consistent).

    Rows that are NaN (no face found in that frame) are left out of the pairs they are in; the
    share of frames with an embedding is reported as ``face_found``.
    """
    if embeddings.dim() != 2 or len(embeddings) < 2:
        raise InputError(f"identity_consistency: need (T>=2, D) embeddings, got {tuple(embeddings.shape)}")

    def scores(e):
        ok = torch.isfinite(e).all(1)
        e = torch.nn.functional.normalize(torch.nan_to_num(e.float()), dim=1)
        sim = e @ e.T
        adjacent = ok[1:] & ok[:-1]
        upper = torch.triu_indices(len(e), len(e), 1)
        pairs = ok[upper[0]] & ok[upper[1]]
        if not adjacent.any() or not pairs.any():
            raise InputError("identity_consistency: fewer than two frames with a face")
        return (float(torch.diagonal(sim, 1)[adjacent].mean()), float(sim[upper[0], upper[1]][pairs].mean()),
                float(ok.float().mean()))

    tl, tg, found = scores(embeddings)
    if source_embeddings is None:
        return {"tl_id": round(tl, 4), "tg_id": round(tg, 4), "face_found": round(found, 4)}
    stl, stg, _ = scores(source_embeddings)
    return {"tl_id": round(tl / stl, 4), "tg_id": round(tg / stg, 4), "face_found": round(found, 4)}
