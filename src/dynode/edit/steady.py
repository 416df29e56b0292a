"""Steady edits: an edit's change to the picture carried along the video's own motion.

An edited frame is the unedited render plus the edit's change, D_t = G(w'_t) - G(w_t). The
inverted codes jitter a little from frame to frame and the generator's answer to the same
offset varies with them, so D_t flickers more than the video does (``make bench-edit`` measures
the flicker of carried and steadied edits against the unedited video's).
A steady edit replaces D_t by a weighted mean of the changes of frames t-r..t+r, each warped
into frame t along the motion of the unedited renders (DIS flow between consecutive renders,
composed):

    D'_t = sum_s a_s m_s D_{t+s}(x + F_{t+s}(x)) / sum_s a_s m_s,  a_0 = 1, a_s = strength^|s| / 2

m_s stops the chain where the forward and backward flows disagree by more than a pixel, or
where the unedited renders differ by more than ``max_difference`` levels under the flow
(occlusion, new content: there the frame keeps its own change). The edit's slow change over
the video passes; its frame-to-frame jitter averages out, in the edit's own geometry. The output is
G(w_t) + D'_t. Frames stream through with a lookahead of r frames (weights under a tenth of the
frame's own are left out), so a long clip is never held whole.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Iterable, Iterator

import numpy as np

from dynode.errors import InputError
from dynode.flow import DISFlow, check_flow, warp

MAX_RADIUS = 8


def radius(strength: float) -> int:
    """Frames on each side that a steady edit of ``strength`` averages (0 for 0)."""
    if not 0 <= strength < 1:
        raise InputError(f"steady strength must be in [0, 1), got {strength}")
    return 0 if strength == 0 else min(MAX_RADIUS, max(1, math.floor(math.log(0.2) / math.log(strength))))


def steady(plain: Iterable[np.ndarray], edited: Iterable[np.ndarray], strength: float, chunk: int = 16,
           max_mismatch: float = 1.0, max_difference: float = 20.0) -> Iterator[np.ndarray]:
    """The edited frames with the edit's change averaged along the motion (see the module).

    Args:
        plain, edited: the unedited and edited renders of the same times, uint8 chunks (n, H, W, 3)
            (the chunks of the two may differ in size).
        strength: in [0, 1): the weight of a neighbour one frame away, halved (0: ``edited`` as it is).
        chunk: frames per chunk given out (the last may have fewer).
        max_mismatch, max_difference: where a neighbour's change is taken (see the module).

    Yields:
        uint8 chunks (n, H, W, 3), every frame once, in order.
    """
    out = []
    for frame in _steady_frames(zip((f for c in plain for f in c), (f for c in edited for f in c)),
                                radius(strength), strength, max_mismatch, max_difference):
        out.append(frame)
        if len(out) == chunk:
            yield np.stack(out)
            out = []
    if out:
        yield np.stack(out)


def _steady_frames(frames: Iterator[tuple[np.ndarray, np.ndarray]], r: int, strength: float,
                   max_mismatch: float, max_difference: float) -> Iterator[np.ndarray]:
    """(plain, edited) frame pairs in, steady frames out, each as soon as its r following frames are read."""
    if r == 0:
        yield from (e for _, e in frames)
        return
    dis = DISFlow()
    # Per buffered frame: plain render, change, flow to the previous / next frame and where it holds.
    base: deque = deque()
    change: deque = deque()
    to_prev: deque = deque()
    to_next: deque = deque()
    t_out = 0  # the index in the buffers of the next frame to give out
    ended = False
    while True:
        pair = None if ended else next(frames, None)
        if pair is None:
            ended = True
            if t_out >= len(base):
                return
        else:
            p, e = pair
            if p.shape != e.shape:
                raise InputError(f"steady: plain {p.shape} and edited {e.shape} frames differ")
            if base:
                back, fwd = dis(p, base[-1]), dis(base[-1], p)
                to_prev.append((back, _holds(p, base[-1], back, fwd, max_mismatch, max_difference)))
                to_next[-1] = (fwd, _holds(base[-1], p, fwd, back, max_mismatch, max_difference))
            else:
                to_prev.append(None)
            to_next.append(None)
            base.append(p)
            change.append(e.astype(np.float32) - p.astype(np.float32))
            if len(base) - 1 - t_out < r:  # frame t_out's lookahead not yet read
                continue
        yield np.clip(base[t_out].astype(np.float32) + _mean(change, to_prev, to_next, t_out, r, strength),
                      0, 255).round().astype(np.uint8)
        t_out += 1
        if t_out > r:  # frames further back than r are no longer needed
            for q in (base, change, to_prev, to_next):
                q.popleft()
            t_out -= 1


def _holds(a: np.ndarray, b: np.ndarray, flow: np.ndarray, other: np.ndarray, max_mismatch: float,
           max_difference: float) -> np.ndarray:
    """Where frame ``a`` follows ``flow`` into frame ``b``: the reverse flow ``other`` comes back within
    ``max_mismatch`` pixels and the two frames agree within ``max_difference`` levels; float32 (H, W)."""
    return check_flow(flow, other, a, b).hard(max_mismatch, max_difference).astype(np.float32)


def _mean(change, to_prev, to_next, t: int, r: int, strength: float) -> np.ndarray:
    """Frame t's change averaged with its neighbours' up to r away, each warped along the composed flows."""
    total, weight = change[t].copy(), np.ones(change[t].shape[:2], np.float32)
    for links, step in ((to_prev, -1), (to_next, 1)):
        flow, mask = None, None
        for s in range(1, r + 1):
            k = t + step * (s - 1)  # the frame whose link leads one step further
            if not 0 <= t + step * s < len(change) or links[k] is None:
                break
            link, holds = links[k]
            if flow is None:
                flow, mask = link.copy(), holds
            else:  # on into frame k's neighbour from where frame t's pixel lies in frame k
                mask = mask * (warp(holds, flow) > 0.5)
                flow = flow + warp(link, flow)
            a = 0.5 * strength ** s * mask
            total += a[..., None] * warp(change[t + step * s], flow)
            weight += a
    return total / weight[..., None]
