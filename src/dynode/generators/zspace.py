"""An adapter that makes any z -> image network (a DCGAN, a VAE decoder...) a dynode generator.

The latent is z itself, seen as a single W+ layer: ``num_ws`` = 1, ``w_dim`` = z_dim. ``mapping``
is the identity (times the truncation). Inversion starts from ``w_avg``, which here is a fixed
sample of z (seed 0), not z's mean 0: z = 0 can be a dead point where no gradient flows (a
DCGAN without biases whose first ReLUs are all off there). Inversion, fitting, interpolation, extrapolation and edits with user vectors then work
unchanged; StyleGAN-only tools (SeFa, style mixing) do not apply.

:func:`save_zspace` writes such a generator as a model folder (architecture ``zspace``) that
names the network's class by import path: artifacts made with it then reload it alone. The
class must be installed and be an ``nn.Module``; nothing else is imported or called.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from dynode.errors import InputError
from dynode.generators.base import GeneratorIdentity
from dynode.io.checkpoints import save_model


class ZSpaceGenerator(GeneratorIdentity, nn.Module):
    """Wrap ``module``: z (B, z_dim) -> images (B, 3, R, R) in [-1, 1].

    Args:
        module: the network, put in eval mode and frozen. It is called with z shaped
            (B, z_dim, 1, 1) when ``conv_input`` (DCGAN-style), else (B, z_dim).
        z_dim: size of z.

    Raises:
        InputError: the module does not turn a z into a square 3-channel image.
    """

    def __init__(self, module: nn.Module, z_dim: int, conv_input: bool = True):
        super().__init__()
        self.module = module.eval().requires_grad_(False)
        self.z_dim, self.conv_input = int(z_dim), conv_input
        self.register_buffer("w_avg", torch.randn(self.z_dim, generator=torch.Generator().manual_seed(0)))
        with torch.no_grad():
            probe = self._run(torch.zeros(1, self.z_dim))
        if probe.dim() != 4 or probe.shape[1] != 3 or probe.shape[2] != probe.shape[3]:
            raise InputError(f"ZSpaceGenerator: the module must map z to (B, 3, R, R) images, got {tuple(probe.shape)}")
        self._resolution = int(probe.shape[-1])

    def _run(self, z: torch.Tensor) -> torch.Tensor:
        return self.module(z[:, :, None, None] if self.conv_input else z)

    @property
    def num_ws(self) -> int:
        return 1

    @property
    def w_dim(self) -> int:
        return self.z_dim

    @property
    def resolution(self) -> int:
        return self._resolution

    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        return z * truncation

    def synthesis(self, ws: torch.Tensor, randomize_noise: bool = False) -> torch.Tensor:
        """(B, 1, z_dim) or (B, z_dim) codes -> (B, 3, R, R) images."""
        if ws.dim() == 3:
            if ws.shape[1] != 1:
                raise InputError(f"ZSpaceGenerator.synthesis(): expected (B, 1, {self.z_dim}) codes, got {tuple(ws.shape)}")
            ws = ws[:, 0]
        if ws.dim() != 2 or ws.shape[1] != self.z_dim:
            raise InputError(f"ZSpaceGenerator.synthesis(): expected (B, {self.z_dim}) codes, got {tuple(ws.shape)}")
        return self._run(ws)

    def forward(self, z: torch.Tensor, truncation: float = 1.0, randomize_noise: bool = False) -> torch.Tensor:
        return self.synthesis(self.mapping(z, truncation))


def save_zspace(folder: str | Path, generator: ZSpaceGenerator, factory: str, kwargs: dict | None = None) -> Path:
    """Write ``generator`` as a model folder: its weights, and ``factory`` ("package.module:Class",
    an installed ``nn.Module`` class) with the JSON ``kwargs`` that rebuild its network.

    Raises:
        InputError: the factory cannot be imported, is not an nn.Module class, or does not
            rebuild a network with these weights.
    """
    config = {"factory": factory, "kwargs": dict(kwargs or {}), "z_dim": generator.z_dim,
              "conv_input": generator.conv_input}
    rebuilt = build_zspace(config)
    try:
        rebuilt.load_state_dict(generator.state_dict())
    except RuntimeError as e:
        raise InputError(f"save_zspace(): {factory}(**{config['kwargs']}) does not take these weights ({e})") from e
    return save_model(folder, generator, "zspace", config)


def build_zspace(config: dict) -> ZSpaceGenerator:
    """A ZSpaceGenerator with fresh weights from a ``zspace`` model config (see :func:`save_zspace`).

    Raises:
        InputError: the factory is not "module:Class", not importable, or not an nn.Module class.
    """
    factory = str(config["factory"])
    module_name, _, attr = factory.partition(":")
    if not module_name or not attr:
        raise InputError(f"zspace factory must be 'package.module:Class', got {factory!r}")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise InputError(f"zspace factory {factory!r} cannot be imported ({e}); install the package that defines it")\
            from e
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise InputError(f"zspace factory {factory!r} is not an nn.Module class")
    return ZSpaceGenerator(cls(**config["kwargs"]), int(config["z_dim"]), bool(config["conv_input"]))
