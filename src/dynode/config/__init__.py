"""Frozen configurations of the algorithms, with a JSON round trip and a short hash; those of the
training commands (the encoder, the motion prior) are in :mod:`dynode.config.training`."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import typing
from dataclasses import dataclass, fields, replace

from dynode.errors import InputError

# How a render is made: the generator's picture alone, or with the video's own detail carried along.
FIDELITIES = ("latent", "detail")
# The default of interpolation, extrapolation and a run's renders: the video's own detail carried along.
RENDER_FIDELITY = "detail"
# The default of an edit and of rendering codes as they are: the generator's picture.
EDIT_FIDELITY = "latent"
# How a fitted trajectory is evaluated (the same word and values in every command): exact, through every
# observed code; initial, the paper's single solve from the first code. An edit rides on the exact path
# unless told otherwise.
PATHS = ("exact", "initial")
EDIT_PATH = "exact"
# The latent baselines: the same codes interpolated without the dynamics (dynode.baselines).
LATENT_BASELINES = ("linear", "slerp", "spline")
# The paths a video can be rendered along: "auto" (each span's way chosen by its own kept frames, see
# dynode.choice), the fitted dynamics', or a latent baseline inside the observed span (the dynamics
# beyond it), for interpolation and extrapolation only: an edit rides on the dynamics.
RENDER_PATHS = ("auto", *PATHS, *LATENT_BASELINES)
DEFAULT_PATH = "auto"
# The generator every command, the app and the API use unless told another: the bundled toy-face StyleGAN2.
DEFAULT_GENERATOR = "toyfaces64"
# How an edit rides on the path: every frame renders its own edit, added to its code, with the look of
# a colour edit held from the keyframe (auto), hold the first frame's look of every edit along the
# video's motion, edit the first code and carry it, add it to every code, or carry it at a per-frame
# gain that holds its effect (see :mod:`dynode.edit.modes`).
EDIT_MODES = ("auto", "keyframe", "first-frame", "per-frame", "locked")


def check_choice(what: str, value: str, valid: tuple[str, ...]) -> str:
    """``value`` if it is one of ``valid``.

    Raises:
        InputError: naming ``what``, the value and the valid ones.
    """
    if value not in valid:
        raise InputError(f"unknown {what} {value!r}; valid: {list(valid)}")
    return value


class _Config:
    """Base of every configuration: a frozen dataclass with a JSON round trip and a hash."""

    def to_dict(self) -> dict:
        """The fields as plain data (nested configs as dicts)."""
        return {f.name: getattr(self, f.name).to_dict() if isinstance(getattr(self, f.name), _Config)
                else copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict):
        """The config from its ``to_dict`` form (nested configs included).

        Raises:
            InputError: unknown keys, or values the config refuses.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise InputError(f"{cls.__name__}: unknown keys {unknown}; valid keys are {sorted(known)}")
        values, hints = dict(d), typing.get_type_hints(cls)
        for name, value in d.items():
            for kind in typing.get_args(hints[name]) or (hints[name],):  # a config, or a config or None
                if isinstance(kind, type) and issubclass(kind, _Config) and isinstance(value, dict):
                    values[name] = kind.from_dict(value)
        return cls(**values)

    def hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the sorted JSON form."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ReadConfig(_Config):
    """How a video's frames are taken before inversion.

    Args:
        every: keep every n-th frame.
        resize: centre-crop and resize frames of another size to the generator's.
        align: crop the face of each frame FFHQ-style (needs the extra ``face``).
        sigma: with ``align``, temporal smoothing of the crop transform, in frames.
        shots: find cuts and give every shot a trajectory of its own (see :mod:`dynode.io.shots`).
        shot_threshold: the content score (0-255) from which a frame can start a new shot.
        min_face_share: with ``align``, refuse a video with a usable face in fewer of its frames.
        bridge: with ``align``, faceless gaps up to this long (seconds) stay inside their span;
            longer ones are passed through and split the video into face tracks.
        min_face: with ``align``, faces whose crop is smaller (pixels a side) count as faceless.
    """

    every: int = 1
    resize: bool = False
    align: bool = False
    sigma: float = 2.0
    shots: bool = True
    shot_threshold: float = 27.0
    min_face_share: float = 0.5
    bridge: float = 0.5
    min_face: float = 48.0

    def __post_init__(self):
        if self.every < 1:
            raise InputError(f"ReadConfig.every must be >= 1, got {self.every}")
        if self.sigma < 0:
            raise InputError(f"ReadConfig.sigma (alignment smoothing, in frames) must be >= 0, got {self.sigma}")
        if not 0 <= self.min_face_share <= 1:
            raise InputError(f"ReadConfig.min_face_share must be in [0, 1], got {self.min_face_share}")
        if self.bridge < 0 or self.min_face < 0 or not self.shot_threshold > 0:
            raise InputError(f"ReadConfig: bridge and min_face must be >= 0 and shot_threshold > 0, got "
                             f"{self.bridge}, {self.min_face}, {self.shot_threshold}")


