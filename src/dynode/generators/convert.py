"""Foreign StyleGAN2 checkpoints to dynode model folders, without running code from the file.

- rosinality ``.pt`` / ``.pth`` (stylegan2-pytorch ``train.py``): a ``torch.save`` dict with
  ``g_ema`` (state dict) and ``latent_avg``. Read with torch's weights-only unpickler, which
  rebuilds tensors and plain containers only; ``argparse.Namespace`` (the ``args`` entry) is the
  one extra class allowed. dynode's generator uses the same parameter names.
- NVlabs ``.pkl`` (stylegan2-ada-pytorch / stylegan3 ``G_ema``): a plain pickle of modules whose
  classes travel as source code inside the file (``torch_utils.persistence``). :class:`SafeUnpickler`
  rebuilds tensors and containers, turns each persistent module into a :class:`Stub` holding its
  parameters, buffers and sub-modules, and never looks at (let alone executes) the source. Any
  other import the pickle asks for is refused. Names are then mapped to dynode's layout.

Both keep ``G_ema``'s fixed noise buffers and mean latent; only the StyleGAN2 "skip" generator
with z_dim == w_dim and no class conditioning is supported (StyleGAN2-ADA's default).
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from dynode.errors import CheckpointError
from dynode.generators.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from dynode.io.checkpoints import save_model, torch_load
from dynode.io.images import save_grid

BLUR = torch.tensor([1.0, 3.0, 3.0, 1.0])


class Stub:
    """A module from a pickle, rebuilt as data: its class name and its ``__dict__`` (never its code)."""

    def __init__(self, meta: dict):
        self.class_name = str(meta.get("class_name"))
        self.state = meta.get("state") or {}

    def modules(self, prefix: str = ""):
        """(dotted name, Stub) of this module and every sub-module."""
        yield prefix.rstrip("."), self
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, Stub):
                yield from child.modules(f"{prefix}{name}.")

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this module and its sub-modules, by dotted name."""
        out = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, torch.Tensor):
                    out[prefix + name] = value.detach()
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, Stub):
                out.update(child.tensors(f"{prefix}{name}."))
        return out


class _EasyDict(dict):
    """Stands for ``dnnlib.util.EasyDict`` (a dict subclass): its items are kept as a plain dict."""


def _storage_from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_parameter(data, requires_grad, backward_hooks, *state):
    return torch.nn.Parameter(data, requires_grad=requires_grad)


def _numeric_dtype(dtype) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
        raise CheckpointError(f"refused: the checkpoint holds a numpy value of type {dtype!r}; only numbers are read")
    return dtype


def _numpy_dtype(name, align=False, copy=True) -> np.dtype:
    """``numpy.dtype`` as a pickle rebuilds it, for numeric types only (NVlabs layers hold numpy floats)."""
    if not isinstance(name, str):
        raise CheckpointError(f"refused: the checkpoint asks for a numpy dtype from {type(name).__name__}")
    try:
        return _numeric_dtype(np.dtype(name))
    except TypeError as e:
        raise CheckpointError(f"refused: unknown numpy dtype {name!r}") from e


def _numpy_scalar(dtype, data=None):
    """A numpy scalar (e.g. a layer's ``weight_gain``) from its dtype and raw bytes, as a Python number."""
    dtype = _numeric_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise CheckpointError(f"refused: a numpy {dtype} scalar without its {dtype.itemsize} bytes of data")
    return np.frombuffer(data, dtype)[0].item()


# The only callables and classes a pickle may name: (module, name) -> what it gets instead.
_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("torch", "Size"): torch.Size,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): Stub,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    # numpy scalars and dtypes (numpy 1.x and 2.x names), numbers only.
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickles tensors, containers and NVlabs persistent modules (as :class:`Stub`); refuses the rest."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        raise CheckpointError(f"refused: the checkpoint asks to import {module}.{name}; dynode rebuilds only "
                              "tensors, containers and StyleGAN modules from a pickle and never runs its code")

    def persistent_load(self, pid):
        raise CheckpointError("refused: the pickle uses persistent ids (not an NVlabs network pickle)")


