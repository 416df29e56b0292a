"""The artifacts passed between stages, and dynode's tensor conventions.

Conventions (only ``dynode.io`` converts):
- images: float32, (N, 3, H, W), RGB, range [-1, 1]; video pixels: uint8 (T, H, W, 3).
- latents: (T, num_ws, w_dim) W+ codes; a W code is the same with all num_ws rows equal.
- times: float seconds from the first frame (float64 tensors), never frame indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from dynode.config import FitConfig, InversionConfig, PTIConfig, _Config
from dynode.errors import InputError


def check_times(times, name: str = "times") -> torch.Tensor:
    """Validate a 1-D time grid: finite, strictly increasing. Returns float64 (T,).

    Raises:
        InputError: not 1-D, non-finite, unsorted or duplicate entries.
    """
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1) if not torch.is_tensor(times) else times.double()
    if t.dim() != 1:
        raise InputError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or infinite values: {t.tolist()[:8]}")
    if t.numel() > 1 and not (t[1:] > t[:-1]).all():
        bad = int(torch.nonzero(t[1:] <= t[:-1])[0]) + 1
        raise InputError(f"{name} must be strictly increasing; entry {bad} is {t[bad].item()} after {t[bad - 1].item()}")
    return t


def bracket(observed: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The observations around each time: indices lo, hi = lo + 1 (N,) and the fraction (N,) of
    the way from observed[lo] to observed[hi], clamped to [0, 1] (times outside the span take
    the first or last interval's end).

    Args:
        observed: (T >= 2,) strictly increasing times. times: (N,) of the same dtype.
    """
    hi = torch.searchsorted(observed, times).clamp(1, len(observed) - 1)
    lo = hi - 1
    return lo, hi, ((times - observed[lo]) / (observed[hi] - observed[lo])).clamp(0, 1)


@dataclass(frozen=True, eq=False)
class GeneratorRecord:
    """Which generator codes belong to: what artifacts record, so that they reload it alone.

    Attributes:
        name: a bundled name or a model folder ("" for a generator built in memory, which
            artifacts cannot reload alone).
        id: 16 hex digits identifying the base weights (directions and encoders record it too;
            "" when unknown). A tuning delta does not change it.
        delta: a video's pivotal-tuning change of the weights, parameter name -> tensor (None: none).
    """

    name: str = ""
    id: str = ""
    delta: dict | None = None

    @property
    def label(self) -> str:
        """How a message names the generator."""
        return repr(self.name) if self.name else "(built in memory)"


@runtime_checkable
class Generator(Protocol):
    """What every stage needs of a generator: a loaded model, its pivotal-tuning delta applied.

    ``StyleGAN2Generator``, ``ZSpaceGenerator`` and converted models satisfy it. Stages receive
    the loaded object, never a name.

    Attributes:
        record: its identity (name, weight id, applied tuning delta), one frozen record.
        num_ws, w_dim: a code is (num_ws, w_dim). resolution: images are (3, R, R).
        mean_latent: (w_dim,) the mean code (inversion starts there).
        device: where its weights are.
    """

    record: GeneratorRecord

    @property
    def num_ws(self) -> int: ...

    @property
    def w_dim(self) -> int: ...

    @property
    def resolution(self) -> int: ...

    @property
    def mean_latent(self) -> torch.Tensor: ...

    @property
    def device(self) -> torch.device: ...

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """Codes (B, num_ws, w_dim) -> images (B, 3, R, R) in [-1, 1]."""


@dataclass(frozen=True)
class Span:
    """A run of a video's kept frames [start, stop) (indices), from ``first`` to ``last`` seconds.

    kind "fit": the frames are inverted and get a trajectory of their own; "pass": they are passed
    through from the source (faceless frames, one-frame shots).
    """

    kind: str
    start: int
    stop: int
    first: float
    last: float

    def __len__(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "stop": self.stop, "first": self.first, "last": self.last}


