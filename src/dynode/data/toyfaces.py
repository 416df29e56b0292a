"""Toy-face world: a procedural, anti-aliased cartoon-face renderer with ground-truth factors.

Every face is described by named scalar factors (see ``FACTORS``): identity factors that stay
fixed within a video (skin tone, hair colour and style, face shape, eye colour, glasses,
background and shirt colour) and motion factors that vary smoothly in time (head translation,
roll and scale, eye openness, smile, mouth opening, gaze). Rendering is a batched function of
those factors, so the ground-truth frame of a :class:`ToyFaceVideo` exists at any continuous
time, which makes this world our reference for interpolation and editing.

Shapes are signed-distance functions evaluated on the pixel grid; coverage is
``clamp(0.5 - d / pixel, 0, 1)``, a one-pixel-wide linear ramp that anti-aliases at any
resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dynode.errors import InputError
from dynode.io.images import to_uint8
from dynode.io.video import write_video
from dynode.times import future_times

IDENTITY = "identity"
MOTION = "motion"

# name -> (low, high, kind). Glasses are 0/1 in samples but render continuously.
FACTORS: dict[str, tuple[float, float, str]] = {
    "skin": (0.0, 1.0, IDENTITY),
    "hair_color": (0.0, 1.0, IDENTITY),
    "hair_length": (0.0, 1.0, IDENTITY),
    "fringe": (0.0, 1.0, IDENTITY),
    "face_width": (0.85, 1.15, IDENTITY),
    "eye_color": (0.0, 1.0, IDENTITY),
    "glasses": (0.0, 1.0, IDENTITY),
    "background": (0.0, 1.0, IDENTITY),
    "shirt": (0.0, 1.0, IDENTITY),
    "tx": (-0.12, 0.12, MOTION),
    "ty": (-0.10, 0.10, MOTION),
    "roll": (-0.30, 0.30, MOTION),
    "scale": (0.88, 1.12, MOTION),
    "eye_open": (0.0, 1.0, MOTION),
    "smile": (-1.0, 1.0, MOTION),
    "mouth_open": (0.0, 1.0, MOTION),
    "gaze_x": (-1.0, 1.0, MOTION),
    "gaze_y": (-1.0, 1.0, MOTION),
}
FACTOR_NAMES = tuple(FACTORS)

_SKIN = [(1.00, 0.87, 0.77), (0.94, 0.75, 0.60), (0.78, 0.57, 0.42), (0.55, 0.38, 0.26), (0.36, 0.24, 0.16)]
_HAIR = [(0.08, 0.06, 0.05), (0.30, 0.18, 0.10), (0.55, 0.35, 0.18), (0.90, 0.75, 0.45), (0.75, 0.30, 0.12), (0.70, 0.70, 0.72)]
_EYES = [(0.35, 0.20, 0.10), (0.45, 0.40, 0.20), (0.20, 0.50, 0.30), (0.25, 0.45, 0.75), (0.45, 0.50, 0.55)]


def _palette(x: torch.Tensor, colours: list[tuple[float, float, float]]) -> torch.Tensor:
    """Piecewise-linear colour map: x (B,) in [0, 1] -> (B, 3, 1, 1)."""
    table = torch.tensor(colours, dtype=x.dtype, device=x.device)
    pos = x.clamp(0, 1) * (len(colours) - 1)
    lo = pos.floor().long().clamp(max=len(colours) - 2)
    frac = (pos - lo).unsqueeze(1)
    rgb = table[lo] * (1 - frac) + table[lo + 1] * frac
    return rgb[:, :, None, None]


def hair_lightness(hair_color: torch.Tensor) -> torch.Tensor:
    """Luma (0-1) of the hair colour for a hair_color factor batch (B,): a linear "hair colour" attribute."""
    luma = _palette(hair_color.float(), _HAIR)[:, :, 0, 0] @ torch.tensor([0.299, 0.587, 0.114])
    return luma


def _hsv(h: torch.Tensor, s: float, v: float) -> torch.Tensor:
    """HSV -> RGB for a hue batch (B,) in [0, 1] at fixed saturation and value: (B, 3, 1, 1)."""
    k = torch.tensor([5.0, 3.0, 1.0], dtype=h.dtype, device=h.device)
    k = (k[None] + h[:, None] * 6) % 6
    rgb = v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return rgb[:, :, None, None]


def _ellipse(u, v, cu, cv, a, b):
    """Approximate signed distance to an axis-aligned ellipse (exact for circles)."""
    a = torch.as_tensor(a, dtype=u.dtype, device=u.device)
    b = torch.as_tensor(b, dtype=u.dtype, device=u.device)
    r = torch.sqrt(((u - cu) / a) ** 2 + ((v - cv) / b) ** 2 + 1e-12)
    return (r - 1) * torch.minimum(a, b)


def _box(u, v, cu, cv, hu, hv):
    du = (u - cu).abs() - hu
    dv = (v - cv).abs() - hv
    outside = torch.sqrt(du.clamp(min=0) ** 2 + dv.clamp(min=0) ** 2)
    return outside + torch.maximum(du, dv).clamp(max=0)


def _b(x: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1) for broadcasting against the pixel grid."""
    return x[:, None, None, None]


