"""Locked edits: the look set on the first frame holds over the whole video.

An edit carried from the first frame (``first-frame`` propagation) changes strength over time:
the same latent offset reads differently on a face that turned, smiled or moved into other
light. ``locked`` propagation measures the edit's effect on each frame with a response
function and solves a per-frame gain g(t) on the carried edit so that the response equals the
first frame's (or a ``target`` attribute value), then smooths g over time so that the
correction does not flicker (what is left of the flicker, the steady edit of
:mod:`dynode.edit.steady` averages along the motion):

    w(t) = path(t) + s(t) g(t) E(t),   E(t) = Phi_t(w0 + a sigma d) - Phi_t(w0)

(s: the edit's schedule). Responses (``dynode.config.RESPONSES``):

- ``pixels`` (any generator, no labels): the size of the edited-minus-unedited image change
  against the first frame's change warped into the frame's geometry by DIS flow between the
  unedited renders, signed by whether the two agree; 1 means "the picture changes as much as
  the first frame's did";
- ``projection``: the change projected on the first frame's warped change instead, the pixel
  response before edits held. It reads a change the flow misplaces as a weaker edit and raises
  the gain for it, so it overshoots the first frame's edit where the size of the change does not;
- ``probe`` (toy faces): the attribute probe's reading of the direction's attribute, changed
  against the unedited frame; with ``target`` the attribute's absolute value instead;
- ``auto`` (default): the probe where the generator has one and it reads the direction's
  attribute, the pixels otherwise (a SeFa or GANSpace direction, a user's vector, a generator
  without a probe).

The gain is solved on keyframes (every ``stride``-th frame and the last; every 2nd frame by
default) by secant steps from g = 0 and g = 1 until the response is within ``tolerance`` (5%)
of the target (at most ``iterations``, 4, steps; only the keyframes not yet held are rendered
again), then a light smoothing spline through the keyframe gains gives every frame's gain. A
keyframe the steps leave unheld at a gain bound (the edit saturates there, or turns into another
attribute) keeps the carried edit, gain 1, rather than a code pushed off the generator's faces;
its :class:`LockReport` names it (``at_bound``) and the pipeline logs a warning.
Solving every frame (``stride`` 1) with more steps and a tighter tolerance holds an edit a little
more evenly at a higher cost (``make bench-edit`` measures both).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.interpolate import make_smoothing_spline

from dynode.config import LockConfig
from dynode.dynamics import EDIT_PATH, Trajectory
from dynode.edit.propagate import Edit, carry
from dynode.errors import InputError
from dynode.flow import DISFlow, warp
from dynode.io.images import to_uint8
from dynode.metrics.appearance import w_distance, w_stats
from dynode.metrics.attributes import ATTRIBUTES, read_attributes
from dynode.render import render_images
from dynode.types import Generator

class _PixelResponse:
    """A keyframe's picture change against the first keyframe's (1 at the first, see the module)."""

    def __init__(self, plain: torch.Tensor, full: torch.Tensor, projected: bool = False):
        self.plain, self.projected = plain, projected
        change = (full[0] - plain[0]).permute(1, 2, 0).numpy()
        px = to_uint8(plain)
        dis = DISFlow()
        self.reference = torch.stack([torch.from_numpy(warp(change, dis(p, px[0]))).permute(2, 0, 1) for p in px])
        self.norm = self.reference.flatten(1).pow(2).sum(1).clamp(min=1e-8)
        self.target = 1.0

    def __call__(self, images: torch.Tensor, rows=slice(None)) -> torch.Tensor:
        """The response of ``images``, renders of the keyframes ``rows``."""
        change = (images - self.plain[rows]).flatten(1)
        along = (change * self.reference[rows].flatten(1)).sum(1)
        if self.projected:
            return along / self.norm[rows]
        return torch.sign(along) * change.norm(dim=1) / self.norm[rows].sqrt()


class _ProbeResponse:
    """The probe's reading of one attribute: changed against the unedited keyframe, or absolute with a target."""

    def __init__(self, probe, attribute: str, plain: torch.Tensor, full: torch.Tensor, target: float | None):
        index = ATTRIBUTES.index(attribute)
        self.read = lambda images: read_attributes(probe, images)[:, index]
        self.base = torch.zeros(len(plain)) if target is not None else self.read(plain)
        self.target = target if target is not None else float(self(full[:1], slice(0, 1))[0])

    def __call__(self, images: torch.Tensor, rows=slice(None)) -> torch.Tensor:
        """The response of ``images``, renders of the keyframes ``rows``."""
        return self.read(images) - self.base[rows]


def _response(config: LockConfig, probe, attribute: str | None, plain: torch.Tensor, full: torch.Tensor):
    """The response ``config`` asks for ("auto": the probe where it reads the direction's attribute)."""
    readable = probe is not None and attribute in ATTRIBUTES
    if config.response == "probe" or (config.response == "auto" and readable):
        if not readable:
            raise InputError(f"the probe response needs a direction with a probe attribute ({list(ATTRIBUTES)}); "
                             f"this one has {attribute!r}", "response_pixels")
        return _ProbeResponse(probe, attribute, plain, full, config.target)
    if config.target is not None:
        raise InputError(f"a target attribute value needs the probe response, and it cannot read {attribute!r}",
                         "response_probe")
    return _PixelResponse(plain, full, projected=config.response == "projection")