@dataclass
class Alignment:
    """Per-frame crops of a video: ``quads`` (T, 4) centre and half-side vector in frame pixels,
    ``landmarks`` (T, 68, 2), ``found`` (T,) whether a face was detected there, ``size`` the crop
    side in pixels, ``frame_shape`` (H, W) of the video, ``times`` (T,) seconds. Found by
    :func:`dynode.align.face.align_reader`; frames are cut to it by :mod:`dynode.io.crops`."""

    quads: np.ndarray
    landmarks: np.ndarray
    found: np.ndarray
    size: int
    frame_shape: tuple[int, int]
    times: np.ndarray

    def at(self, times) -> "Alignment":
        """The alignment at other times: crops and landmarks interpolated linearly in time."""
        t = np.asarray(times, np.float64).reshape(-1)

        def interp(a):
            flat = a.reshape(len(a), -1)
            return np.stack([np.interp(t, self.times, col) for col in flat.T], 1).reshape(len(t), *a.shape[1:])

        found = np.interp(t, self.times, self.found.astype(float)) > 0.5
        return Alignment(interp(self.quads), interp(self.landmarks), found, self.size, self.frame_shape, t)

    def to_dict(self) -> dict:
        return {"quads": self.quads.round(3).tolist(), "landmarks": self.landmarks.round(2).tolist(),
                "found": self.found.tolist(), "size": self.size, "frame_shape": list(self.frame_shape),
                "times": self.times.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Alignment":
        return cls(np.array(d["quads"], np.float64), np.array(d["landmarks"], np.float64), np.array(d["found"], bool),
                   int(d["size"]), tuple(d["frame_shape"]), np.array(d["times"], np.float64))


@dataclass(frozen=True)
class Source:
    """The video a latent sequence was inverted from, as later stages need it.

    Attributes:
        video: absolute path of the file. width, height: its frame size in pixels. fps: its
            nominal frame rate. duration: seconds from its first to its last frame.
        every: every n-th frame was inverted. has_audio: whether it has an audio stream.
        alignment: the face crop of each kept frame (None: frames were used whole or resized).
        spans: the kept frames' spans when the video has several (cuts, faceless stretches; see
            :mod:`dynode.io.shots`); empty: one span, every kept frame inverted and fitted together.
        cuts: times of the shot boundaries found (seconds).
    """

    video: str
    width: int
    height: int
    fps: float
    duration: float
    every: int = 1
    has_audio: bool = False
    alignment: Alignment | None = None
    spans: tuple[Span, ...] = ()
    cuts: tuple[float, ...] = ()

    def require(self, purpose: str, remedy: str | None = None) -> Path:
        """The video's path, checked to exist.

        Raises:
            InputError: the file was moved or deleted (the message names it and ``purpose``; its
                remedy is ``remedy``, see :data:`dynode.errors.REMEDIES`).
        """
        path = Path(self.video)
        if not path.exists():
            raise InputError(f"{purpose} needs the source video {self.video}, which is gone (moved or deleted); "
                             "put it back at that path", remedy)
        return path

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("video", "width", "height", "fps", "duration", "every", "has_audio")}
        d["alignment"] = None if self.alignment is None else self.alignment.to_dict()
        d["spans"] = [span.to_dict() for span in self.spans]
        d["cuts"] = list(self.cuts)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Source | None":
        if not d:
            return None
        align = d.get("alignment")
        return cls(d["video"], int(d["width"]), int(d["height"]), float(d["fps"]), float(d["duration"]),
                   int(d.get("every", 1)), bool(d.get("has_audio", False)),
                   None if align is None else Alignment.from_dict(align),
                   tuple(Span(**span) for span in d.get("spans", ())), tuple(d.get("cuts", ())))


