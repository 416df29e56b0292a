"""StyleGAN2 generator in pure PyTorch (CPU or GPU, no compiled ops).

Parameter names follow the widely used rosinality layout (``style.1.weight``,
``convs.0.conv.modulation.weight``, ``to_rgbs.0.bias``, ``noises.noise_0`` ...), so that a
checkpoint in that format maps onto this module by a simple key table. The resampling ops
(zero-insertion upsampling, [1, 3, 3, 1] blur) match that implementation numerically.

Latent shapes: z (B, w_dim); W (B, w_dim); W+ (B, num_ws, w_dim).
Images: float32 (B, 3, R, R), RGB, nominally in [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from dynode.config import _Config
from dynode.errors import InputError
from dynode.generators.base import GeneratorIdentity


@dataclass(frozen=True)
class StyleGAN2Config(_Config):
    """Architecture of a StyleGAN2 generator.

    Args:
        resolution: output size, a power of two >= 8.
        w_dim: size of z and w.
        n_mlp: number of mapping layers.
        channels: feature channels per resolution, as {resolution: channels} for 4..resolution
            (keys may be strings, as JSON writes them).
        lr_mlp: learning-rate multiplier of the mapping network.
        conv_clamp: clamp every synthesis activation and to-RGB output to +-conv_clamp, as NVlabs'
            StyleGAN2-ADA does (256 in its configs, so that fp16 layers cannot overflow); None: no clamp.
    """

    resolution: int = 64
    w_dim: int = 128
    n_mlp: int = 4
    channels: dict[int, int] = field(default_factory=lambda: {4: 128, 8: 128, 16: 128, 32: 64, 64: 64})
    lr_mlp: float = 0.01
    conv_clamp: float | None = None

    def __post_init__(self):
        if self.conv_clamp is not None and not self.conv_clamp > 0:
            raise InputError(f"StyleGAN2Config.conv_clamp must be > 0 or None, got {self.conv_clamp}")
        log = math.log2(self.resolution) if self.resolution > 0 else 0.5
        if self.resolution < 8 or log != int(log):
            raise InputError(f"StyleGAN2Config.resolution must be a power of two >= 8, got {self.resolution}")
        channels = {int(k): int(v) for k, v in self.channels.items()}
        need = [2**i for i in range(2, int(log) + 1)]
        missing = [r for r in need if r not in channels]
        if missing:
            raise InputError(f"StyleGAN2Config.channels lacks resolutions {missing}; got {sorted(channels)}")
        object.__setattr__(self, "channels", {r: channels[r] for r in need})

    @property
    def log_size(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def num_ws(self) -> int:
        return self.log_size * 2 - 2



def _blur_kernel(k=(1, 3, 3, 1)) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad=(0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, filter with a 2-D FIR kernel, downsample.

    Args:
        x: (B, C, H, W). kernel: (kh, kw). pad: (before, after) applied to both axes.
    """
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0): x.shape[2] - max(-p1, 0), max(-p0, 0): x.shape[3] - max(-p1, 0)]
    weight = torch.flip(kernel, [0, 1]).to(x)[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, weight, groups=c)
    return x[:, :, ::down, ::down]


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate and an optional fused leaky ReLU."""

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activate=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x):
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        if self.activate:
            out = F.leaky_relu(out, 0.2) * math.sqrt(2)
        return out


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution, optionally demodulated and 2x upsampling."""

    def __init__(self, in_ch, out_ch, kernel_size, w_dim, demodulate=True, upsample=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.demodulate = demodulate
        self.upsample = upsample
        self.kernel_size = kernel_size
        if upsample:
            self.register_buffer("blur_kernel", _blur_kernel() * 4, persistent=False)

    def forward(self, x, w):
        b, in_ch, h, wd = x.shape
        style = self.modulation(w).view(b, 1, in_ch, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, -1, 1, 1, 1)
        out_ch = weight.shape[1]
        x = x.reshape(1, b * in_ch, h, wd)
        k = self.kernel_size
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * in_ch, out_ch, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=b)
            out = out.reshape(b, out_ch, out.shape[2], out.shape[3])
            return upfirdn2d(out, self.blur_kernel, pad=(1, 1))
        out = F.conv2d(x, weight.reshape(b * out_ch, in_ch, k, k), padding=k // 2, groups=b)
        return out.reshape(b, out_ch, h, wd)


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x + self.weight * noise


def _clamp(x: torch.Tensor, clamp: float | None) -> torch.Tensor:
    return x if clamp is None else x.clamp(-clamp, clamp)


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, w_dim, upsample=False, clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, w_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)
        self.clamp = clamp

    def forward(self, x, w, noise):
        # NVlabs clamps after the activation and its gain (bias_act's clamp).
        return _clamp(self.activate(self.noise(self.conv(x, w), noise)), self.clamp)


