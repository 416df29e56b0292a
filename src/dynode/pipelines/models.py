"""The model bundle: a generator and what belongs to it, loaded once from one folder.

    models = Models.from_pretrained()   # the default generator, or a bundled name or model folder
    pipe = VideoPipeline.from_video("clip.mp4", models)

A model folder holds the generator (``config.json`` + ``model.safetensors``) and beside it what
was made for those weights: ``directions.safetensors`` (its direction library), ``encoder/``
(a feed-forward encoder that starts inversion), ``prior/`` (a motion prior learned across many
videos, the dynamics of field "prior") and, named by ``"probe"`` in its config.json, an
attribute probe that reads the pictures it draws (the bundled toy faces name
``toyface_attributes``). Each is loaded here once and checked against the generator's weight id;
the pipeline and its stages receive the objects, never a name to look up again.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import torch

from dynode.config import DEFAULT_GENERATOR
from dynode.dynamics.prior import PRIOR_FOLDER, MotionPrior, load_prior
from dynode.edit.directions import DIRECTIONS_FILE, Direction, get_direction, read_directions
from dynode.errors import CheckpointError
from dynode.generators import apply_delta, bundled_names, load_generator, resolve
from dynode.inversion.encoder import ENCODER_FOLDER, Encoder, load_encoder
from dynode.metrics.attributes import AttributeRegressor, load_regressor
from dynode.types import Generator, GeneratorRecord


@dataclass(frozen=True)
class Models:
    """A loaded generator with its encoder, direction library, attribute probe and motion prior.

    Attributes:
        generator: the generator (a video's tuning delta applied when tuned; its ``record`` says which).
        encoder: starts inversion near the answer (None: the generator has none).
        directions: the generator's direction library by name (empty: none).
        probe: reads toy-face attributes from its pictures (None: the generator has none).
        prior: how its videos move, learned across many (None: the generator has none).
        base: for a generator tuned to a video, the generator before the tuning (None: not tuned). The
            directions were made for it, and an edit's change is drawn by it (see :class:`EditSpec`).
    """

    generator: Generator
    encoder: Encoder | None = None
    directions: Mapping[str, Direction] = field(default_factory=dict)
    probe: AttributeRegressor | None = None
    prior: MotionPrior | None = None
    base: Generator | None = None

    def __post_init__(self):
        object.__setattr__(self, "directions", MappingProxyType(dict(self.directions)))

    @classmethod
    def from_pretrained(cls, name_or_folder: str | Path = DEFAULT_GENERATOR, device: str | torch.device = "cpu",
                        delta: dict | None = None, expect_id: str | None = None) -> "Models":
        """Load a model folder (or a bundled name, see :func:`dynode.generators.bundled_names`).

        Args:
            delta: a video's pivotal-tuning change of the weights, applied to the generator.
            expect_id: the weight id an artifact recorded; other weights are refused.

        Raises:
            CheckpointError: an unknown name, unreadable weights, weights other than ``expect_id``,
                or an encoder, library or probe made for other weights or unreadable.
        """
        models = cls.around(load_generator(str(name_or_folder), device, None, expect_id))
        return models.tuned(delta) if delta is not None else models

    @classmethod
    def around(cls, generator: "Generator | Models") -> "Models":
        """A loaded generator with what its model folder holds beside it (nothing for one built in memory);
        a bundle is returned as it is.

        Raises:
            CheckpointError: an encoder, library, probe or prior made for other weights or unreadable.
        """
        if isinstance(generator, Models):
            return generator
        if not generator.record.name:
            return cls(generator)
        folder = resolve(generator.record.name)
        encoder = load_encoder(folder / ENCODER_FOLDER, generator) \
            if (folder / ENCODER_FOLDER / "model.safetensors").is_file() else None
        library = read_directions(folder / DIRECTIONS_FILE) if (folder / DIRECTIONS_FILE).is_file() else {}
        prior = load_prior(folder / PRIOR_FOLDER, generator.record.id) \
            if (folder / PRIOR_FOLDER / "model.safetensors").is_file() else None
        return cls(generator, encoder, library, _probe(folder), prior)

    @property
    def record(self) -> GeneratorRecord:
        """The generator's identity: how artifacts reload it."""
        return self.generator.record

    def direction(self, spec: str) -> Direction:
        """A direction of the library by name, or from a file (see :func:`dynode.edit.get_direction`)."""
        return get_direction(spec, self.generator, self.directions)

    def other_attributes(self, direction: Direction) -> list[Direction]:
        """The library's directions made for an attribute other than ``direction``'s (to condition on)."""
        return [d for d in self.directions.values() if d.attribute and d.attribute != direction.attribute]

    def tuned(self, delta: dict[str, torch.Tensor]) -> "Models":
        """The same bundle with a tuned copy of the generator (the encoder, library, probe and prior are shared;
        ``base`` keeps the generator before the tuning)."""
        return replace(self, generator=apply_delta(copy.deepcopy(self.generator), delta),
                       base=self.base or self.generator)

    def matching(self, record: GeneratorRecord) -> "Models":
        """This bundle for codes made with ``record``'s generator: tuned with its delta where the codes were
        made with a tuned generator and this one is not.

        Raises:
            CheckpointError: codes of another generator, or tuned with another delta than this generator's.
        """
        mine = self.record
        if record.id and mine.id and record.id != mine.id:
            raise CheckpointError(f"codes made with generator {record.id}, given generator {mine.id}")
        if record.delta is None or record.delta is mine.delta:
            return self
        if mine.delta is None:
            return self.tuned(record.delta)
        if mine.delta.keys() != record.delta.keys() or \
                not all(torch.equal(mine.delta[k].cpu(), v.cpu()) for k, v in record.delta.items()):
            raise CheckpointError("these codes were made with a generator tuned to another video; give the untuned "
                                  "generator, or reload them with VideoPipeline.from_artifacts")
        return self


def _probe(folder: Path) -> AttributeRegressor | None:
    """The probe a model folder's config.json names (a bundled name or a folder relative to it)."""
    name = json.loads((folder / "config.json").read_text()).get("probe")
    if name is None:
        return None
    path = folder / name
    if not path.is_dir() and name not in bundled_names():
        raise CheckpointError(f"{folder}/config.json names the probe {name!r}: neither a folder beside it nor "
                              "a bundled model")
    return load_regressor(path if path.is_dir() else resolve(name))


__all__ = ["Models"]