@dataclass(frozen=True)
class PTIConfig(_Config):
    """Pivotal tuning (Roich et al. 2022): fine-tune the synthesis network around the inverted codes.

    Args:
        steps: Adam steps over random batches of frames.
        lr: Adam learning rate of the synthesis weights.
        batch_size: frames a step.
        locality_weight: weight of the locality regulariser (0: off). Each step a code is taken
            ``locality_distance`` sampled-code standard deviations from a pivot towards a random
            sample, and the tuned generator's image there is pulled towards the original's.
        locality_distance: how far from the pivots the regulariser looks, in standard deviations.
        locality_every: the regulariser is taken every this many steps, weighted by as many (it costs
            more than the reconstruction term: two more renders and a backward pass).
        ssim_weight: weight of the structural (1 - SSIM) term beside the pixel MSE.
    """

    steps: int = 300
    lr: float = 3e-3
    batch_size: int = 4
    locality_weight: float = 0.1
    locality_distance: float = 3.0
    locality_every: int = 4
    ssim_weight: float = 0.5

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.locality_every < 1 or not self.lr > 0 \
                or self.locality_weight < 0 or not self.locality_distance > 0:
            raise InputError("PTIConfig: steps, batch_size and locality_every must be >= 1, lr and locality_distance "
                             f"> 0, locality_weight >= 0; got {self.to_dict()}")


@dataclass(frozen=True)
class InversionConfig(_Config):
    """How a video's frames become codes, and whether the generator is tuned to them.

    Two recipes, chosen by ``init``, ``steps`` and ``tune``: with an encoder (the default when the
    generator has one) every frame's code is the encoder's and one pivotal tuning of the generator
    serves the whole video (STIT's recipe; its cost is set by the tuning's steps, not by the number
    of frames); without one, every frame is optimised, warm-started from the frame before.

    Args:
        space: "w+" (one code per layer) or "w" (one code broadcast to every layer).
        steps_first: Adam steps for the first frame of a span, started from the mean latent (not with
            the encoder, whose codes start every frame).
        steps: Adam steps for every other frame (and with the encoder every frame). None: 0 with the
            encoder (its codes as they are), 100 without.
        lr: peak Adam learning rate (cosine ramp-down over the last 25% of steps).
        batch_size: frames optimised together; a batch starts from the last code of the previous one.
        ssim_weight: weight of the structural (1 - SSIM) term added to the pixel MSE.
        perceptual_weight: weight of the ST-LPIPS perceptual distance added to the loss.
        init: where optimisation starts: "auto" (the generator's encoder if it has one, else
            "previous"), "encoder" (the first frame from the encoder's code, each later batch from
            the previous solution moved by the encoder's change between the frames), "mean" (each
            batch from the mean code) or "previous" (the first frame from the mean code, each
            later batch from the previous batch's last code).
        passes: the encoder's passes (None: as many as it was trained with).
        tune: pivotal tuning of the generator around the codes, as ``tuning`` says. None: when the
            codes are the encoder's alone (no optimisation steps).
        tuning: how the generator is tuned.

    Raises:
        InputError: an unknown init or space, negative steps or weights, or 0 steps without the encoder.
    """

    space: str = "w+"
    steps_first: int = 300
    steps: int | None = None
    lr: float = 0.05
    batch_size: int = 4
    ssim_weight: float = 0.5
    perceptual_weight: float = 0.0
    init: str = "auto"
    passes: int | None = None
    tune: bool | None = None
    tuning: PTIConfig = PTIConfig()

    def __post_init__(self):
        if self.init not in ("auto", "encoder", "mean", "previous"):
            raise InputError(f"InversionConfig.init must be auto, encoder, mean or previous, got {self.init!r}")
        if self.space not in ("w", "w+"):
            raise InputError(f"InversionConfig.space must be 'w' or 'w+', got {self.space!r}")
        if self.steps_first < 1 or (self.steps or 0) < 0 or self.batch_size < 1:
            raise InputError("InversionConfig: steps_first and batch_size must be >= 1 and steps >= 0, got "
                             f"{self.steps_first}, {self.steps}, {self.batch_size}")
        if self.steps == 0 and self.init in ("mean", "previous"):
            raise InputError(f"InversionConfig: 0 steps (the encoder's codes as they are) with init {self.init!r}, "
                             "which does not use the encoder; choose init auto or encoder, or steps >= 1")
        if min(self.lr, self.ssim_weight, self.perceptual_weight) < 0:
            raise InputError("InversionConfig: lr, ssim_weight and perceptual_weight must be >= 0")
        if self.passes is not None and self.passes < 1:
            raise InputError(f"InversionConfig.passes must be >= 1, got {self.passes}")

    def resolved(self, has_encoder: bool, generator: str = "the generator") -> "InversionConfig":
        """This config with its automatic choices made for a generator with or without an encoder:
        ``init`` "encoder" or "previous" for "auto", ``steps`` and ``tune`` set.

        Args:
            generator: how an error names the generator.

        Raises:
            InputError: init "encoder", or 0 steps, without an encoder (remedy "encoder").
        """
        init = ("encoder" if has_encoder else "previous") if self.init == "auto" else self.init
        if init == "encoder" and not has_encoder:
            raise InputError(f"inversion init 'encoder' needs an encoder: {generator} has no encoder", "encoder")
        if self.steps == 0 and not has_encoder:
            raise InputError(f"inversion with 0 steps keeps the encoder's codes: {generator} has no encoder; give "
                             "the steps to optimise each frame", "encoder")
        steps = self.steps if self.steps is not None else (0 if init == "encoder" else 100)
        tune = self.tune if self.tune is not None else steps == 0
        return replace(self, init=init, steps=steps, tune=tune)


