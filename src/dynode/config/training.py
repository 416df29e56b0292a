"""Configurations of the training commands that make a generator's bundled models: its inversion
encoder (``dynode train-encoder``), its motion prior (``dynode train-prior``) and its learned edit
directions (``dynode directions fit --method learned``)."""

from __future__ import annotations

from dataclasses import dataclass

from dynode.config import _Config, check_choice
from dynode.errors import InputError


@dataclass(frozen=True)
class EncoderConfig(_Config):
    """Training an inversion encoder through the generator (:mod:`dynode.inversion.encoder`).

    Args:
        steps: Adam steps. batch: images a step. lr: Adam learning rate. width: the CNN's base width.
        passes: corrections from the mean code (ReStyle's iterations; inversion applies as many).
        image_weight, perceptual_weight: the rendered pass against its target: mean squared error
            (images in [-1, 1]) on every pass, ST-LPIPS on the last.
        code_weight: the codes of the generator's samples against the true ones, in spreads squared.
        delta_weight: each layer's code against the codes' mean over layers, in spreads squared (e4e's
            regulariser: codes near W stay editable).
        toy: the share of each batch drawn from the toy-face world instead of the generator's samples
            (for a generator of toy faces: the real images of its domain).
        mixing: probability of a style-mixed sample. jitter: per-layer noise added to sampled codes,
            in units of their spread (inverted W+ codes stray from the samples' W).
        truncation: sampled codes are pulled this far towards the mean (1: none).
        seed: seeds the samples.
    """

    steps: int = 3000
    batch: int = 16
    lr: float = 1e-3
    width: int = 32
    passes: int = 3
    image_weight: float = 1.0
    perceptual_weight: float = 0.2
    code_weight: float = 0.01
    delta_weight: float = 0.001
    toy: float = 0.0
    mixing: float = 0.5
    jitter: float = 0.2
    truncation: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch < 1 or self.width < 1 or self.passes < 1 or not self.lr > 0:
            raise InputError(f"EncoderConfig: steps, batch, width, passes >= 1 and lr > 0; got {self.to_dict()}")
        if min(self.image_weight, self.perceptual_weight, self.code_weight, self.delta_weight) < 0 \
                or not 0 <= self.toy <= 1:
            raise InputError(f"EncoderConfig: loss weights >= 0 and toy in [0, 1]; got {self.to_dict()}")
        if not (0 <= self.mixing <= 1 and self.jitter >= 0 and 0 < self.truncation <= 1):
            raise InputError(f"EncoderConfig: mixing in [0, 1], jitter >= 0, truncation in (0, 1]; got {self.to_dict()}")


# How smooth a resonator of the motion prior is: the Matern order of its envelope, or "inf" (the limit, a
# squared-exponential envelope: analytic paths).
SMOOTHNESS = ("1/2", "3/2", "5/2", "inf")


@dataclass(frozen=True)
class PriorConfig(_Config):
    """Training a motion prior across many videos' codes (:mod:`dynode.dynamics.prior`).

    Args:
        components: principal components of the training codes the prior moves in.
        resonators: stochastic resonators per component. smoothness: their Matern order
            ("5/2": twice differentiable paths; "1/2": the damped oscillator, rough paths; "inf": the
            limit, analytic paths).
        steps: Adam steps. batch: training videos a step. lr: Adam learning rate.
        min_fps, max_fps: the kept rates drawn (log-uniformly) for each step's sparse subsets.
        max_observed: at most this many observations a subset. queries: codes predicted a video,
            in between the kept ones and up to ``horizon`` kept intervals past the last.
        jitter: each kept time moves by up to this share of the kept interval (irregular sampling).
        seed: seeds the subsets.
    """

    components: int = 32
    resonators: int = 4
    smoothness: str = "5/2"
    steps: int = 1500
    batch: int = 32
    lr: float = 0.02
    min_fps: float = 0.5
    max_fps: float = 4.0
    max_observed: int = 24
    queries: int = 16
    horizon: int = 8
    jitter: float = 0.25
    seed: int = 0

    def __post_init__(self):
        check_choice("prior smoothness", self.smoothness, SMOOTHNESS)
        if min(self.components, self.resonators, self.steps, self.batch, self.queries, self.horizon) < 1 \
                or self.max_observed < 3 or not self.lr > 0:
            raise InputError(f"PriorConfig: components, resonators, steps, batch, queries, horizon >= 1, "
                             f"max_observed >= 3 and lr > 0; got {self.to_dict()}")
        if not 0 < self.min_fps <= self.max_fps or not 0 <= self.jitter < 0.5:
            raise InputError(f"PriorConfig: need 0 < min_fps <= max_fps and jitter in [0, 0.5); got {self.to_dict()}")


@dataclass(frozen=True)
class LearnConfig(_Config):
    """Learning an edit direction through the generator and an attribute reader (:mod:`dynode.edit.learn`).

    Args:
        steps: Adam steps. lr: Adam learning rate of the offset.
        samples, toy: each step's codes: the generator's samples, and the encoder's codes of toy-face
            frames (the codes inversion gives; none for a generator without an encoder).
        pool: codes of each kind drawn once, whose renders and readings are kept.
        gain_cap: the target attribute's change (0-1) beyond which a code stops pulling the offset.
        other_weight: weight of the mean change of the other attributes.
        pixel_weight: weight of the mean pixel change (images in [-1, 1]).
        norm_weight: weight of the offset's squared norm (keeps the codes near the generator's).
        unit_change: the change of the attribute, on the generator's samples, that strength 1 makes.
        seed: seeds the codes, the signs and the frames.
    """

    steps: int = 150
    lr: float = 0.05
    samples: int = 16
    toy: int = 8
    pool: int = 256
    gain_cap: float = 0.35
    other_weight: float = 3.0
    pixel_weight: float = 0.5
    norm_weight: float = 0.002
    unit_change: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if min(self.steps, self.samples, self.pool) < 1 or self.toy < 0 or not self.lr > 0 \
                or not 0 < self.gain_cap <= 1 or not 0 < self.unit_change <= 1 \
                or min(self.other_weight, self.pixel_weight, self.norm_weight) < 0:
            raise InputError(f"LearnConfig: steps, samples and pool >= 1, toy >= 0, lr > 0, gain_cap and unit_change "
                             f"in (0, 1], weights >= 0; got {self.to_dict()}")
