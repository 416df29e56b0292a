"""Semantic directions in W, stored with what they are for, loaded and checked.

A :class:`Direction` is a unit vector in W (``(w_dim,)``, added to the chosen W+ layers) or
in W+ (``(num_ws, w_dim)``, unit Frobenius norm) with its metadata: ``sigma``, the spread of
sampled W codes along it (strength a moves a code by a * sigma, so strengths mean the same
for every direction), the W+ layers it applies to, the generator it was made for (an id
that hashes the weights), how it was found and for which attribute.

Directions are stored in a safetensors file, one tensor per name and the metadata in the
header. The file ``directions.safetensors`` beside a generator is its library: a bare name
such as ``smile`` refers to it. How directions are found: :mod:`dynode.edit.find`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from safetensors import SafetensorError

from dynode.errors import CheckpointError, InputError
from dynode.generators import resolve
from dynode.io.checkpoints import load_artifact, save_artifact
from dynode.types import Generator

DIRECTIONS_FILE = "directions.safetensors"
# Named W+ layer groups by the resolution a layer draws (StyleGAN's coarse/middle/fine split).
LAYER_GROUPS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


# Direction name -> the probe attribute it should change (the named edits of a toy-face generator's library).
EDITABLE = {"smile": "smile", "glasses": "glasses", "hair_color": "hair_lightness", "mouth_open": "mouth_open",
            "eye_open": "eye_open", "hair_length": "hair_length", "skin": "skin"}
# Attributes that are a colour: an edit of one is a look to hold on every frame, not a shape to draw anew.
APPEARANCE = ("hair_lightness", "skin")
# How a direction can be made (each found by :func:`dynode.edit.find.find_directions`, or given by the user).
METHODS = ("learned", "interfacegan", "sefa", "ganspace", "user")


@dataclass(frozen=True)
class Direction:
    """A unit direction in W or W+ with its metadata (see the module).

    Attributes:
        name: what it is called in its file. vector: (w_dim,) or (num_ws, w_dim), unit norm.
        sigma: spread of sampled W codes along the vector; strength a adds a * sigma * vector.
        layers: W+ layers it applies to (None: all). method: one of :data:`METHODS`.
        attribute: the attribute it changes, if known. generator_id: the generator it was
            made for (None: unknown, e.g. a bare .npy vector). info: how it was found.
    """

    name: str
    vector: torch.Tensor
    sigma: float = 1.0
    layers: tuple[int, ...] | None = None
    method: str = "user"
    attribute: str | None = None
    generator_id: str | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        norm = float(self.vector.norm())
        if not np.isfinite(norm) or norm == 0:
            raise InputError(f"direction {self.name!r}: the vector must be finite and non-zero")
        object.__setattr__(self, "vector", self.vector.detach().float() / norm)
        if self.method not in METHODS:
            raise InputError(f"direction {self.name!r}: method {self.method!r} is not one of {list(METHODS)}")
        if not self.sigma > 0:
            raise InputError(f"direction {self.name!r}: sigma must be > 0, got {self.sigma}")

    def offset(self, strength: float, num_ws: int) -> torch.Tensor:
        """The code offset of an edit of this strength: (num_ws, w_dim), zero off its layers."""
        if self.vector.dim() == 2 and self.vector.shape[0] != num_ws:
            raise InputError(f"direction {self.name!r} has {self.vector.shape[0]} W+ layers; the code has {num_ws}")
        d = self.vector.expand(num_ws, -1) if self.vector.dim() == 1 else self.vector
        d = d * (float(strength) * self.sigma)
        if self.layers is not None:
            bad = [i for i in self.layers if not 0 <= i < num_ws]
            if bad:
                raise InputError(f"direction {self.name!r}: layers {bad} out of range 0..{num_ws - 1}")
            mask = torch.zeros(num_ws, 1)
            mask[list(self.layers)] = 1
            d = d * mask
        return d

    @property
    def appearance(self) -> bool:
        """Whether it edits a colour, not a shape: its attribute is one of :data:`APPEARANCE`, or it bears
        the name of a library edit of one (a user's ``hair_color`` or ``skin`` vector)."""
        return self.attribute in APPEARANCE or EDITABLE.get(self.name) in APPEARANCE

    def on_layers(self, layers: tuple[int, ...] | None) -> "Direction":
        """The same direction applied to other W+ layers (None: all)."""
        return dataclasses.replace(self, layers=layers)

    def conditioned(self, others: list["Direction"]) -> "Direction":
        """Conditional manipulation (InterFaceGAN): this direction with the span of ``others``
        projected out, so that moving along it leaves their attributes' linear scores unchanged.
        sigma is kept, so strengths stay comparable with the unconditioned direction. A W direction among
        W+ ones counts as the W+ direction it adds (the same vector on every layer); then the result is W+."""
        if not others:
            return self
        shapes = [tuple(d.vector.shape) for d in (self, *others)]
        wide = {s for s in shapes if len(s) == 2}
        if len({s[-1] for s in shapes}) != 1 or len(wide) > 1:
            raise InputError(f"cannot condition {self.name!r} {shapes[0]} on directions of other shapes {shapes[1:]}")
        shape = next(iter(wide)) if wide else self.vector.shape
        lift = lambda v: v.expand(shape) if v.dim() == 1 else v  # noqa: E731
        basis, _ = torch.linalg.qr(torch.stack([lift(o.vector).reshape(-1) for o in others], 1))
        v = lift(self.vector).reshape(-1)
        v = v - basis @ (basis.T @ v)
        if float(v.norm()) < 1e-4:
            raise InputError(f"direction {self.name!r} lies in the span of {[o.name for o in others]}; "
                             "nothing is left after conditioning")
        info = {**self.info, "conditioned_on": [o.name for o in others]}
        # A W direction lifted to W+ keeps its offsets: its unit vector is spread over the layers.
        sigma = self.sigma * math.sqrt(shape[0]) if wide and self.vector.dim() == 1 else self.sigma
        return dataclasses.replace(self, vector=v.reshape(shape), sigma=sigma, info=info)

    def meta(self) -> dict:
        return {"sigma": self.sigma, "layers": list(self.layers) if self.layers is not None else None,
                "method": self.method, "attribute": self.attribute, "generator_id": self.generator_id,
                "info": self.info}


@torch.no_grad()
def sample_w(generator: Generator, n: int, seed: int = 0) -> torch.Tensor:
    """n codes w = mapping(z) from seeded z: (n, w_dim)."""
    z = torch.randn(n, generator.w_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([generator.mapping(c.to(generator.device)).cpu() for c in z.split(1000)])


def parse_layers(spec: str | None, num_ws: int) -> tuple[int, ...] | None:
    """W+ layers from a spec: "all", "coarse", "middle", "fine", "0-3", "0,2,5", or a mix
    ("coarse,9"). Layer i draws at 4 * 2^(i // 2) pixels. None or "all" means every layer.

    Raises:
        InputError: an unknown group, a malformed range or a layer outside 0..num_ws-1.
    """
    if spec is None or spec.strip() == "all":
        return None
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if part in LAYER_GROUPS:
            lo, hi = LAYER_GROUPS[part]
            out.update(i for i in range(num_ws) if lo <= 4 * 2 ** (i // 2) <= hi)
            continue
        try:
            a, _, b = part.partition("-")
            first, last = int(a), int(b or a)
        except ValueError as e:
            raise InputError(f"layers {spec!r}: {part!r} is not a layer, a range a-b, or one of "
                             f"{['all', *LAYER_GROUPS]}") from e
        if not 0 <= first <= last < num_ws:
            raise InputError(f"layers {spec!r}: {part!r} is outside 0..{num_ws - 1}")
        out.update(range(first, last + 1))
    if not out:
        raise InputError(f"layers {spec!r}: no layer of this {num_ws}-layer generator is in it")
    return tuple(sorted(out))


def save_directions(path: str | Path, directions: list[Direction]) -> Path:
    """Write directions to one file (atomically); names must be unique."""
    names = [d.name for d in directions]
    if len(set(names)) != len(names) or not names:
        raise InputError(f"save_directions(): need at least one direction and unique names, got {names}")
    return save_artifact(path, "directions", {d.name: d.vector for d in directions},
                         {"directions": {d.name: d.meta() for d in directions}})


def read_directions(path: str | Path) -> dict[str, Direction]:
    """All directions in a file written by :func:`save_directions`, by name."""
    tensors, info = load_artifact(path, "directions")
    metas = info.get("directions", {})
    if not all(isinstance(metas.get(n), dict) and "sigma" in metas[n] for n in tensors):
        raise CheckpointError(f"{path}: directions written by an older dynode (no metadata)", "refit_directions")
    out = {}
    for name, vector in tensors.items():
        m = metas[name]
        layers = tuple(m["layers"]) if m.get("layers") is not None else None
        out[name] = Direction(name, vector, m["sigma"], layers, m["method"], m.get("attribute"),
                              m.get("generator_id"), m.get("info", {}))
    return out


def library_path(generator: str) -> Path:
    """The directions file beside a generator (bundled name or folder)."""
    return resolve(generator) / DIRECTIONS_FILE


def load_library(generator: str) -> dict[str, Direction]:
    """The directions stored beside a generator; {} if it has none."""
    path = library_path(generator)
    return read_directions(path) if path.is_file() else {}


def describe_library(generator: str) -> str:
    """One line per direction stored with a generator: name, method, attribute, layers, sigma, info."""
    found = load_library(generator)
    if not found:
        return (f"no directions stored with {generator!r} ({library_path(generator)}); "
                "find some with `dynode directions fit`")
    lines = []
    for d in found.values():
        layers = "all" if d.layers is None else ",".join(map(str, d.layers))
        shape = "x".join(map(str, d.vector.shape))
        lines.append(f"{d.name:14s} {d.method:12s} {d.attribute or '-':15s} layers {layers:10s} "
                     f"sigma {d.sigma:.3f}  {shape}  {json.dumps(d.info)}")
    return "\n".join(lines)


def load_vector(path: str | Path) -> torch.Tensor:
    """A vector from a ``.npy`` file, as float32 (no pickled objects are read).

    Raises:
        InputError: a missing or unreadable file.
    """
    try:
        return torch.from_numpy(np.load(path, allow_pickle=False)).float()
    except (OSError, ValueError) as e:
        raise InputError(f"vector file {path}: unreadable ({e})") from e


def add_to_library(path: str | Path, directions: list[Direction]) -> Path:
    """Add directions to a file (created if missing), replacing those of the same names; a replaced
    direction made by another method stays, renamed ``METHOD_NAME`` (``interfacegan_smile``)."""
    path = Path(path)
    kept = read_directions(path) if path.is_file() else {}
    for d in directions:
        old = kept.get(d.name)
        if old is not None and old.method != d.method:
            kept[f"{old.method}_{d.name}"] = dataclasses.replace(old, name=f"{old.method}_{d.name}")
    kept.update({d.name: d for d in directions})
    return save_directions(path, list(kept.values()))


def _from_file(path: Path, name: str | None) -> Direction:
    if not path.is_file():
        raise InputError(f"direction file {path} does not exist")
    if path.suffix == ".npy":
        return Direction(name or path.stem, load_vector(path))
    try:
        found = read_directions(path)
    except (CheckpointError, SafetensorError) as e:
        raise InputError(f"direction file {path}: {e}") from e
    if name is None and len(found) == 1:
        return next(iter(found.values()))
    if name not in found:
        raise InputError(f"direction file {path} holds {sorted(found)}; name one as {path}:NAME")
    return found[name]


def check_shape(vector: torch.Tensor, generator: Generator, what: str) -> None:
    """InputError naming ``what`` unless ``vector`` is (w_dim,) or (num_ws, w_dim) for ``generator``."""
    num_ws, w_dim = generator.num_ws, generator.w_dim
    if tuple(vector.shape) not in ((w_dim,), (num_ws, w_dim)):
        raise InputError(f"{what} has shape {tuple(vector.shape)}; this generator needs ({w_dim},) "
                         f"or ({num_ws}, {w_dim})")


def get_direction(spec: str, generator: Generator, library: Mapping[str, Direction] | None = None) -> Direction:
    """A direction by name (from ``library``, the generator's) or from a file: ``dir.safetensors``,
    ``dir.safetensors:NAME`` for a file holding several, or a bare ``dir.npy`` vector.

    Args:
        generator: the loaded generator the codes belong to (its shape and id).
        library: the generator's directions by name (see :class:`dynode.pipelines.Models`).

    Raises:
        InputError: unknown name, unreadable file, a direction of the wrong size, or one made
            for another generator (its id differs from this generator's).
    """
    path, _, name = spec.partition(":") if ".safetensors:" in spec else (spec, "", "")
    path = Path(path)
    if path.suffix in (".safetensors", ".npy"):
        d = _from_file(path, name or None)
    else:
        available = library or {}
        if spec not in available:
            raise InputError(f"unknown direction {spec!r} for generator {generator.record.label}; available: "
                             f"{sorted(available)} (or give a .safetensors/.npy file)")
        d = available[spec]
    check_shape(d.vector, generator, f"direction {spec!r}")
    num_ws = generator.num_ws
    if d.generator_id is not None and generator.record.id and d.generator_id != generator.record.id:
        raise InputError(f"direction {spec!r} was made for generator {d.generator_id}, but these codes belong to "
                         f"{generator.record.label} ({generator.record.id}); fit directions for this generator")
    d.offset(0.0, num_ws)  # checks its layers against this generator
    return d
