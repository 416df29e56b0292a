"""Generators: the StyleGAN2 implementation and loading by bundled name or folder path."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

import torch

from dynode.errors import CheckpointError
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.io.checkpoints import load_model_files

ARCHITECTURES = {"stylegan2": (StyleGAN2Config, StyleGAN2Generator)}


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


def apply_delta(generator: StyleGAN2Generator, delta: dict[str, torch.Tensor]) -> StyleGAN2Generator:
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
    return generator


def load_generator(name_or_path: str = "toyfaces64", device: str | torch.device = "cpu",
                   delta: dict[str, torch.Tensor] | None = None) -> StyleGAN2Generator:
    """Load a generator by bundled name (e.g. ``"toyfaces64"``) or model folder path, in eval mode,
    with a video's pivotal-tuning ``delta`` added when given.

    Raises:
        CheckpointError: unknown name, unreadable files, unknown architecture, weights that do
            not fit the architecture in config.json (another resolution or width), or a delta
            that does not fit.
    """
    folder = resolve(name_or_path)
    meta, tensors = load_model_files(folder)
    arch = meta.get("architecture")
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{folder}: architecture {arch!r} is not one of {sorted(ARCHITECTURES)}")
    config_cls, model_cls = ARCHITECTURES[arch]
    try:
        model = model_cls(config_cls.from_dict(meta["config"]))
    except (KeyError, TypeError, ValueError) as e:
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
        raise CheckpointError(f"{folder}: weights do not match the {arch} config "
                              f"(resolution {model.config.resolution}): {detail}")
    model.load_state_dict(tensors)
    if delta:
        apply_delta(model, delta)
    return model.eval().requires_grad_(False).to(device)


__all__ = ["StyleGAN2Config", "StyleGAN2Generator", "apply_delta", "generator_id", "load_generator", "bundled_names", "resolve"]
