"""Semantic directions in W: found with the InterFaceGAN recipe, stored beside a generator.

Recipe: sample codes w = mapping(z), render them, read attributes with the toy-face probe,
label the top and bottom 30% of each attribute, fit a logistic-regression boundary in W and
take its unit normal (pointing to more of the attribute). Each direction is stored scaled by
the spread of sample codes along it, so strength 1 moves a code by one standard deviation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from dynode.errors import InputError
from dynode.generators import resolve
from dynode.generators.stylegan2 import StyleGAN2Generator
from dynode.io.checkpoints import load_artifact, save_artifact
from dynode.metrics.attributes import ATTRIBUTES, AttributeRegressor

DIRECTIONS_FILE = "directions.safetensors"
# Public direction name -> probe attribute.
EDITABLE = {"smile": "smile", "glasses": "glasses", "hair_color": "hair_lightness", "mouth_open": "mouth_open",
            "eye_open": "eye_open", "hair_length": "hair_length", "skin": "skin"}


def _boundary(w: torch.Tensor, labels: torch.Tensor, steps: int = 300) -> tuple[torch.Tensor, float]:
    """Logistic regression on W (L2-regularised); returns the unit normal and training accuracy."""
    mean, std = w.mean(0), w.std(0).clamp(min=1e-6)
    x = (w - mean) / std
    weight = torch.zeros(w.shape[1], requires_grad=True)
    bias = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weight + bias, labels) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = float(((x @ weight + bias > 0).float() == labels).float().mean())
        normal = weight / std  # back to W coordinates
    return normal / normal.norm(), acc


@torch.no_grad()
def fit_directions(generator: StyleGAN2Generator, regressor: AttributeRegressor, n: int = 4000,
                   seed: int = 0, batch: int = 250) -> tuple[dict[str, torch.Tensor], dict]:
    """Find one W direction per name in ``EDITABLE``; returns (directions (w_dim,), stats)."""
    g = torch.Generator().manual_seed(seed)
    ws, scores = [], []
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), generator.w_dim, generator=g)
        w = generator.mapping(z)
        ws.append(w)
        scores.append(regressor(generator.synthesis(w)))
    w, scores = torch.cat(ws), torch.cat(scores)
    directions, stats = {}, {}
    for name, attr in EDITABLE.items():
        s = scores[:, ATTRIBUTES.index(attr)]
        lo, hi = torch.quantile(s, 0.3), torch.quantile(s, 0.7)
        keep = (s <= lo) | (s >= hi)
        with torch.enable_grad():
            normal, acc = _boundary(w[keep], (s[keep] >= hi).float())
        spread = float((w @ normal).std())
        directions[name] = normal * spread
        stats[name] = {"boundary_accuracy": round(acc, 4), "w_spread": round(spread, 4),
                       "attribute_range": [round(float(s.min()), 3), round(float(s.max()), 3)]}
    return directions, {"samples": n, "seed": seed, "directions": stats}


def save_directions(folder: str | Path, directions: dict[str, torch.Tensor], stats: dict) -> Path:
    return save_artifact(Path(folder) / DIRECTIONS_FILE, "directions", directions, stats)


def load_directions(generator: str) -> dict[str, torch.Tensor]:
    """Directions stored beside a generator (bundled name or folder); {} if it has none."""
    path = resolve(generator) / DIRECTIONS_FILE
    if not path.is_file():
        return {}
    return load_artifact(path, "directions")[0]


def get_direction(spec: str, generator: str, latent_shape: tuple[int, int]) -> torch.Tensor:
    """A direction by name (stored beside the generator) or from a file (.safetensors key
    "direction", or .npy), checked against the latent shape (num_ws, w_dim).

    Returns:
        (w_dim,) for a W direction (applied to every layer) or (num_ws, w_dim) for a W+ one.

    Raises:
        InputError: unknown name, unreadable file, or a direction of the wrong size.
    """
    path = Path(spec)
    if path.suffix in (".safetensors", ".npy"):
        if not path.is_file():
            raise InputError(f"direction file {path} does not exist")
        try:
            if path.suffix == ".npy":
                d = torch.from_numpy(np.load(path, allow_pickle=False)).float()
            else:
                tensors = load_file(str(path))
                if "direction" not in tensors:
                    raise ValueError(f"no tensor named 'direction' (found {sorted(tensors)})")
                d = tensors["direction"].float()
        except (OSError, ValueError, SafetensorError) as e:
            raise InputError(f"direction file {path}: unreadable ({e})") from e
    else:
        available = load_directions(generator)
        if spec not in available:
            raise InputError(f"unknown direction {spec!r} for generator {generator!r}; available: "
                             f"{sorted(available)} (or give a .safetensors/.npy file)")
        d = available[spec]
    num_ws, w_dim = latent_shape
    if tuple(d.shape) not in ((w_dim,), (num_ws, w_dim)):
        raise InputError(f"direction {spec!r} has shape {tuple(d.shape)}; this generator needs ({w_dim},) "
                         f"or ({num_ws}, {w_dim})")
    return d.float()
