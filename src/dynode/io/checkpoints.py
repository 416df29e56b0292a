"""Model checkpoints and stage artifacts on disk.

A model is a folder ``NAME/`` with ``model.safetensors`` (weights) and ``config.json``
(``format_version``, ``architecture``, the architecture config, the dynode version). A stage
artifact is one ``.safetensors`` file whose header metadata holds its JSON description.
Every write goes to a temporary name in the same folder and is renamed when complete.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from dynode.errors import CheckpointError, StorageError, storage_error
from dynode.types import GeneratorRecord, InversionStats, LatentSequence, Source, TuningStats
from dynode.version import __version__

FORMAT_VERSION = 1


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Raises:
        StorageError: the machine refused the write (no space, no permission, a read-only file system),
            naming ``path`` (or the file the refusal named) and the cause; the temporary file is removed.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix if suffix is not None else path.suffix,
                                   dir=path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if isinstance(e, StorageError):
            raise
        raise storage_error(path if e.filename in (None, tmp) else e.filename, e) from e
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def torch_load(path: str | os.PathLike, what: str, device: str | torch.device = "cpu", allowed: tuple = ()):
    """A torch file's tensors and containers, read without running code (``weights_only``).

    Args:
        what: how a message names the file ("a rosinality checkpoint", "the ST-LPIPS weights").
        allowed: classes the file may also hold (torch's ``safe_globals``).

    Raises:
        CheckpointError: a file that asks to import anything else (named, never with advice to turn
            the safe loader off), or one torch cannot read.
    """
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for a file it cannot read (KeyError, UnpicklingError...)
        asked = re.search(r"GLOBAL ([\w.]+)", str(e))
        if asked:
            raise CheckpointError(f"{path}: refused: {what} asks to import {asked.group(1)}; dynode reads only "
                                  "tensors and containers from a torch file and never runs its code") from e
        raise CheckpointError(f"{path}: unreadable as {what} ({type(e).__name__})") from e


def save_model(folder: str | os.PathLike, module: torch.nn.Module, architecture: str, config: dict,
               info: dict | None = None) -> Path:
    """Write ``module``'s weights and config to ``folder`` (created if needed); ``info`` is provenance
    (e.g. training length) stored alongside, never needed to load the model."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    meta = {"format_version": FORMAT_VERSION, "architecture": architecture, "config": config,
            "dynode_version": __version__, **({"info": info} if info else {})}
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return folder


def load_model_files(folder: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read ``config.json`` and the weights of a model folder.

    Raises:
        CheckpointError: the folder, a file, or the format version is missing or unreadable.
    """
    folder = Path(folder)
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file() or not weights_path.is_file():
        raise CheckpointError(f"{folder}: expected a model folder with config.json and model.safetensors")
    try:
        meta = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: unreadable config ({e})") from e
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{weights_path}: unreadable weights ({e})") from e
    return meta, tensors


def save_artifact(path: str | os.PathLike, kind: str, tensors: dict[str, torch.Tensor], info: dict) -> Path:
    """Write a stage artifact: tensors plus a JSON description in the safetensors header."""
    meta = {"format_version": str(FORMAT_VERSION), "kind": kind, "dynode_version": __version__,
            "info": json.dumps(info)}
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
        except SafetensorError as e:  # safetensors reports a failed write as its own error
            if "I/O error" not in str(e):
                raise
            raise storage_error(path, e) from e
    return path


def artifact_kind(path: str | os.PathLike) -> str:
    """The kind of a stage artifact ("latents", "trajectory"...), read from its header alone.

    Raises:
        CheckpointError: missing or unreadable file, or not a dynode artifact.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such artifact file")
    try:
        with safe_open(str(path), framework="pt") as f:
            kind = (f.metadata() or {}).get("kind")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable dynode artifact ({e})") from e
    if kind is None:
        raise CheckpointError(f"{path}: not a dynode artifact (no kind in its header)")
    return kind


def load_artifact(path: str | os.PathLike, kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a stage artifact written by :func:`save_artifact`, checking its kind.

    Raises:
        CheckpointError: missing or unreadable file, or an artifact of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such artifact file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable dynode artifact ({e})") from e
    if meta.get("kind") != kind:
        raise CheckpointError(f"{path}: artifact of kind {meta.get('kind')!r}, expected {kind!r}")
    return tensors, json.loads(meta["info"])


def delta_tensors(delta: dict | None) -> dict[str, torch.Tensor]:
    """A tuning delta as artifact tensors (names prefixed ``delta.``)."""
    return {f"delta.{k}": v for k, v in (delta or {}).items()}


def tensors_delta(tensors: dict[str, torch.Tensor]) -> dict | None:
    """The tuning delta stored among an artifact's tensors (None: none)."""
    return {k[len("delta."):]: v for k, v in tensors.items() if k.startswith("delta.")} or None


def save_latents(path: str | os.PathLike, sequence: LatentSequence) -> None:
    """Write a latent sequence (codes, times, losses, PSNR, tuning delta, source record) as a "latents" artifact."""
    tensors = {"times": sequence.times, "latents": sequence.latents, "losses": sequence.losses, "psnr": sequence.psnr}
    tensors.update(delta_tensors(sequence.generator.delta))
    save_artifact(path, "latents", tensors, {
        "generator": sequence.generator.name, "generator_id": sequence.generator.id, "space": sequence.space,
        "stats": None if sequence.stats is None else sequence.stats.to_dict(),
        "tuning": None if sequence.tuning is None else sequence.tuning.to_dict(),
        "source": None if sequence.source is None else sequence.source.to_dict()})


def load_latents(path: str | os.PathLike) -> LatentSequence:
    """The latent sequence of a "latents" artifact written by :func:`save_latents`.

    Raises:
        CheckpointError: missing or unreadable file, or an artifact of another kind.
    """
    t, info = load_artifact(path, "latents")
    generator = GeneratorRecord(info["generator"], info.get("generator_id", ""), tensors_delta(t))
    old = info.get("info") or {}  # artifacts before the typed records kept them in a free-form dict
    stats = info.get("stats") or (old if "init" in old else None)
    tuning = info.get("tuning") or old.get("pti")
    return LatentSequence(t["times"], t["latents"], t["losses"], t["psnr"], generator, info["space"],
                          None if stats is None else InversionStats.from_dict(stats),
                          None if tuning is None else TuningStats.from_dict(tuning), Source.from_dict(info.get("source")))
