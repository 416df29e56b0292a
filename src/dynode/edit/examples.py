"""An attribute reader trained from a user's labelled example frames, for any generator.

The bundled probe reads the toy faces' attributes; a user's generator (an FFHQ checkpoint) has
none. Given a folder of frames with the attribute (``with/``) and one without (``without/``),
framed as the generator draws (aligned face crops for a face generator), the reader is a
logistic boundary on features of the frames: the generator's encoder's first-pass codes where it
has an encoder (the encoder was trained to say which code draws a picture, so its codes hold what
the generator can draw), else ImageNet features (the ST-LPIPS AlexNet trunk that ships with the
perceptual metric). A boundary needs tens of examples, not thousands. Both are differentiable in
the picture, so :func:`dynode.edit.learn.learn_direction` trains an offset through the generator
and the reader as it does through the probe.

Its held-out accuracy (k-fold over the examples) says whether the examples separate at all: an
attribute the features do not hold (a few pixels of a small generator's picture) stays near
chance, and the reader is refused rather than trained to noise.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from dynode.errors import InputError
from dynode.io.images import from_uint8
from dynode.io.video import read_video
from dynode.metrics.perceptual import load_stlpips
from dynode.types import Generator

MIN_EXAMPLES = 8  # a side
MIN_ACCURACY = 0.75  # held-out, below which the examples are said not to separate
FOLDS = 5


def read_examples(folder: str | Path, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of ``folder``/with and ``folder``/without, centre-cropped to squares of the generator's
    resolution: two (N, 3, R, R) tensors in [-1, 1].

    Raises:
        InputError: a missing subfolder, unreadable images, or fewer than :data:`MIN_EXAMPLES` a side.
    """
    folder = Path(folder)
    out = []
    for side in ("with", "without"):
        path = folder / side
        if not path.is_dir():
            raise InputError(f"{folder}: no {side}/ folder; examples are two folders of images, {folder}/with "
                             f"(frames that show the attribute) and {folder}/without")
        try:
            pixels = read_video(path, size=resolution).pixels
        except InputError as e:  # a folder of fewer than 2 images, or an unreadable one (the message names it)
            raise InputError(f"{e} (a reader needs at least {MIN_EXAMPLES} images a side)") from e
        if len(pixels) < MIN_EXAMPLES:
            raise InputError(f"{path}: {len(pixels)} images; a reader needs at least {MIN_EXAMPLES} a side")
        out.append(from_uint8(pixels))
    return out[0], out[1]


class EncoderCodes(nn.Module):
    """Images (B, 3, R, R) in [-1, 1] -> the generator's encoder's first-pass codes, flattened (B, num_ws * w_dim).

    The first pass renders nothing (it starts from the mean code and its render), so the codes are
    differentiable in the picture at the cost of one encoder pass."""

    name = "encoder"

    def __init__(self, encoder: nn.Module, generator: Generator):
        super().__init__()
        self.encoder = encoder.requires_grad_(False)
        code0, image0 = (first[0].contiguous() for first in encoder.start(generator, 1))
        self.register_buffer("code0", code0)
        self.register_buffer("image0", image0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = len(images)
        return self.encoder(images, self.image0.expand(n, *self.image0.shape),
                            self.code0.expand(n, *self.code0.shape)).flatten(1)


class PerceptualFeatures(nn.Module):
    """Images (B, 3, R, R) in [-1, 1] -> ImageNet features (B, D): the ST-LPIPS AlexNet trunk's last four
    layers at 128 px, each unit-normalised over channels and averaged on a 3 x 3 grid (for a generator
    with no encoder)."""

    name = "alexnet"
    SIZE, GRID = 128, 3

    def __init__(self, device: str | torch.device = "cpu"):
        super().__init__()
        self.trunk = load_stlpips(device)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(self.SIZE, self.SIZE), mode="bilinear", antialias=True, align_corners=False)
        out = []
        for f in self.trunk.features(x)[1:]:
            f = f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            out.append(F.adaptive_avg_pool2d(f, self.GRID).flatten(1))
        return torch.cat(out, 1)


class ExampleReader(nn.Module):
    """Images (B, 3, R, R) in [-1, 1] -> (B, 1) the probability that they show ``attribute``.

    Args:
        features: images -> feature vectors (:class:`EncoderCodes` or :class:`PerceptualFeatures`).
        mean, scale, weight, bias: the boundary on the standardised features.
    """

    def __init__(self, attribute: str, features: nn.Module, mean: torch.Tensor, scale: torch.Tensor,
                 weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.attributes = (attribute,)
        self.features = features
        for name, value in (("mean", mean), ("scale", scale), ("weight", weight), ("bias", bias)):
            self.register_buffer(name, value)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (self.features(images) - self.mean) / self.scale
        return torch.sigmoid(x @ self.weight + self.bias)[:, None]


def _boundary(x: torch.Tensor, y: torch.Tensor, decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic regression with an L2 penalty: (weight, bias)."""
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ weight + bias, y) + decay * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return weight.detach(), bias.detach()


def train_reader(features: nn.Module, attribute: str, with_images: torch.Tensor, without_images: torch.Tensor,
                 decay: float = 0.01, seed: int = 0) -> tuple[ExampleReader, dict]:
    """A reader of ``attribute`` from example images with and without it, on ``features`` (see the module).

    Returns:
        The reader and its stats: examples a side, the features read, the training accuracy and the
        held-out accuracy (k-fold over the examples).

    Raises:
        InputError: examples that do not separate (held-out accuracy under :data:`MIN_ACCURACY`).
    """
    device = next(features.buffers(), torch.zeros(0)).device
    images = torch.cat([with_images, without_images]).to(device)
    labels = torch.cat([torch.ones(len(with_images)), torch.zeros(len(without_images))]).to(device)
    with torch.no_grad():
        raw = torch.cat([features(chunk) for chunk in images.split(32)])
    mean, scale = raw.mean(0), raw.std(0) + 1e-4
    x = (raw - mean) / scale
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(device)
    right = 0
    for fold in order.tensor_split(FOLDS):
        train = torch.ones(len(x), dtype=torch.bool, device=device)
        train[fold] = False
        w, b = _boundary(x[train], labels[train], decay)
        right += int(((x[fold] @ w + b > 0).float() == labels[fold]).sum())
    heldout = right / len(x)
    weight, bias = _boundary(x, labels, decay)
    stats = {"with": len(with_images), "without": len(without_images), "features": features.name,
             "heldout_accuracy": round(heldout, 3),
             "train_accuracy": round(float(((x @ weight + bias > 0).float() == labels).float().mean()), 3)}
    if heldout < MIN_ACCURACY:
        raise InputError(f"the examples of {attribute!r} do not separate: a reader trained on {FOLDS - 1} of {FOLDS} "
                         f"parts tells the last part apart {heldout:.0%} of the time (needs {MIN_ACCURACY:.0%}); "
                         f"the {features.name} features may not hold this attribute, or the frames may not be framed "
                         "as the generator draws (aligned crops); more or clearer examples may help")
    return ExampleReader(attribute, features, mean, scale, weight, bias).eval(), stats
