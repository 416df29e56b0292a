"""Generators: the StyleGAN2 implementation and loading by bundled name or folder path."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from importlib import resources
from pathlib import Path

import torch

from dynode.config import DEFAULT_GENERATOR
from dynode.errors import CheckpointError, InputError
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.generators.zspace import ZSpaceGenerator, build_zspace, save_zspace
from dynode.io.checkpoints import load_model_files
from dynode.types import Generator, GeneratorRecord


def bundled_names() -> list[str]:
    """Names of the generators shipped inside the package."""
    root = resources.files("dynode") / "weights"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())


def resolve(name_or_path: str) -> Path:
    """Map a bundled generator name or a model folder path to the folder."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    bundled = resources.files("dynode") / "weights" / str(name_or_path)
    if bundled.is_dir():
        return Path(str(bundled))
    raise CheckpointError(
        f"unknown generator {name_or_path!r}: not a model folder, and not a bundled name {bundled_names()}")


@functools.lru_cache(maxsize=16)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def generator_id(name_or_path: str) -> str:
    """A short id of a generator's weights (sha256 of its model.safetensors, 16 hex digits).

    Directions record it, so that a direction made for one generator is refused by another.
    """
    weights = resolve(name_or_path) / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{weights.parent}: no model.safetensors")
    stat = weights.stat()
    return _digest(str(weights), stat.st_mtime_ns, stat.st_size)


def apply_delta(generator: Generator, delta: dict[str, torch.Tensor]) -> Generator:
    """Add a weight delta (e.g. from pivotal tuning) to a generator's parameters in place; returns it.

    Raises:
        CheckpointError: a delta for another generator (unknown names or shapes).
    """
    params = dict(generator.named_parameters())
    wrong = [k for k, v in delta.items() if k not in params or params[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"the tuning delta does not fit this generator (e.g. {wrong[:3]}); were the codes "
                              "made with another generator?")
    with torch.no_grad():
        for k, v in delta.items():
            params[k].add_(v.to(params[k].device))
    generator.record = replace(generator.record, delta=delta)
    return generator


def _build_stylegan2(config: dict) -> StyleGAN2Generator:
    return StyleGAN2Generator(StyleGAN2Config.from_dict(config))


# How each architecture named in a model folder's config.json is built from its config.
ARCHITECTURES = {"stylegan2": _build_stylegan2, "zspace": build_zspace}


def load_generator(name_or_path: str = DEFAULT_GENERATOR, device: str | torch.device = "cpu",
                   delta: dict[str, torch.Tensor] | None = None, expect_id: str | None = None) -> Generator:
    """Load a generator by bundled name (e.g. :data:`dynode.config.DEFAULT_GENERATOR`) or model folder path, in eval mode,
    with a video's pivotal-tuning ``delta`` added when given. Its ``record`` says how it was
    loaded (name, weight id, delta), so artifacts made with it reload it alone.

    Args:
        expect_id: the weight id an artifact recorded; a folder whose weights changed since is refused.

    Raises:
        CheckpointError: unknown name, unreadable files, unknown architecture, weights that do
            not fit the architecture in config.json (another resolution or width), a delta
            that does not fit, or weights other than ``expect_id``.
    """
    folder = resolve(name_or_path)
    gid = generator_id(name_or_path)
    if expect_id and expect_id != gid:
        raise CheckpointError(f"{folder}: these weights (id {gid}) are not the generator the codes were made with "
                              f"(id {expect_id}); give the generator they were made with")
    meta, tensors = load_model_files(folder)
    arch = meta.get("architecture")
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{folder}: architecture {arch!r} is not one of {sorted(ARCHITECTURES)}")
    try:
        model = ARCHITECTURES[arch](meta["config"])
    except (KeyError, TypeError, ValueError, InputError) as e:
        raise CheckpointError(f"{folder}: invalid {arch} config ({e})") from e
    expected = model.state_dict()
    wrong = [k for k, v in tensors.items() if k in expected and v.shape != expected[k].shape]
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if wrong or missing or extra:
        detail = "; ".join(filter(None, [
            f"shape mismatch in {wrong[:3]} (e.g. {wrong[0]}: file {tuple(tensors[wrong[0]].shape)}, "
            f"config {tuple(expected[wrong[0]].shape)})" if wrong else "",
            f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else ""]))
        resolution = f" (resolution {model.resolution})" if arch == "stylegan2" else ""
        raise CheckpointError(f"{folder}: weights do not match the {arch} config{resolution}: {detail}")
    model.load_state_dict(tensors)
    if delta:
        apply_delta(model, delta)
    model.record = GeneratorRecord(str(name_or_path), gid, delta or None)
    return model.eval().requires_grad_(False).to(device)


__all__ = ["ARCHITECTURES", "StyleGAN2Config", "StyleGAN2Generator", "ZSpaceGenerator", "apply_delta",
           "bundled_names", "generator_id", "load_generator", "resolve", "save_zspace"]
