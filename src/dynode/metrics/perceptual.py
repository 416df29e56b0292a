"""ST-LPIPS, the shift-tolerant learned perceptual distance, on the project's own AlexNet.

The weights come from the ``stlpips-pytorch`` registry package (a dependency; its own code needs
torchvision, so dynode never imports it and only reads its ``alex_shift_tolerant.pth`` with
``weights_only=True``). The network is the anti-aliased AlexNet of Ghildyal & Liu (ECCV 2022):
stride-1 convolutions followed by reflect-padded [1, 2, 1] blur-pool downsampling, features
unit-normalised over channels, squared differences weighted by learned 1x1 convolutions and
averaged over space. Distances are 0 for identical images and grow with perceived difference.

Images are dynode images (float (N, 3, H, W) in [-1, 1]); sides under 32 px are upsampled to
32 px, the smallest size the network's pooling can take.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from dynode.errors import CheckpointError, InputError
from dynode.io.checkpoints import torch_load

PACKAGE = "stlpips-pytorch"
CHANNELS = (64, 192, 384, 256, 256)
MIN_SIDE = 32
# Our parameter names <- the names in alex_shift_tolerant.pth.
_KEYS = {
    "shift": "scaling_layer.shift", "scale": "scaling_layer.scale",
    "conv1.weight": "net.slice1.0.weight", "conv1.bias": "net.slice1.0.bias",
    "conv2.weight": "net.slice2.5.weight", "conv2.bias": "net.slice2.5.bias",
    "conv3.weight": "net.slice3.9.weight", "conv3.bias": "net.slice3.9.bias",
    "conv4.weight": "net.slice4.11.weight", "conv4.bias": "net.slice4.11.bias",
    "conv5.weight": "net.slice5.13.weight", "conv5.bias": "net.slice5.13.bias",
    **{f"lin.{i}": f"lin{i}.model.1.weight" for i in range(5)},
}


def _blur_pool(x: torch.Tensor) -> torch.Tensor:
    """Reflect-pad by 2, blur with the normalised [1, 2, 1] outer product, keep every 2nd pixel."""
    k = torch.tensor([1.0, 2.0, 1.0], device=x.device, dtype=x.dtype)
    k = (k[:, None] * k[None, :]) / 16
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k.expand(c, 1, 3, 3), stride=2, groups=c)


class STLPIPS(nn.Module):
    """Shift-tolerant LPIPS with an AlexNet trunk; ``forward(a, b)`` gives one distance per pair, (N,)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 64, 11, padding=2)
        self.conv2 = nn.Conv2d(64, 192, 5, padding=2)
        self.conv3 = nn.Conv2d(192, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 256, 3, padding=1)
        self.conv5 = nn.Conv2d(256, 256, 3, padding=1)
        self.lin = nn.ParameterList([nn.Parameter(torch.zeros(1, c, 1, 1)) for c in CHANNELS])

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        f1 = F.relu(_blur_pool(self.conv1(x)))
        f2 = F.relu(self.conv2(_blur_pool(F.max_pool2d(f1, 3, stride=1))))
        f3 = F.relu(self.conv3(_blur_pool(F.max_pool2d(f2, 3, stride=1))))
        f4 = F.relu(self.conv4(f3))
        f5 = F.relu(self.conv5(f4))
        return [f1, f2, f3, f4, f5]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise InputError(f"perceptual distance: expected two (N, 3, H, W) tensors of one shape, got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        if min(a.shape[2:]) < MIN_SIDE:
            size = [max(MIN_SIDE, s) for s in a.shape[2:]]
            a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
            b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
        n = a.shape[0]
        feats = self.features(torch.cat([a, b]).float())
        total = a.new_zeros(n, dtype=torch.float32)
        for f, w in zip(feats, self.lin):
            f = f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            diff = (f[:n] - f[n:]).pow(2)
            total = total + (diff * w).sum(1).mean((1, 2))
        return total


def weights_path() -> Path:
    """The ST-LPIPS AlexNet weights inside the installed stlpips-pytorch package."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(f"the perceptual metric needs the {PACKAGE} package for its weights: "
                              f"pip install --no-deps {PACKAGE}==0.0.2")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "vST0.0" / "alex_shift_tolerant.pth"
    if not path.is_file():
        raise CheckpointError(f"{path}: ST-LPIPS weights missing from the installed {PACKAGE} package")
    return path


def load_stlpips(device: str | torch.device = "cpu") -> STLPIPS:
    """A frozen, eval-mode ST-LPIPS network on ``device`` (cached per device)."""
    return _load(str(torch.device(device)))


@lru_cache(maxsize=4)
def _load(device: str) -> STLPIPS:
    path = weights_path()
    source = torch_load(path, "the ST-LPIPS weights")
    missing = [k for k in _KEYS.values() if k not in source]
    if missing:
        raise CheckpointError(f"{path}: not ST-LPIPS AlexNet weights (missing {', '.join(missing[:3])})")
    model = STLPIPS()
    model.load_state_dict({ours: source[theirs] for ours, theirs in _KEYS.items()})
    return model.eval().requires_grad_(False).to(device)


def stlpips(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ST-LPIPS distance per image pair, (N,), for dynode images in [-1, 1]; differentiable."""
    return load_stlpips(a.device)(a, b)
