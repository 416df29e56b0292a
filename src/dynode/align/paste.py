"""Paste rendered face crops back into full frames, with a feathered mask from the landmarks.

The crop is warped back with the inverse of its alignment transform; the mask is the convex
hull of the 68 landmarks, extended over the forehead (the brows raised by a third of the
brow-to-chin height), dilated and blurred by ``feather`` pixels, and limited to where the crop
covers the frame. For times between the video's frames the alignment is interpolated
(:meth:`Alignment.at`) and the background comes from optical-flow interpolation of the
neighbouring original frames (:func:`dynode.baselines.flow_interpolate`).
"""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator

import cv2
import numpy as np

from dynode.align.face import Alignment
from dynode.errors import InputError
from dynode.io.crops import matrices
from dynode.flow import flow_stream
from dynode.io.video import VideoReader, frame_pairs
from dynode.types import Frames


def face_mask(landmarks: np.ndarray, shape: tuple[int, int], feather: float) -> np.ndarray:
    """float32 (H, W) in [0, 1]: 1 inside the face (hull of the landmarks and the forehead)."""
    brows = landmarks[17:27]
    height = landmarks[8, 1] - brows[:, 1].mean()
    forehead = brows - np.array([0.0, height / 3])
    hull = cv2.convexHull(np.concatenate([landmarks, forehead]).astype(np.float32)).astype(np.int32)
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    if feather > 0:
        k = max(1, int(round(feather)))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        mask = cv2.GaussianBlur(mask, (0, 0), feather / 2)
    return mask


def paste(frames: np.ndarray, crops: np.ndarray, alignment: Alignment, feather: float = 4.0,
          opacity: float | np.ndarray = 1.0, fine: float | np.ndarray = 0.0) -> np.ndarray:
    """Full frames with each crop pasted back: uint8 (T, H, W, 3) from frames (T, H, W, 3) and
    crops (T, S, S, 3) aligned by ``alignment`` (T entries), each at its ``opacity`` (one or (T,); 0.5:
    the mean of the crop and the frame inside the face). ``fine`` (one or (T,), 0-1): how much of the
    frame's own detail finer than the crop draws (the frame less the frame taken down to the crop and
    back) is kept under the face, where the face covers more of the frame than the crop's S pixels."""
    if not len(frames) == len(crops) == len(alignment.quads):
        raise InputError(f"paste: {len(frames)} frames, {len(crops)} crops and {len(alignment.quads)} alignments "
                         "must match")
    h, w = frames.shape[1:3]
    size = crops.shape[1]
    out = np.empty_like(frames)
    cover = np.full(crops.shape[1:3], 1.0, np.float32)
    opacity = np.broadcast_to(np.asarray(opacity, np.float32), (len(frames),))
    fine = np.broadcast_to(np.asarray(fine, np.float32), (len(frames),))
    for i, (frame, crop, m) in enumerate(zip(frames, crops, matrices(alignment))):
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        face = cv2.warpAffine(crop, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        if fine[i] > 0:
            down = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            back = cv2.warpAffine(down, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            face += fine[i] * (frame.astype(np.float32) - back)
        inside = cv2.warpAffine(cover, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = (face_mask(alignment.landmarks[i], (h, w), feather) * inside * opacity[i])[..., None]
        out[i] = np.clip(np.rint(alpha * face + (1 - alpha) * frame), 0, 255).astype(np.uint8)
    return out


def paste_stream(source: Frames | VideoReader, crops: Iterable[np.ndarray], alignment: Alignment, times,
                 feather: float = 4.0, every: int = 1, opacity: Iterable[float] | None = None,
                 fine: Iterable[float] | None = None) -> Iterator[np.ndarray]:
    """Full frames, one at a time, for crops rendered at increasing ``times``: the source video is
    walked once, two frames at a time, and the background at each time is the optical-flow
    interpolation of the source frames around it (a source frame itself at its own time).

    Args:
        source: the video the alignment was made on (every ``every``-th frame of it).
        crops: uint8 (S, S, 3) crops, one per time; None where the frame is passed through
            (the source's own picture at that time, nothing pasted).
        opacity, fine: one each per time, how much each crop covers the background and how much of the
            background's detail finer than the crop it keeps (see :func:`paste`; default 1 and 0).

    Raises:
        InputError: times that decrease, or more times than crops.
    """
    t = np.asarray(times, np.float64).reshape(-1)
    backgrounds = flow_stream(frame_pairs(source, every), t)
    crops = iter(crops)
    opacity = itertools.repeat(1.0) if opacity is None else iter(opacity)
    fine = itertools.repeat(0.0) if fine is None else iter(fine)
    for start in range(0, len(t), 16):
        group = t[start:start + 16]
        background = np.stack([next(backgrounds) for _ in group])
        try:
            faces = [next(crops) for _ in group]
        except StopIteration:
            raise InputError(f"paste_stream(): fewer crops than the {len(t)} times") from None
        cover = np.array([next(opacity) for _ in group], np.float32)
        kept = np.array([next(fine) for _ in group], np.float32)
        face = [k for k, crop in enumerate(faces) if crop is not None]
        if face:
            background[face] = paste(background[face], np.stack([faces[k] for k in face]), alignment.at(group[face]),
                                     feather, cover[face], kept[face])
        yield from background


def paste_at(video: Frames, crops: np.ndarray, alignment: Alignment, times, feather: float = 4.0,
             opacity: float = 1.0, fine: float = 0.0) -> np.ndarray:
    """Paste crops rendered at any increasing ``times`` into the video (see :func:`paste_stream`)."""
    return np.stack(list(paste_stream(video, crops, alignment, times, feather, opacity=itertools.repeat(opacity),
                                      fine=itertools.repeat(fine))))
