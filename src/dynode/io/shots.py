"""Shot boundaries and the spans of a video that get a trajectory of their own.

Cuts are found by a content measure computed while the video is decoded (the one PySceneDetect's
content detector uses, computed here on a small thumbnail so it costs little next to decoding):
each frame is shrunk to at most 96 pixels wide (every few pixels taken first, then averaged) and
turned to HSV; its score is the mean absolute
difference of the H, S and V channels against the previous frame (0-255). A cut is a frame
whose score stands out from the mean score of the last ``window`` frames that were not cuts (the
calm): at least ``threshold`` and ``ratio`` times the calm, or, once three frames make up the
calm, at least half the threshold and twice that ratio (a quieter cut between similar pictures,
in a calm shot). So fast motion that
moves every score up does not read as a string of cuts, while a slideshow of unrelated pictures
is all cuts.

:func:`segment` then splits the kept frames into spans: a new span at every cut and, for face
videos, around every run of faceless frames longer than a bridge. Spans of two frames or more
are fitted (kind "fit"); faceless runs and one-frame shots are passed through (kind "pass").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import cv2
import numpy as np

from dynode.errors import InputError
from dynode.types import Span


@dataclass
class ShotDetector:
    """Streaming cut detection: feed it every decoded frame in order (:meth:`watch`).

    Attributes:
        cuts: times (seconds) of the first frame of every shot after the first.
        scores: the content score of every frame (0 for the first).
        frames: frames seen.
    """

    threshold: float = 27.0
    ratio: float = 2.0
    window: int = 8
    width: int = 96
    cuts: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    _last: np.ndarray | None = field(default=None, repr=False)
    _calm: list[float] = field(default_factory=list, repr=False)  # scores of the frames that were not cuts

    def __post_init__(self):
        if not (self.threshold > 0 and self.ratio >= 1 and self.window >= 1 and self.width >= 8):
            raise InputError(f"ShotDetector: need threshold > 0, ratio >= 1, window >= 1, width >= 8; got "
                             f"{self.threshold}, {self.ratio}, {self.window}, {self.width}")

    @property
    def frames(self) -> int:
        return len(self.scores)

    def update(self, frame: np.ndarray, t: float) -> bool:
        """Score one uint8 (H, W, 3) RGB frame at ``t`` seconds; True if a new shot starts there."""
        step = max(1, frame.shape[1] // (2 * self.width))  # every step-th pixel first: area-averaging 720p is slow
        frame = frame[::step, ::step]
        h, w = frame.shape[:2]
        scale = min(1.0, self.width / w)
        small = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.int16)
        cut = False
        if self._last is None or self._last.shape != hsv.shape:
            score = 0.0 if self._last is None else 255.0  # a change of frame size is a cut
        else:
            score = float(np.abs(hsv - self._last).mean())
        if self._last is not None:
            calm = self._calm[-self.window:]
            level = sum(calm) / len(calm) if calm else 0.0
            cut = (score >= self.threshold and score >= self.ratio * level) or \
                (len(calm) >= 3 and score >= self.threshold / 2 and score >= 2 * self.ratio * level)
            if cut:
                self.cuts.append(float(t))
            else:
                self._calm.append(score)
        self.scores.append(score)
        self._last = hsv
        return cut

    def watch(self, pairs: Iterable[tuple[np.ndarray, float]]) -> Iterator[tuple[np.ndarray, float]]:
        """Pass (frame, time) pairs through, scoring each one on the way."""
        for frame, t in pairs:
            self.update(frame, t)
            yield frame, t


def shot_starts(times: np.ndarray, cuts: Iterable[float]) -> np.ndarray:
    """(T,) bool: whether each kept frame (at ``times``) is the first kept frame of a shot, i.e. a
    cut falls in (previous kept time, its time]."""
    times = np.asarray(times, np.float64)
    starts = np.zeros(len(times), bool)
    for c in cuts:
        k = int(np.searchsorted(times, c - 1e-6))
        if 0 < k < len(times):
            starts[k] = True
    return starts


def segment(times: np.ndarray, starts: np.ndarray | None = None, found: np.ndarray | None = None,
            bridge: float = 0.5) -> list[Span]:
    """Split kept frames into spans.

    Args:
        times: (T,) seconds of the kept frames.
        starts: (T,) bool, a shot starts at that frame (None: one shot).
        found: (T,) bool, a usable face in that frame (None: not a face video). Faceless runs of
            at most ``bridge`` seconds (from the last face before to the first face after) stay
            inside their span, their crop interpolated; longer ones and runs at either end are
            passed through.

    Returns:
        Spans in time order covering every kept frame: "fit" (two frames or more) or "pass".
    """
    times = np.asarray(times, np.float64)
    T = len(times)
    starts = np.zeros(T, bool) if starts is None else np.asarray(starts, bool)
    usable = np.ones(T, bool) if found is None else np.asarray(found, bool).copy()
    if found is not None:
        faces = np.flatnonzero(usable)
        for a, b in zip(faces[:-1], faces[1:]):
            if b - a > 1 and times[b] - times[a] <= bridge and not starts[a + 1:b + 1].any():
                usable[a + 1:b] = True  # a short gap inside one shot is bridged
    spans: list[Span] = []
    k = 0
    while k < T:
        j = k + 1
        while j < T and not starts[j] and usable[j] == usable[k]:
            j += 1
        kind = "fit" if usable[k] and j - k >= 2 else "pass"
        if spans and spans[-1].kind == kind == "pass" and not starts[k]:
            k = spans.pop().start
        spans.append(Span(kind, k, j, float(times[k]), float(times[j - 1])))
        k = j
    return spans


def describe(spans: list[Span], cuts: int) -> str:
    """One line: shots, fitted spans and passed-through frames, with the spans' times."""
    fit = [s for s in spans if s.kind == "fit"]
    passed = sum(len(s) for s in spans if s.kind == "pass")
    listing = ", ".join(f"{s.kind} {s.first:.2f}-{s.last:.2f} s" for s in spans)
    return (f"{cuts + 1} shot(s); {len(fit)} span(s) fitted, one trajectory each; {passed} frame(s) passed through "
            f"(faceless, or one-frame shots): {listing}")