@dataclass
class Frames:
    """Decoded video frames.

    Attributes:
        pixels: uint8 (T, H, W, 3) RGB.
        times: float64 (T,) seconds from the first frame.
        fps: nominal frame rate of the source (used when writing).
    """

    pixels: np.ndarray
    times: torch.Tensor
    fps: float

    def __post_init__(self):
        if self.pixels.ndim != 4 or self.pixels.shape[-1] != 3 or self.pixels.dtype != np.uint8:
            raise InputError(f"Frames.pixels must be uint8 (T, H, W, 3), got {self.pixels.dtype} {self.pixels.shape}")
        self.times = check_times(self.times, "Frames.times")
        if len(self.times) != len(self.pixels):
            raise InputError(f"Frames: {len(self.pixels)} frames but {len(self.times)} times")

    def __len__(self) -> int:
        return len(self.pixels)

    def select(self, index) -> "Frames":
        """A subset of the frames (index: slice, list or bool mask), times kept."""
        idx = torch.arange(len(self))[index]
        return Frames(self.pixels[idx.numpy()], self.times[idx], self.fps)


@dataclass(frozen=True)
class FitStats(_Config):
    """How a trajectory was fitted (see :func:`dynode.dynamics.fit`).

    Attributes:
        config: the fit's config.
        iterations: Adam iterations run. best_iteration: the one whose field was kept.
        best_loss, last_window_loss: the kept field's loss, and the mean over the last iterations.
        selected_by: "heldout" (the loss on held-out frames chose the field) or "full".
        subspace_dim: the dimension the field lives in. seconds: wall time of the fit.
        motion_gains: the gains of the motion edits applied since (see :func:`dynode.edit.scale_motion`).
    """

    config: FitConfig
    iterations: int
    last_window_loss: float
    best_loss: float
    best_iteration: int
    selected_by: str
    subspace_dim: int
    seconds: float
    motion_gains: tuple[float, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "motion_gains", tuple(float(g) for g in self.motion_gains))


@dataclass(frozen=True)
class InversionStats(_Config):
    """How codes were inverted (see :func:`dynode.inversion.invert`).

    Attributes:
        config: the inversion's config. init: where optimisation started ("encoder", "previous", "mean").
        seconds: wall time. seconds_per_frame: the same per frame.
    """

    config: InversionConfig
    init: str
    seconds: float
    seconds_per_frame: float


@dataclass(frozen=True)
class TuningStats(_Config):
    """How a generator was tuned to a video's codes (see :func:`dynode.inversion.pivotal_tuning`).

    Attributes:
        config: the tuning's config. psnr_before, psnr_after: the codes' mean PSNR (dB) with the
            generator before and after. seconds: wall time.
    """

    config: PTIConfig
    psnr_before: float
    psnr_after: float
    seconds: float


@dataclass
class LatentSequence:
    """Per-frame inverted codes of a video.

    Attributes:
        times: float64 (T,) seconds.
        latents: float32 (T, num_ws, w_dim).
        losses: float32 (T,) final inversion loss per frame.
        psnr: float32 (T,) reconstruction PSNR per frame, dB.
        generator: the generator the codes belong to (with the video's tuning delta, if tuned).
        space: "w+" or "w".
        stats: how they were inverted (None for codes made otherwise).
        tuning: how the generator was tuned to them (None: not tuned).
        source: the video the codes were inverted from (None: frames given in memory).
    """

    times: torch.Tensor
    latents: torch.Tensor
    losses: torch.Tensor
    psnr: torch.Tensor
    generator: GeneratorRecord
    space: str = "w+"
    stats: InversionStats | None = None
    tuning: TuningStats | None = None
    source: Source | None = None

    def __post_init__(self):
        self.times = check_times(self.times, "LatentSequence.times")
        if self.latents.dim() != 3 or self.latents.shape[0] != len(self.times):
            raise InputError(f"LatentSequence.latents must be (T={len(self.times)}, num_ws, w_dim), "
                             f"got {tuple(self.latents.shape)}")
        if not torch.isfinite(self.latents).all():
            bad = torch.nonzero(~torch.isfinite(self.latents.flatten(1)).all(1)).flatten().tolist()
            raise InputError(f"LatentSequence.latents contain NaN/inf at frames {bad[:10]}")

    def __len__(self) -> int:
        return len(self.times)

    def select(self, index) -> "LatentSequence":
        idx = torch.arange(len(self))[index]
        return LatentSequence(self.times[idx], self.latents[idx], self.losses[idx], self.psnr[idx],
                              self.generator, self.space, self.stats, self.tuning, self.source)