@dataclass(frozen=True)
class SolverConfig(_Config):
    """How the ODE is solved (torchdiffeq).

    Args:
        method: "dopri5" (adaptive) or "rk4" (fixed step).
        rtol, atol: the adaptive solver's tolerances.
        step_size: the rk4 step (and the SDE's Euler-Maruyama step), in normalised time.
    """

    method: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    step_size: float = 0.02

    def __post_init__(self):
        if self.method not in ("dopri5", "rk4"):
            raise InputError(f"SolverConfig.method must be 'dopri5' or 'rk4', got {self.method!r}")
        if not (self.rtol > 0 and self.atol > 0 and self.step_size > 0):
            raise InputError(f"SolverConfig: rtol, atol and step_size must be > 0, got {self.to_dict()}")


@dataclass(frozen=True)
class FitConfig(_Config):
    """Fitting a vector field to a latent sequence.

    Args:
        field: vector field name (see ``dynode.dynamics.FIT_FIELDS``): "auto" (the default) is the
            generator's motion prior where it has one (it predicts past the video better), else "mlp".
        solver: how the ODE is solved (:class:`SolverConfig`).
        subspace_dim: fit on this many principal components of the video's own latents
            (0: the full latent space).
        hidden: width of the field's MLP.
        iters: Adam iterations (of every field but "prior").
        refine: for field "prior": Adam steps refining it on the video's own likelihood (0, the default:
            conditioned only; a refined prior follows the video's own codes more closely, which helps
            long videos and hurts short ones, see the motion prior's results page).
        refine_ahead: for field "prior" with ``refine`` 0: Adam steps of a refinement used past the end of
            the video only, where a backtest says it forecasts better (refined on the first three quarters
            of the codes, it forecasts the last quarter better than the prior conditioned alone); between
            the codes the path stays the conditioned prior's. 0: never.
        lr: Adam learning rate.
        windows: random sub-windows of observations solved per iteration.
        adjoint: back-propagate with the adjoint method (memory constant in the number of
            frames and solver steps, about twice the time).
        holdout: fraction of the interior observations held out to choose the best model
            (by the exact-endpoint path's error there) and to stop early; 0: none.
        patience: with a hold-out, stop after this many checks (every 25 iterations) without
            improvement.
        image_weight: weight of an image-space term: predicted codes are rendered and compared
            with the observed frames by ST-LPIPS (0: off; needs the generator and the frames).
        image_frames: predicted frames rendered per iteration for that term.
        seed: seeds the initialisation, the window draws and the hold-out draw.
    """

    field: str = "auto"
    solver: SolverConfig = SolverConfig()
    subspace_dim: int = 16
    hidden: int = 128
    iters: int = 300
    refine: int = 0
    refine_ahead: int = 50
    lr: float = 1e-2
    windows: int = 8
    adjoint: bool = False
    holdout: float = 0.0
    patience: int = 4
    image_weight: float = 0.0
    image_frames: int = 4
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.solver, SolverConfig):
            raise InputError(f"FitConfig.solver must be a SolverConfig, got {self.solver!r}")
        if min(self.subspace_dim, self.refine, self.refine_ahead) < 0 \
                or min(self.iters, self.windows, self.hidden, self.patience) < 1:
            raise InputError("FitConfig: subspace_dim, refine and refine_ahead must be >= 0 and iters, windows, hidden, "
                             "patience >= 1")
        if self.image_weight < 0 or self.image_frames < 1:
            raise InputError(f"FitConfig: image_weight must be >= 0 and image_frames >= 1, got "
                             f"{self.image_weight}, {self.image_frames}")
        if not 0 <= self.holdout < 1:
            raise InputError(f"FitConfig.holdout must be in [0, 1), got {self.holdout}")