def _channels_and_log(state: dict[str, torch.Tensor]) -> tuple[int, dict[int, int]]:
    n = sum(1 for k in state if re.fullmatch(r"convs\.\d+\.conv\.weight", k))
    if n == 0 or n % 2 or "conv1.conv.weight" not in state:
        raise CheckpointError("not a StyleGAN2 generator: no synthesis convolutions found")
    log = n // 2 + 2
    channels = {4: state["conv1.conv.weight"].shape[1]}
    for i in range(n // 2):
        channels[2 ** (i + 3)] = state[f"convs.{2 * i}.conv.weight"].shape[1]
    return log, channels


def generator_from_state(state: dict[str, torch.Tensor], w_avg: torch.Tensor | None,
                         lr_mlp: float = 0.01, conv_clamp: float | None = None) -> StyleGAN2Generator:
    """A dynode generator from a state dict in rosinality's names (blur kernels optional), its
    activations clamped to +-``conv_clamp`` if given.

    Raises:
        CheckpointError: a missing or misshapen tensor, z_dim != w_dim, or a non-standard blur kernel.
    """
    state = dict(state)
    for key in [k for k in state if k.endswith((".blur.kernel", ".upsample.kernel"))]:
        kernel = state.pop(key).float()
        standard = torch.outer(BLUR, BLUR)
        if kernel.shape != (4, 4) or not torch.allclose(kernel / kernel.sum(), standard / standard.sum(), atol=1e-6):
            raise CheckpointError(f"{key}: blur kernel {kernel.tolist()} is not StyleGAN2's [1, 3, 3, 1]")
    if "style.1.weight" not in state:
        raise CheckpointError("not a StyleGAN2 generator: no mapping network (style.1.weight) found")
    w_dim, z_dim = state["style.1.weight"].shape
    if z_dim != w_dim:
        raise CheckpointError(f"z_dim {z_dim} differs from w_dim {w_dim}; dynode's generator needs them equal")
    n_mlp = sum(1 for k in state if re.fullmatch(r"style\.\d+\.weight", k))
    log, channels = _channels_and_log(state)
    config = StyleGAN2Config(resolution=2 ** log, w_dim=int(w_dim), n_mlp=n_mlp, channels=channels, lr_mlp=lr_mlp,
                             conv_clamp=None if conv_clamp is None else float(conv_clamp))
    model = StyleGAN2Generator(config)
    if w_avg is not None:
        state["w_avg"] = w_avg.reshape(-1)
    expected = model.state_dict()
    if "w_avg" not in state:
        state["w_avg"] = torch.zeros(w_dim)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or extra or wrong:
        raise CheckpointError(f"weights do not form a StyleGAN2 generator of resolution {config.resolution}: "
                              f"missing {missing[:3]}, unexpected {extra[:3]}, misshapen {wrong[:3]}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    if w_avg is None:
        model.update_w_avg()
    return model.eval().requires_grad_(False)


def load_rosinality(path: str | Path) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """(``g_ema`` state dict, ``latent_avg``) of a rosinality checkpoint, read without running code."""
    ckpt = torch_load(path, "the checkpoint", allowed=(argparse.Namespace,))
    if not isinstance(ckpt, dict) or "g_ema" not in ckpt:
        raise CheckpointError(f"{path}: not a rosinality StyleGAN2 checkpoint (no 'g_ema' entry)")
    return dict(ckpt["g_ema"]), ckpt.get("latent_avg")


def load_nvlabs(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(``G_ema``'s tensors by NVlabs name, its settings) of a network pickle. The settings are its
    constructor kwargs (``init_kwargs``), the synthesis layers' ``conv_clamp`` and the mapping
    network's learning-rate multiplier read off its first layer's ``weight_gain`` (None if absent).

    Raises:
        CheckpointError: refused imports, not a StyleGAN2 network pickle, or layers that clamp
            their activations differently.
    """
    try:
        with open(path, "rb") as f:
            data = SafeUnpickler(f).load()
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from e
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: unreadable as an NVlabs network pickle ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), Stub):
        raise CheckpointError(f"{path}: not an NVlabs network pickle (no 'G_ema' network)")
    g = data["G_ema"]
    tensors = g.tensors()
    if any(".input." in k for k in tensors) or "synthesis.input.freqs" in tensors:
        raise CheckpointError(f"{path}: a StyleGAN3 generator; dynode converts StyleGAN2 generators only")
    modules = dict(g.modules())
    clamps = {m.state.get("conv_clamp") for m in modules.values() if m.class_name in ("SynthesisLayer", "ToRGBLayer")}
    if len(clamps) > 1:
        raise CheckpointError(f"{path}: its synthesis layers clamp activations differently ({sorted(map(str, clamps))}); "
                              "dynode's generator clamps all of them alike or none")
    fc0 = modules.get("mapping.fc0")
    gain = fc0.state.get("weight_gain") if fc0 is not None else None
    lr = float(gain) * math.sqrt(tensors["mapping.fc0.weight"].shape[1]) if isinstance(gain, (int, float)) \
        and "mapping.fc0.weight" in tensors else None
    return tensors, {"init_kwargs": dict(g.state.get("_init_kwargs") or {}), "conv_clamp": next(iter(clamps), None),
                     "lr_multiplier": lr}


def nvlabs_to_rosinality(nv: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """NVlabs StyleGAN2 names -> rosinality names (the same tensors, reshaped), and ``mapping.w_avg``."""
    if any(k.startswith("mapping.embed") for k in nv):
        raise CheckpointError("a class-conditional generator (mapping.embed); dynode converts unconditional ones")
    resolutions = sorted({int(m.group(1)) for k in nv if (m := re.match(r"synthesis\.b(\d+)\.", k))})
    if not resolutions or resolutions[0] != 4:
        raise CheckpointError("not a StyleGAN2 synthesis network (no synthesis.b4 block)")
    ros: dict[str, torch.Tensor] = {}

    def take(key):
        if key not in nv:
            raise CheckpointError(f"missing {key}: not a StyleGAN2-ADA 'skip' generator")
        return nv[key]

    n_mapping = sum(1 for k in nv if re.fullmatch(r"mapping\.fc\d+\.weight", k))
    for i in range(n_mapping):
        ros[f"style.{i + 1}.weight"], ros[f"style.{i + 1}.bias"] = take(f"mapping.fc{i}.weight"), take(f"mapping.fc{i}.bias")

    def conv(dst, src, noise_index):
        ros[f"{dst}.conv.weight"] = take(f"{src}.weight")[None]
        ros[f"{dst}.conv.modulation.weight"] = take(f"{src}.affine.weight")
        ros[f"{dst}.conv.modulation.bias"] = take(f"{src}.affine.bias")
        ros[f"{dst}.activate.bias"] = take(f"{src}.bias")
        ros[f"{dst}.noise.weight"] = take(f"{src}.noise_strength").reshape(1)
        ros[f"noises.noise_{noise_index}"] = take(f"{src}.noise_const")[None, None]

    def to_rgb(dst, src):
        ros[f"{dst}.conv.weight"] = take(f"{src}.torgb.weight")[None]
        ros[f"{dst}.conv.modulation.weight"] = take(f"{src}.torgb.affine.weight")
        ros[f"{dst}.conv.modulation.bias"] = take(f"{src}.torgb.affine.bias")
        ros[f"{dst}.bias"] = take(f"{src}.torgb.bias").reshape(1, -1, 1, 1)

    ros["input.input"] = take("synthesis.b4.const")[None]
    conv("conv1", "synthesis.b4.conv1", 0)
    to_rgb("to_rgb1", "synthesis.b4")
    for i, res in enumerate(resolutions[1:]):
        conv(f"convs.{2 * i}", f"synthesis.b{res}.conv0", 2 * i + 1)
        conv(f"convs.{2 * i + 1}", f"synthesis.b{res}.conv1", 2 * i + 2)
        to_rgb(f"to_rgbs.{i}", f"synthesis.b{res}")
    for key in [k for k in nv if k.endswith("resample_filter")]:
        ros[f"{key}.upsample.kernel"] = nv[key] * 4  # checked against [1, 3, 3, 1], then dropped
    return ros, take("mapping.w_avg")


def convert_checkpoint(path: str | Path, lr_mlp: float | None = None) -> tuple[StyleGAN2Generator, dict]:
    """A dynode generator from a rosinality ``.pt``/``.pth`` or NVlabs ``.pkl``; returns it and a
    description of the source (format, resolution, sizes).

    Raises:
        CheckpointError: unknown format, refused imports, or weights that are not a supported StyleGAN2.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    conv_clamp = None
    if path.suffix in (".pt", ".pth"):
        state, w_avg = load_rosinality(path)
        source = {"format": "rosinality"}
    elif path.suffix == ".pkl":
        nv, settings = load_nvlabs(path)
        state, w_avg = nvlabs_to_rosinality(nv)
        kwargs = settings["init_kwargs"]
        mapping = kwargs.get("mapping_kwargs") or {}
        if lr_mlp is None:  # the file's own: its constructor kwargs, else its first mapping layer's gain
            lr_mlp = float(mapping.get("lr_multiplier", settings["lr_multiplier"] or 0.01))
        conv_clamp = settings["conv_clamp"]
        source = {"format": "nvlabs", "conv_clamp": conv_clamp,
                  "init_kwargs": {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool, type(None)))}}
    else:
        raise CheckpointError(f"{path}: unknown checkpoint format {path.suffix!r}; give a rosinality .pt/.pth "
                              "or an NVlabs .pkl")
    model = generator_from_state(state, w_avg, 0.01 if lr_mlp is None else lr_mlp, conv_clamp)
    if not math.isfinite(float(sum(p.float().abs().sum() for p in model.state_dict().values()))):
        raise CheckpointError(f"{path}: the weights hold NaN or inf")
    source.update(resolution=model.resolution, w_dim=model.w_dim, num_ws=model.num_ws, file=path.name)
    return model, source


def write_converted(path: str | Path, out: str | Path, lr_mlp: float | None = None, samples: int = 8) \
        -> tuple[StyleGAN2Generator, dict]:
    """Convert a checkpoint (see :func:`convert_checkpoint`) into the model folder ``out``, with
    ``samples.png`` showing that many truncated samples (0: none); returns the model and its source.

    Raises:
        CheckpointError: as :func:`convert_checkpoint`.
    """
    model, source = convert_checkpoint(path, lr_mlp)
    save_model(out, model, "stylegan2", model.config.to_dict(), {"converted_from": source})
    if samples > 0:
        z = torch.randn(samples, model.w_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            save_grid(Path(out) / "samples.png", model(z, truncation=0.7, randomize_noise=False),
                      ncol=min(samples, 8))
    return model, source