class ToRGB(nn.Module):
    def __init__(self, in_ch, w_dim, upsample=True, clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = upsample
        self.clamp = clamp
        if upsample:
            self.register_buffer("blur_kernel", _blur_kernel() * 4, persistent=False)

    def forward(self, x, w, skip=None):
        out = _clamp(self.conv(x, w) + self.bias, self.clamp)  # clamped before the skip is added, as NVlabs
        if skip is not None:
            out = out + upfirdn2d(skip, self.blur_kernel, up=2, pad=(2, 1))
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


class StyleGAN2Generator(GeneratorIdentity, nn.Module):
    """StyleGAN2 generator: mapping network z -> w, synthesis network W+ -> image.

    The fixed noise buffers ``noises.noise_i`` make ``synthesis`` deterministic by default;
    ``w_avg`` holds the mean latent (used for truncation and as the inversion start).
    """

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.config = config
        c = config.channels
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(config.w_dim, config.w_dim, lr_mul=config.lr_mlp, activate=True)
            for _ in range(config.n_mlp)])
        self.input = ConstantInput(c[4])
        clamp = config.conv_clamp
        self.conv1 = StyledConv(c[4], c[4], 3, config.w_dim, clamp=clamp)
        self.to_rgb1 = ToRGB(c[4], config.w_dim, upsample=False, clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        num_layers = (config.log_size - 2) * 2 + 1
        for i in range(num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = c[4]
        for log in range(3, config.log_size + 1):
            out_ch = c[2**log]
            self.convs.append(StyledConv(in_ch, out_ch, 3, config.w_dim, upsample=True, clamp=clamp))
            self.convs.append(StyledConv(out_ch, out_ch, 3, config.w_dim, clamp=clamp))
            self.to_rgbs.append(ToRGB(out_ch, config.w_dim, clamp=clamp))
            in_ch = out_ch
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def mapping(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """z (B, w_dim) -> w (B, w_dim), optionally truncated towards ``w_avg``."""
        w = self.style(z)
        if truncation != 1.0:
            w = self.w_avg + truncation * (w - self.w_avg)
        return w

    @torch.no_grad()
    def update_w_avg(self, n: int = 10000, seed: int = 0) -> None:
        """Set ``w_avg`` to the mean of n mapped z samples (deterministic from seed)."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.w_dim, generator=g).to(self.w_avg.device)
        self.w_avg.copy_(self.style(z).mean(0))

    def _noise_list(self, batch, randomize):
        bufs = [getattr(self.noises, f"noise_{i}") for i in range(len(self.convs) + 1)]
        if randomize:
            return [torch.randn(batch, 1, n.shape[2], n.shape[3], device=n.device) for n in bufs]
        return bufs

    def synthesis(self, ws: torch.Tensor, randomize_noise: bool = False) -> torch.Tensor:
        """Render W+ codes.

        Args:
            ws: (B, num_ws, w_dim) W+ codes, or (B, w_dim) W codes (broadcast to every layer).
            randomize_noise: draw fresh noise instead of the fixed buffers.

        Returns:
            (B, 3, R, R) images.
        """
        if ws.dim() == 2:
            ws = ws[:, None].expand(-1, self.num_ws, -1)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise InputError(
                f"synthesis(): expected ws of shape (B, {self.num_ws}, {self.w_dim}) or (B, {self.w_dim}), "
                f"got {tuple(ws.shape)}")
        noise = self._noise_list(ws.shape[0], randomize_noise)
        out = self.input(ws.shape[0])
        out = self.conv1(out, ws[:, 0], noise[0])
        skip = self.to_rgb1(out, ws[:, 1])
        i = 1
        for conv_up, conv, to_rgb, n1, n2 in zip(self.convs[::2], self.convs[1::2], self.to_rgbs,
                                                noise[1::2], noise[2::2]):
            out = conv_up(out, ws[:, i], n1)
            out = conv(out, ws[:, i + 1], n2)
            skip = to_rgb(out, ws[:, i + 2], skip)
            i += 2
        return skip

    def forward(self, z: torch.Tensor, truncation: float = 1.0, randomize_noise: bool = True,
                mix_z: torch.Tensor | None = None, mix_layer: int | None = None) -> torch.Tensor:
        """Sample images from z (B, w_dim); optional style mixing from ``mix_layer`` on with ``mix_z``."""
        w = self.mapping(z, truncation)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if mix_z is not None and mix_layer is not None:
            ws[:, mix_layer:] = self.mapping(mix_z, truncation)[:, None]
        return self.synthesis(ws, randomize_noise=randomize_noise)