def _secant(g0, r0, g1, r1, target: float, max_gain: float) -> torch.Tensor:
    """The gain where the line through (g0, r0), (g1, r1) reaches ``target``, kept in [0, max_gain];
    g1 where the two points coincide or the response does not move."""
    dg = g1 - g0
    close = dg.abs() < 1e-6
    slope = (r1 - r0) / torch.where(close, torch.ones_like(dg), dg)
    flat = close | (slope.abs() < 1e-6)
    g = g1 + (target - r1) / torch.where(flat, torch.ones_like(slope), slope)
    return torch.where(flat, g1, g).clamp(0.0, max_gain)


@dataclass(frozen=True)
class LockReport:
    """How a locked edit was solved.

    Attributes:
        direction: the edit's direction. target: the response every frame was held at.
        keyframes: frames where the gain was solved (interpolated between them).
        response_before: the carried edit's response at each keyframe (gain 1).
        response_locked: the response at the solved gain, before smoothing.
        gain_keyframes: the solved gain at each keyframe.
        held: per keyframe, whether the response came within the tolerance of the target.
        at_bound: the keyframes (indices) the steps left unheld with their gain at a bound (0 or
            ``max_gain``): the edit saturates or turns into another attribute there. They keep the
            carried edit (gain 1, its response in ``response_locked``) instead: pushing the code
            further would take it off the generator's faces and still not hold the response.
        off_faces: the keyframes whose gain was lowered so that their code lies no further from the
            generator's W distribution than ``LockConfig.realism`` allows (held or not).
    """

    direction: str
    target: float
    keyframes: int
    response_before: tuple[float, ...]
    response_locked: tuple[float, ...]
    gain_keyframes: tuple[float, ...]
    held: tuple[bool, ...] = ()
    at_bound: tuple[int, ...] = ()
    off_faces: tuple[int, ...] = ()

    @property
    def unheld(self) -> int:
        """How many keyframes the lock could not hold."""
        return sum(not h for h in self.held)

    @property
    def warning(self) -> bool:
        """Some keyframes could not be held."""
        return self.unheld > 0

    def summary(self) -> str:
        """One line: how well the edit was held, naming the keyframes stopped at a gain bound."""
        line = f"locked {self.direction}: {self.keyframes - self.unheld} of {self.keyframes} keyframes held at " \
               f"{self.target:g}"
        if self.at_bound:
            line += f"; {len(self.at_bound)} would need a gain past its bound (keyframes {list(self.at_bound)}): the " \
                    "edit saturates or turns into another attribute there, so they keep the carried edit (try " \
                    "--propagation keyframe)"
        if self.off_faces:
            line += f"; {len(self.off_faces)} kept nearer the generator's faces than the target asked (keyframes " \
                    f"{list(self.off_faces)})"
        return line