def _cover(d: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """The coverage of a pixel by a shape of signed distance ``d`` (antialiased over one pixel)."""
    return torch.clamp(0.5 - d / pixel, 0, 1)


def _over(canvas: torch.Tensor, colour: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return canvas * (1 - alpha) + colour * alpha


def _head(img, u, v, pixel, f, skin, hair, shirt):
    """Long hair behind the head, shoulders and neck, ears, the face, the hair cap, blushing cheeks, eyebrows."""
    fw = _b(f["face_width"])
    # Long hair behind the head: its bottom edge moves down with hair_length.
    length = _b(f["hair_length"])
    bottom = 0.05 + 0.6 * length
    top = -0.42
    radius = 0.12
    back = _box(u, v, 0.0, (top + bottom) / 2, 0.34 * fw + 0.02 - radius, (bottom - top) / 2 - radius) - radius
    img = _over(img, hair * 0.9, _cover(back, pixel))
    # Shoulders and neck.
    img = _over(img, shirt, _cover(_ellipse(u, v, 0.0, 0.8, 0.55, 0.3), pixel))
    img = _over(img, skin * 0.85, _cover(_box(u, v, 0.0, 0.42, 0.1, 0.18), pixel))
    # Ears, then the face.
    for side in (-1.0, 1.0):
        img = _over(img, skin * 0.95, _cover(_ellipse(u, v, side * 0.3 * fw, 0.02, 0.055, 0.075), pixel))
    img = _over(img, skin, _cover(_ellipse(u, v, 0.0, 0.0, 0.3 * fw, 0.38), pixel))
    # Hair cap: an ellipse cut by a hairline that drops at the temples and with the fringe.
    hairline = -0.22 + 0.14 * _b(f["fringe"]) + 0.16 * (u / (0.3 * fw)) ** 2
    cap = torch.maximum(_ellipse(u, v, 0.0, -0.05, 0.335 * fw, 0.42), v - hairline)
    img = _over(img, hair, _cover(cap, pixel))
    # Cheeks blush a little when smiling.
    smile = _b(f["smile"])
    for side in (-1.0, 1.0):
        img = _over(img, torch.tensor([0.9, 0.45, 0.45]).view(1, 3, 1, 1),
                    0.3 * smile.clamp(min=0) * _cover(_ellipse(u, v, side * 0.17 * fw, 0.1, 0.05, 0.035), pixel))
    # Eyebrows rise a little as the eyes open wider.
    eye_open = _b(f["eye_open"]).clamp(0, 1)
    for side in (-1.0, 1.0):
        img = _over(img, hair * 0.8, _cover(_ellipse(u, v, side * 0.12, -0.155 - 0.02 * eye_open, 0.065, 0.014), pixel))
    return img


def _eyes(img, u, v, pixel, f, skin, eyes):
    """Eyes: sclera scaled by openness, iris and pupil follow the gaze and are clipped to the sclera."""
    eye_open = _b(f["eye_open"]).clamp(0, 1)
    gx, gy = _b(f["gaze_x"]), _b(f["gaze_y"])
    eye_h = 0.045 * eye_open + 0.003
    for side in (-1.0, 1.0):
        cu, cv = side * 0.12, -0.06
        sclera = _ellipse(u, v, cu, cv, 0.065, eye_h)
        img = _over(img, torch.full((1, 3, 1, 1), 0.97), _cover(sclera, pixel))
        iu, iv = cu + 0.03 * gx, cv + 0.015 * gy
        img = _over(img, eyes, _cover(torch.maximum(_ellipse(u, v, iu, iv, 0.032, 0.032), sclera), pixel))
        img = _over(img, torch.full((1, 3, 1, 1), 0.05),
                    _cover(torch.maximum(_ellipse(u, v, iu, iv, 0.014, 0.014), sclera), pixel))
        img = _over(img, skin * 0.45, _cover(sclera.abs() - 0.006, pixel))
    return img


def _mouth(img, u, v, pixel, f, skin):
    """The nose, and the mouth: a lip band around a parabola whose corners rise with the smile, opened below it."""
    img = _over(img, skin * 0.8, 0.8 * _cover(_ellipse(u, v, 0.0, 0.07, 0.025, 0.04), pixel))
    smile = _b(f["smile"])
    half_w = 0.1 + 0.02 * smile
    curve = 0.21 - 0.05 * smile * (u / half_w) ** 2 + 0.02 * smile
    open_h = 0.1 * _b(f["mouth_open"]) * (1 - (u / half_w) ** 2).clamp(min=0)
    lip = 0.012
    d_side = u.abs() - half_w
    mouth = torch.maximum(d_side, torch.maximum((curve - lip) - v, v - (curve + lip + open_h)))
    img = _over(img, torch.tensor([0.65, 0.2, 0.22]).view(1, 3, 1, 1), _cover(mouth, pixel))
    inside = torch.maximum(d_side + 0.012, torch.maximum(curve + 0.004 - v, v - (curve + open_h - 0.004)))
    return _over(img, torch.tensor([0.18, 0.04, 0.06]).view(1, 3, 1, 1), _cover(inside, pixel))


def _glasses(img, u, v, pixel, f):
    """Glasses: lens tint, two rims and a bridge; opacity is the glasses factor."""
    glasses = _b(f["glasses"]).clamp(0, 1)
    frame = torch.tensor([0.1, 0.1, 0.12]).view(1, 3, 1, 1)
    for side in (-1.0, 1.0):
        lens = _ellipse(u, v, side * 0.12, -0.06, 0.085, 0.075)
        img = _over(img, torch.tensor([0.6, 0.75, 0.9]).view(1, 3, 1, 1), 0.25 * glasses * _cover(lens, pixel))
        img = _over(img, frame, glasses * _cover(lens.abs() - 0.009, pixel))
    return _over(img, frame, glasses * _cover(_box(u, v, 0.0, -0.08, 0.04, 0.008), pixel))


def render(factors: dict[str, torch.Tensor], resolution: int = 64) -> torch.Tensor:
    """Render a batch of toy faces.

    Args:
        factors: every name in ``FACTOR_NAMES`` -> float tensor of shape (B,).
        resolution: output height and width in pixels (any positive integer).

    Returns:
        Images, float32 (B, 3, resolution, resolution), RGB in [-1, 1].

    Raises:
        InputError: a factor is missing or the shapes disagree.
    """
    missing = [n for n in FACTOR_NAMES if n not in factors]
    if missing:
        raise InputError(f"render(): missing factors {missing}; expected all of {list(FACTOR_NAMES)}")
    f = {n: torch.as_tensor(factors[n], dtype=torch.float32).reshape(-1) for n in FACTOR_NAMES}
    batch = f["skin"].shape[0]
    if any(t.shape[0] != batch for t in f.values()):
        raise InputError(f"render(): factor batch sizes differ: { {n: t.shape[0] for n, t in f.items()} }")
    if resolution < 8:
        raise InputError(f"render(): resolution must be >= 8, got {resolution}")

    coords = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    x, y = x[None, None], y[None, None]
    # Face-local coordinates: undo translation, scale and roll.
    scale, roll = _b(f["scale"]) * 1.3, _b(f["roll"])
    xs, ys = (x - _b(f["tx"])) / scale, (y - _b(f["ty"])) / scale
    cos, sin = torch.cos(roll), torch.sin(roll)
    u, v = cos * xs + sin * ys, -sin * xs + cos * ys
    pixel = (2.0 / resolution) / scale

    skin = _palette(f["skin"], _SKIN)
    hair = _palette(f["hair_color"], _HAIR)
    eyes = _palette(f["eye_color"], _EYES)
    bg = _hsv(f["background"], 0.35, 0.85)
    shirt = _hsv(f["shirt"], 0.6, 0.6)

    # Background with a soft vertical gradient (in image coordinates, not face coordinates).
    img = bg * (1.05 - 0.1 * (y + 1) / 2)
    img = img.expand(batch, 3, resolution, resolution)
    img = _head(img, u, v, pixel, f, skin, hair, shirt)
    img = _eyes(img, u, v, pixel, f, skin, eyes)
    img = _mouth(img, u, v, pixel, f, skin)
    img = _glasses(img, u, v, pixel, f)
    return (img.clamp(0, 1) * 2 - 1).contiguous()


def sample_factors(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw n independent faces: identity and motion factors over their whole ranges.

    Glasses are drawn as 0 or 1 (30% with glasses); eyes are mostly open, as in videos.
    """
    out = {}
    for name, (lo, hi, _) in FACTORS.items():
        out[name] = lo + (hi - lo) * torch.rand(n, generator=generator)
    out["glasses"] = (torch.rand(n, generator=generator) < 0.3).float()
    out["eye_open"] = torch.where(torch.rand(n, generator=generator) < 0.8,
                                  0.6 + 0.4 * torch.rand(n, generator=generator), out["eye_open"])
    return out


@dataclass(frozen=True)
class ToyFaceVideo:
    """A deterministic toy-face video defined at every continuous time.

    One identity is drawn from ``seed``; each motion factor is ``mid + half * tanh(s(t))`` where
    s is a sum of three sinusoids (0.1-0.6 Hz), and eye openness carries blink events (Poisson,
    ~0.3 per second, ~0.12 s wide). Nothing is stored per frame, so ``factors_at`` and
    ``render`` take any times.

    Args:
        seed: selects the identity and the motion.
        motion: amplitude multiplier for the head and face motion (0 freezes everything but blinks).
        blinks: whether eye-blink events occur.
    """

    seed: int
    motion: float = 1.0
    blinks: bool = True

    def _params(self):
        g = torch.Generator().manual_seed(int(self.seed))
        identity = sample_factors(1, g)
        waves = {}
        for name, (lo, hi, kind) in FACTORS.items():
            if kind != MOTION or name == "eye_open":
                continue
            amp = (0.3 + 0.5 * torch.rand(3, generator=g)) / 3
            freq = 0.1 + 0.5 * torch.rand(3, generator=g)
            phase = 2 * math.pi * torch.rand(3, generator=g)
            offset = 0.6 * (torch.rand(1, generator=g) - 0.5)
            waves[name] = (amp, freq, phase, offset)
        gaps = -torch.log(torch.rand(200, generator=g)) / 0.3
        blink_times = torch.cumsum(gaps, 0) - 2.0
        base_open = 0.75 + 0.25 * torch.rand(1, generator=g)
        return identity, waves, blink_times, base_open

    def factors_at(self, times) -> dict[str, torch.Tensor]:
        """Ground-truth factors at times in seconds: a dict of (T,) float32 tensors."""
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        if not torch.isfinite(t).all():
            raise InputError("ToyFaceVideo.factors_at(): times must be finite")
        identity, waves, blink_times, base_open = self._params()
        out = {n: identity[n].expand(t.shape[0]).clone() for n, (_, _, k) in FACTORS.items() if k == IDENTITY}
        for name, (amp, freq, phase, offset) in waves.items():
            lo, hi, _ = FACTORS[name]
            s = offset + (amp[None].double() * torch.sin(2 * math.pi * freq[None].double() * t[:, None] + phase[None].double())).sum(1)
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            s = s * self.motion * 2.2
            out[name] = (mid + half * torch.tanh(s)).float()
        closed = torch.zeros_like(t)
        if self.blinks:
            closed = torch.exp(-(((t[:, None] - blink_times[None].double()) / 0.06) ** 2)).sum(1).clamp(max=1)
        out["eye_open"] = (base_open.double() * (1 - closed)).float()
        return {n: out[n] for n in FACTOR_NAMES}

    def render(self, times, resolution: int = 64) -> torch.Tensor:
        """Ground-truth frames at times in seconds: float32 (T, 3, R, R) in [-1, 1]."""
        return render(self.factors_at(times), resolution)


def write_toy_video(path, seed: int = 0, seconds: float = 4.0, fps: float = 16.0, resolution: int = 64,
                    cuts: tuple[float, ...] = ()) -> int:
    """Write a toy-face video of ``seconds`` at ``fps`` (mp4 or gif); returns the frame count.

    Args:
        cuts: times (seconds) where the video cuts to another face and motion: the k-th shot is
            the toy video of seed ``seed + k`` from its own start.

    Raises:
        InputError: a non-positive rate or duration, cuts outside the video or out of order, or
            an unsupported file suffix.
    """
    if not seconds > 0:
        raise InputError(f"toy video: seconds must be > 0, got {seconds}")
    cuts = [float(c) for c in cuts]
    if any(not 0 < c < seconds for c in cuts) or cuts != sorted(set(cuts)):
        raise InputError(f"toy video: cuts must be increasing times inside (0, {seconds:g}) s, got {cuts}")
    t = future_times(0.0, seconds - 1 / fps, fps, include_start=True)
    starts = torch.tensor([0.0, *cuts], dtype=torch.float64)
    shot = torch.searchsorted(starts, t + 1e-9, right=True) - 1
    pixels = torch.cat([ToyFaceVideo(seed + k).render(t[shot == k] - starts[k], resolution)
                        for k in range(len(starts)) if (shot == k).any()])
    write_video(path, to_uint8(pixels), fps)
    return len(t)