# How a locked edit measures its effect on a frame (see dynode.edit.lock): "auto" is the probe for
# a direction of one of its attributes where the generator has a probe, the pixels otherwise.
RESPONSES = ("auto", "pixels", "projection", "probe")


@dataclass(frozen=True)
class DetailConfig(_Config):
    """How detail is carried along the latent path (:mod:`dynode.detail`).

    Args:
        consistency: the mean difference (0-255 levels) between the render at the new time and a
            neighbour's render warped onto it along the flow at which that neighbour's confidence
            falls to exp(-1); larger trusts the flow more.
        edit_threshold: mean |edited - unedited| change (0-255 levels) above which only the
            residual's high frequencies are kept. highpass_sigma: the Gaussian (pixels) whose
            blur is removed from the residual there.
        horizon: outside the observed span the residual fades as exp(-d / (horizon * gap)), d
            the distance to the nearest observation and gap the median interval between
            observations: the last frame's detail is stale seconds later.
        real_flow: for unedited renders between two observations, take the picture from optical
            flow between the two real frames wherever that flow is consistent (forward-backward
            error, scaled by ``real_consistency`` pixels), and from the latent path elsewhere.
        per_stretch: ``auto`` chooses how to draw each stretch between kept frames from the checks
            around it, instead of one way for the whole span (see :mod:`dynode.choice`).
    """

    consistency: float = 48.0
    edit_threshold: float = 12.0
    highpass_sigma: float = 1.5
    horizon: float = 2.0
    real_flow: bool = False
    real_consistency: float = 1.0
    per_stretch: bool = False

    def __post_init__(self):
        if not (self.consistency > 0 and self.edit_threshold > 0 and self.highpass_sigma > 0 and self.horizon > 0
                and self.real_consistency > 0):
            raise InputError(f"DetailConfig: every field must be > 0, got {self.to_dict()}")


@dataclass(frozen=True)
class LockConfig(_Config):
    """Locked propagation (:mod:`dynode.edit.lock`).

    Args:
        response: "auto", "pixels", "projection" or "probe" (see :mod:`dynode.edit.lock`).
        target: with the probe, the attribute value (0-1) to reach on every frame, instead of the
            first frame's change.
        stride: a keyframe every this many frames (the last frame is always one).
        iterations: at most this many secant steps a keyframe (one render each).
        tolerance: a keyframe is held once its response is within this share of the target
            (of 1 with the pixels); only the keyframes not yet held are rendered again.
        max_gain: the gain on the carried edit is kept in [0, max_gain].
        realism: gains are lowered where a code would lie more than this share further from W than
            the carried edit's (:func:`dynode.metrics.appearance.w_distance`; None: only ``max_gain``).
        smoothing: the smoothing spline's penalty on the gain's curvature, time counted in
            frames (None: chosen by generalised cross-validation, which on the toy faces smoothed
            too much to hold the probe's reading).
    """

    response: str = "auto"
    target: float | None = None
    stride: int = 2
    iterations: int = 4
    tolerance: float = 0.05
    max_gain: float = 4.0
    realism: float | None = 0.1
    smoothing: float | None = 0.05

    def __post_init__(self):
        check_choice("response", self.response, RESPONSES)
        if self.target is not None and self.response in ("pixels", "projection"):
            raise InputError("a target attribute value needs the probe response", "response_probe")
        if self.stride < 1 or self.iterations < 1 or not self.max_gain > 0 or self.tolerance < 0 \
                or (self.realism is not None and not self.realism >= 0):
            raise InputError(f"LockConfig: stride and iterations must be >= 1, max_gain > 0, tolerance >= 0 and "
                             f"realism None or >= 0, got {self.to_dict()}")