@torch.no_grad()
def lock_gains(trajectory: Trajectory, generator: Generator, times: torch.Tensor, edit: Edit, path: str = EDIT_PATH,
               config: LockConfig = LockConfig(), probe=None) -> tuple[torch.Tensor, torch.Tensor, LockReport]:
    """The carried edit E(t) (N, num_ws, w_dim) of ``edit`` (its schedule left out), the gain g(t)
    (N,) that locks its response over ``times`` (N,) seconds, and how it was solved."""
    plain_codes = trajectory.evaluate(times, path=path)
    carried = carry(trajectory, times, [replace(edit, schedule=None)], path) - plain_codes
    keys = torch.unique(torch.cat([torch.arange(0, len(times), config.stride), torch.tensor([len(times) - 1])]))
    plain = render_images(generator, plain_codes[keys])
    full = render_images(generator, plain_codes[keys] + carried[keys])
    response = _response(config, probe, edit.direction.attribute, plain, full)
    # Secant steps from g = 0 and g = 1, each from the two points nearest the target so far; a
    # step the response does not confirm (a slope of the wrong sign) keeps the better point. Only
    # the keyframes not yet within the tolerance, nor stuck at a bound, are rendered again.
    target = float(response.target)
    g_a, r_a = torch.zeros(len(keys)), response(plain)
    g_b, r_b = torch.ones(len(keys)), response(full)
    r1 = r_b.clone()
    tolerance = config.tolerance * max(abs(target), 1e-6)
    stuck = torch.zeros(len(keys), dtype=torch.bool)
    for _ in range(config.iterations):
        todo = torch.minimum((r_a - target).abs(), (r_b - target).abs()).gt(tolerance) & ~stuck
        if not todo.any():
            break
        rows = todo.nonzero().squeeze(1)
        g_c = _secant(g_a[rows], r_a[rows], g_b[rows], r_b[rows], target, config.max_gain)
        stuck[rows] = (g_c - g_b[rows]).abs() < 1e-6
        r_c = response(render_images(generator, plain_codes[keys[rows]] + g_c[:, None, None] * carried[keys[rows]]),
                       rows)
        keep_b = (r_b[rows] - target).abs() <= (r_a[rows] - target).abs()
        g_a[rows], r_a[rows] = torch.where(keep_b, g_b[rows], g_a[rows]), torch.where(keep_b, r_b[rows], r_a[rows])
        g_b[rows], r_b[rows] = g_c, r_c
    better = (r_b - target).abs() <= (r_a - target).abs()
    g3, r3 = torch.where(better, g_b, g_a), torch.where(better, r_b, r_a)
    # A keyframe the steps could not hold and left at a bound (the edit saturates there, or turns into
    # another attribute) keeps the carried edit, gain 1: pushed further, its code leaves the generator's
    # faces (a smeared, darkened face on make demo's skin edit) and the response still does not hold.
    held = (r3 - target).abs() <= tolerance
    bound = ~held & ((g3 <= 1e-6) | (g3 >= config.max_gain - 1e-6))
    g3, r3 = torch.where(bound, torch.ones_like(g3), g3), torch.where(bound, r1, r3)
    capped = torch.zeros(len(keys), dtype=torch.bool)
    stats = w_stats(generator) if config.realism is not None and hasattr(generator, "mapping") else None
    if stats is not None:
        capped = _realism_cap(stats, plain_codes[keys], carried[keys], g3, config.realism)
        if capped.any():
            rows = capped.nonzero().squeeze(1)
            r3[rows] = response(render_images(generator, plain_codes[keys[rows]] + g3[rows, None, None]
                                              * carried[keys[rows]]), rows)
    held = (r3 - target).abs() <= tolerance
    frames = (times.double() / (times[1:] - times[:-1]).median().double()).numpy() if len(times) > 1 \
        else np.zeros(1)  # time in frames, so that the smoothing means the same at any frame rate
    if len(keys) >= 5:
        spline = make_smoothing_spline(frames[keys.numpy()], g3.double().numpy(), lam=config.smoothing)
        gains = torch.from_numpy(spline(frames))
    else:
        gains = torch.from_numpy(np.interp(frames, frames[keys.numpy()], g3.double().numpy()))
    report = LockReport(edit.direction.name, round(target, 4), len(keys),
                        tuple(round(float(r), 4) for r in r1), tuple(round(float(r), 4) for r in r3),
                        tuple(round(float(g), 4) for g in g3), tuple(bool(h) for h in held),
                        tuple(bound.nonzero().flatten().tolist()), tuple(capped.nonzero().flatten().tolist()))
    gains = gains.float().clamp(0.0, config.max_gain)
    if stats is not None:  # the smoothing between keyframes may overshoot their capped gains
        _realism_cap(stats, plain_codes, carried, gains, config.realism)
    return carried, gains, report


def _realism_cap(stats: tuple[torch.Tensor, torch.Tensor], plain: torch.Tensor, carried: torch.Tensor,
                 gains: torch.Tensor, margin: float) -> torch.Tensor:
    """Lower, in place, each gain above 1 whose code ``plain + g carried`` lies further than (1 + ``margin``)
    times the carried edit's (gain 1) from the generator's W distribution, to the gain that reaches that
    distance (bisection: the distance along the line is convex in g); which gains were lowered, (K,) bool.
    ``stats``: the generator's :func:`~dynode.metrics.appearance.w_stats`."""
    def distance(codes):
        return w_distance(codes, stats)
    allowed = (1 + margin) * distance(plain + carried)
    over = (gains > 1) & (distance(plain + gains[:, None, None] * carried) > allowed)
    if over.any():
        lo, hi = torch.ones(int(over.sum())), gains[over].clone()
        for _ in range(16):
            mid = (lo + hi) / 2
            far = distance(plain[over] + mid[:, None, None] * carried[over]) > allowed[over]
            hi, lo = torch.where(far, mid, hi), torch.where(far, lo, mid)
        gains[over] = lo
    return over


def lock(trajectory: Trajectory, generator: Generator, times, edits: list[Edit], path: str = EDIT_PATH,
         config: LockConfig = LockConfig(), probe=None) -> tuple[torch.Tensor, list[LockReport]]:
    """Locked edited codes at ``times`` (seconds): float32 (N, num_ws, w_dim), and per edit its report.

    Each edit is locked on its own (its response read with it alone) and the locked edits are
    summed on the path, each scaled by its schedule.

    Raises:
        InputError: a probe response without a probe, or for a direction without a probe attribute.
    """
    if config.response == "probe" and probe is None:
        raise InputError("the probe response needs an attribute probe, and this generator has none")
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    out = trajectory.evaluate(t, path=path)
    reports = []
    for e in edits:
        carried, gains, report = lock_gains(trajectory, generator, t, e, path, config, probe)
        out += (e.weights(t) * gains)[:, None, None] * carried
        reports.append(report)
    return out, reports
