"""StyleGAN2 residual discriminator (used only for training the bundled generators)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from dynode.generators.stylegan2 import EqualLinear, StyleGAN2Config


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate and an optional scaled leaky ReLU."""

    def __init__(self, in_ch, out_ch, kernel_size, activate=True, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.padding = kernel_size // 2
        self.activate = activate

    def forward(self, x):
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return F.leaky_relu(out, 0.2) * math.sqrt(2) if self.activate else out


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3)
        self.skip = EqualConv2d(in_ch, out_ch, 1, activate=False, bias=False)

    def forward(self, x):
        out = F.avg_pool2d(self.conv2(self.conv1(x)), 2)
        skip = self.skip(F.avg_pool2d(x, 2))
        return (out + skip) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual discriminator with a minibatch standard-deviation layer; logits (B,)."""

    def __init__(self, config: StyleGAN2Config, stddev_group: int = 4):
        super().__init__()
        c = config.channels
        self.from_rgb = EqualConv2d(3, c[config.resolution], 1)
        blocks = []
        for log in range(config.log_size, 2, -1):
            blocks.append(ResBlock(c[2**log], c[2 ** (log - 1)]))
        self.blocks = nn.Sequential(*blocks)
        self.stddev_group = stddev_group
        self.final_conv = EqualConv2d(c[4] + 1, c[4], 3)
        self.final = nn.Sequential(EqualLinear(c[4] * 16, c[4], activate=True), EqualLinear(c[4], 1))

    def forward(self, x):
        out = self.blocks(self.from_rgb(x))
        b, ch, h, w = out.shape
        group = min(b, self.stddev_group)
        while b % group:
            group -= 1
        std = out.view(group, -1, ch, h, w)
        std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([1, 2, 3])
        std = std.view(-1, 1, 1, 1).repeat(group, 1, h, w)
        out = self.final_conv(torch.cat([out, std], 1))
        return self.final(out.flatten(1)).squeeze(1)