@dataclass(frozen=True)
class EditSpec(_Config):
    """Edits as a user names them (see :meth:`dynode.pipelines.VideoPipeline.make_edits`).

    Args:
        directions: direction names of the generator's library, or files (``.safetensors[:NAME]``, ``.npy``).
        strengths: one for all directions, or one each (a learned direction: tenths of its attribute's
            range; others: standard deviations of W along the direction).
        propagation: one of :data:`EDIT_MODES`; the default, "auto", of the CLI, the app and ``run``
            alike: every frame renders its own edit, added to its code (a mouth that moves keeps moving,
            edited), the look of a colour edit (a direction made for hair colour or skin) is held from
            the keyframes along the video's motion, and a learned edit the generator's probe reads is
            raised until it moves its attribute by its strength's amount on the video
            (:func:`dynode.edit.modes.calibrated`).
        layers: W+ layers to edit ("coarse", "0-3", "1,4,5"; None: each direction's own).
        conditions: directions projected out of the edits, so their attributes stay put.
        schedule: time:weight keyframes fading the edits over time (None: full strength throughout).
        lock: how a locked edit measures and holds its effect.
        auto_condition: also condition each edit on every direction of the generator's library
            made for another attribute, so that what the edit does not name stays put.
        steady: in [0, 1): the edit's change to the picture averaged over neighbouring frames
            along the video's motion, a neighbour one frame away weighing half this (0: off; see
            :mod:`dynode.edit.steady`).
        keyframes: "keyframe" and "auto" propagation: times (s) whose edit is held nearest them (default:
            the first).
        base_change: on a generator tuned to the video, draw the edit's change as the generator before the
            tuning draws it (its render of the edited codes minus its render of the unedited ones, added to
            the tuned render): the directions were made for it, and the tuning weakens their effect.
        motion: (component, gain) pairs applied to the dynamics first, a component being "pcK" (the
            video's K-th principal motion) or a direction (name or file).
        path: the unedited motion the edit rides on, one of :data:`PATHS` ("initial" with first-frame
            propagation is the paper's single solve).
        factor: render at this multiple of the observed rate (ignored with ``times``). times: seconds to
            render at (None: the factor's grid).
        compare: the unedited video on the left. full_frame: paste into the source video (aligned sources).
        fidelity: one of :data:`FIDELITIES`: the generator's picture, or the video's detail on the edited
            renders (its motion read from the unedited ones).
    """

    directions: tuple[str, ...] = ()
    strengths: tuple[float, ...] = (2.0,)
    propagation: str = "auto"
    layers: str | None = None
    conditions: tuple[str, ...] = ()
    schedule: str | None = None
    lock: LockConfig = LockConfig()
    auto_condition: bool = False
    steady: float = 0.6
    keyframes: tuple[float, ...] = ()
    base_change: bool = True
    motion: tuple[tuple[str, float], ...] = ()
    path: str = EDIT_PATH
    factor: int = 1
    times: tuple[float, ...] | None = None
    compare: bool = False
    full_frame: bool = False
    fidelity: str = EDIT_FIDELITY

    def __post_init__(self):
        for name in ("directions", "conditions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "motion", tuple((str(c), float(g)) for c, g in self.motion))
        object.__setattr__(self, "times", _seconds(self.times))
        check_choice("path of an edit (it rides on the fitted dynamics)", self.path, PATHS)
        check_choice("fidelity", self.fidelity, FIDELITIES)
        if self.factor < 1:
            raise InputError(f"the factor must be >= 1, got {self.factor}")
        object.__setattr__(self, "strengths", tuple(float(s) for s in self.strengths))
        if len(self.strengths) not in (1, len(self.directions)):
            raise InputError(f"give one strength for all directions or one for each: {len(self.directions)} "
                             f"directions, {len(self.strengths)} strengths")
        check_choice("propagation", self.propagation, EDIT_MODES)
        if not 0 <= self.steady < 1:
            raise InputError(f"steady must be in [0, 1), got {self.steady}")
        object.__setattr__(self, "keyframes", tuple(sorted({float(t) for t in self.keyframes})))
        if not all(math.isfinite(t) and t >= 0 for t in self.keyframes):
            raise InputError(f"keyframe times must be finite seconds >= 0, got {list(self.keyframes)}")
        if self.keyframes and self.propagation not in ("keyframe", "auto"):
            raise InputError(f"keyframe times (--keyframe) are used by keyframe and auto propagation only; "
                             f"{self.propagation!r} would ignore them")
        if self.lock != LockConfig() and self.propagation != "locked":
            raise InputError(f"the lock's settings (--response, --target) are used by locked propagation only; "
                             f"{self.propagation!r} would ignore them")

    def pairs(self) -> list[tuple[str, float]]:
        """(direction, strength) for every direction."""
        strengths = self.strengths * len(self.directions) if len(self.strengths) == 1 else self.strengths
        return list(zip(self.directions, strengths))



def _seconds(times) -> tuple[float, ...] | None:
    """Times (any sequence, or a tensor) as a tuple of floats; None stays None."""
    return None if times is None else tuple(float(t) for t in times)


@dataclass(frozen=True)
class Interpolation(_Config):
    """An interpolation (see :meth:`dynode.pipelines.VideoPipeline.interpolate`).

    Args:
        factor: render at this multiple of the observed rate (8 when no factor, fps, times or slowdown is given).
        fps: render at this rate. times: render at these seconds.
        slowdown: slow motion: the video this many times longer, rendered at ``slowdown`` x ``out_fps``.
        out_fps: the playback rate (default: the render rate; with a slowdown, the source video's rate);
            the source's audio is stretched to the new duration with its pitch kept.
        path: one of :data:`RENDER_PATHS`. full_frame: paste into the source video (aligned sources).
        fidelity: one of :data:`FIDELITIES`.

    Raises:
        InputError: several of factor, fps, times and slowdown, or values out of range.
    """

    factor: int | None = None
    fps: float | None = None
    times: tuple[float, ...] | None = None
    slowdown: float | None = None
    out_fps: float | None = None
    path: str = DEFAULT_PATH
    full_frame: bool = False
    fidelity: str = RENDER_FIDELITY

    def __post_init__(self):
        object.__setattr__(self, "times", _seconds(self.times))
        check_choice("path", self.path, RENDER_PATHS)
        check_choice("fidelity", self.fidelity, FIDELITIES)
        if self.slowdown is not None and (self.factor or self.fps or self.times):
            raise InputError("slow motion sets the render rate itself (slowdown x the playback rate); leave out "
                             "the factor, fps and times")
        if self.slowdown is not None and not self.slowdown > 0:
            raise InputError(f"slow motion: the slowdown must be positive, got {self.slowdown}")
        if self.out_fps is not None and not self.out_fps > 0:
            raise InputError(f"the playback rate must be positive, got {self.out_fps}")


@dataclass(frozen=True)
class Extrapolation(_Config):
    """An extrapolation (see :meth:`dynode.pipelines.VideoPipeline.extrapolate`): from the first observation
    to ``seconds`` past the last one at ``fps`` (default: the observed rate), with ``samples`` futures drawn
    from the neural SDE side by side (0: the ODE's one; ``seed`` seeds them).

    Raises:
        InputError: a negative duration or number of samples, or an unknown path or fidelity.
    """

    seconds: float = 1.0
    fps: float | None = None
    path: str = DEFAULT_PATH
    samples: int = 0
    seed: int = 0
    fidelity: str = RENDER_FIDELITY

    def __post_init__(self):
        check_choice("path", self.path, RENDER_PATHS)
        check_choice("fidelity", self.fidelity, FIDELITIES)
        if not self.seconds >= 0 or self.samples < 0:
            raise InputError(f"extrapolation: seconds and samples must be >= 0, got {self.seconds}, {self.samples}")
