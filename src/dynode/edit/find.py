"""Finding directions: learned through the generator, InterFaceGAN (labelled samples), SeFa (closed form),
GANSpace (PCA), user vectors.

A learned direction's ``sigma`` makes strength 1 move its attribute by a tenth of its range (see
:mod:`dynode.edit.learn`); every other method's is the spread of sampled W codes along it, so that
strength 1 means one standard deviation.

- InterFaceGAN: sample w = mapping(z), render, read attributes with the toy-face probe,
  label the top and bottom 30% of each attribute, fit a logistic-regression boundary in W and
  take its unit normal (towards more of the attribute). Needs an attribute regressor.
- SeFa (Shen & Zhou, 2021): the top eigenvectors of A^T A, A the style-modulation weights of
  the chosen layers stacked; the directions that change those layers' styles most. No labels.
- GANSpace (Harkonen et al., 2020): principal components of sampled W codes. No labels.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from dynode.config import check_choice
from dynode.config.training import LearnConfig
from dynode.edit.directions import EDITABLE, METHODS, Direction, check_shape, sample_w
from dynode.edit.examples import EncoderCodes, PerceptualFeatures, read_examples, train_reader
from dynode.edit.learn import learn_direction
from dynode.errors import InputError
from dynode.inversion.encoder import encoder_folder, load_encoder
from dynode.metrics.attributes import ATTRIBUTES, AttributeRegressor, load_regressor
from dynode.types import Generator


def _id(generator: Generator) -> str | None:
    """The id a found direction records (None for a generator built in memory: any generator takes it)."""
    return generator.record.id or None


def _signed(v: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign: fix it so the largest-magnitude entry is positive (deterministic)."""
    return v * torch.sign(v[v.abs().argmax()])


def _spread(w: torch.Tensor, v: torch.Tensor) -> float:
    return float((w @ (v / v.norm())).std())


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
def interfacegan(generator: Generator, regressor: AttributeRegressor, n: int = 4000, seed: int = 0,
                 names: list[str] | None = None, batch: int = 250) -> list[Direction]:
    """One direction per name of ``EDITABLE`` (or ``names``), from n probe-labelled samples."""
    names = list(EDITABLE) if names is None else names
    unknown = sorted(set(names) - set(EDITABLE))
    if unknown:
        raise InputError(f"interfacegan: no attribute for {unknown}; known: {sorted(EDITABLE)}")
    if n < 20:
        raise InputError(f"interfacegan: need at least 20 samples, got {n}")
    w = sample_w(generator, n, seed)
    scores = torch.cat([regressor(generator.synthesis(c.to(generator.device)).cpu()) for c in w.split(batch)])
    out = []
    for name in names:
        s = scores[:, ATTRIBUTES.index(EDITABLE[name])]
        lo, hi = torch.quantile(s, 0.3), torch.quantile(s, 0.7)
        keep = (s <= lo) | (s >= hi)
        with torch.enable_grad():
            normal, acc = _boundary(w[keep], (s[keep] >= hi).float())
        info = {"samples": n, "seed": seed, "boundary_accuracy": round(acc, 4),
                "attribute_range": [round(float(s.min()), 3), round(float(s.max()), 3)]}
        out.append(Direction(name, normal, _spread(w, normal), None, "interfacegan", EDITABLE[name], _id(generator), info))
    return out


def style_weights(generator: Generator, layers: tuple[int, ...] | None = None) -> torch.Tensor:
    """The effective style-modulation weights (rows stacked) of the synthesis convolutions that
    read the given W+ layers (None: all); to-RGB layers are left out, as in SeFa."""
    convs = [generator.conv1, *generator.convs]  # conv k reads W+ layer k
    chosen = range(len(convs)) if layers is None else [i for i in layers if i < len(convs)]
    if not chosen:
        raise InputError(f"SeFa: layers {layers} hold no convolution (the last layer only feeds to-RGB)")
    mods = [convs[i].conv.modulation for i in chosen]
    return torch.cat([m.weight.detach().cpu() * m.scale for m in mods])


def sefa(generator: Generator, count: int = 5, layers: tuple[int, ...] | None = None,
         samples: int = 10000, seed: int = 0) -> list[Direction]:
    """The top ``count`` SeFa directions ``sefa0``, ``sefa1``... for the given layers."""
    a = style_weights(generator, layers)
    if not 1 <= count <= a.shape[1]:
        raise InputError(f"SeFa: count must be in 1..{a.shape[1]}, got {count}")
    values, vectors = torch.linalg.eigh(a.T @ a)
    order = values.argsort(descending=True)[:count]
    w = sample_w(generator, samples, seed)
    out = []
    for k, i in enumerate(order.tolist()):
        v = _signed(vectors[:, i])
        out.append(Direction(f"sefa{k}", v, _spread(w, v), layers, "sefa", None, _id(generator),
                             {"eigenvalue": round(float(values[i]), 6)}))
    return out


def ganspace(generator: Generator, count: int = 5, layers: tuple[int, ...] | None = None,
             samples: int = 10000, seed: int = 0) -> list[Direction]:
    """The top ``count`` principal components ``ganspace0``, ``ganspace1``... of sampled W codes."""
    w = sample_w(generator, samples, seed)
    if not 1 <= count <= w.shape[1]:
        raise InputError(f"GANSpace: count must be in 1..{w.shape[1]}, got {count}")
    x = w - w.mean(0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    variance = s**2 / (len(x) - 1)
    out = []
    for k in range(count):
        v = _signed(vh[k])
        out.append(Direction(f"ganspace{k}", v, float(variance[k].sqrt()), layers, "ganspace", None, _id(generator),
                             {"explained_variance": round(float(variance[k] / variance.sum()), 4)}))
    return out


def user_direction(name: str, vector: torch.Tensor, generator: Generator,
                   layers: tuple[int, ...] | None = None, attribute: str | None = None,
                   samples: int = 10000, seed: int = 0) -> Direction:
    """A user-supplied vector (w_dim,) or (num_ws, w_dim) with its sigma measured on samples; an
    InterFaceGAN boundary file's (1, w_dim) is taken as (w_dim,)."""
    if vector.ndim == 2 and vector.shape[0] == 1 and generator.num_ws != 1:
        vector = vector[0]
    check_shape(vector, generator, f"vector {name!r}")
    unit = vector.float() / vector.float().norm().clamp(min=1e-12)
    # The spread of sampled codes (broadcast to every layer for a W+ vector) along the unit vector.
    projected = sample_w(generator, samples, seed) @ unit.reshape(-1, generator.w_dim).sum(0)
    sigma = float(projected.std())
    return Direction(name, vector.float(), sigma if sigma > 0 else 1.0, layers, "user", attribute, _id(generator))


def _interfacegan(generator: Generator, layers, count: int, samples: int, seed: int, vector, name) -> list[Direction]:
    return [d.on_layers(layers) for d in interfacegan(generator, load_regressor(), samples, seed)]


def _encoder(generator: Generator):
    """The generator's encoder, None where it has none."""
    folder = encoder_folder(generator)
    return load_encoder(folder, generator) if folder is not None and (folder / "model.safetensors").is_file() \
        else None


def _learned(generator: Generator, layers, count: int, samples: int, seed: int, vector, name) -> list[Direction]:
    reader = load_regressor()
    return [learn_direction(generator, reader, n, layers, LearnConfig(seed=seed), _encoder(generator))
            for n in ([name] if name else list(EDITABLE))]


def learn_from_examples(generator: Generator, folder, name: str, layers: tuple[int, ...] | None = None,
                        seed: int = 0, attribute: str | None = None,
                        use_encoder: bool = True) -> tuple[Direction, dict]:
    """A direction ``name`` learned through the generator and a reader trained from the labelled frames in
    ``folder``/with and ``folder``/without (see :mod:`dynode.edit.examples`), on the encoder's codes of
    the frames (ImageNet features for a generator without an encoder); the codes it trains on are the
    generator's samples and the encoder's codes of the examples. The direction's attribute is
    ``attribute`` (default: ``name``); ``use_encoder`` False learns as for a generator without one.
    Returns it and the reader's stats.

    Raises:
        InputError: examples missing, too few or not separable.
    """
    encoder = _encoder(generator) if use_encoder else None
    features = PerceptualFeatures(generator.device) if encoder is None else EncoderCodes(encoder, generator)
    positive, negative = read_examples(folder, generator.resolution)
    reader, stats = train_reader(features, attribute or name, positive, negative, seed=seed)
    direction = learn_direction(generator, reader, name, layers, LearnConfig(seed=seed), encoder,
                                frames=torch.cat([positive, negative]))
    return replace(direction, info={**direction.info, "reader": stats}), stats


def _user(generator: Generator, layers, count: int, samples: int, seed: int, vector, name) -> list[Direction]:
    if vector is None or not name:
        raise InputError("method user needs a vector and a name")
    return [user_direction(name, vector, generator, layers, None, max(samples, 1000), seed)]


# Every way to find directions (:data:`dynode.edit.directions.METHODS`):
# (generator, layers, count, samples, seed, vector, name) -> directions.
FINDERS = {
    "learned": _learned,
    "interfacegan": _interfacegan,
    "sefa": lambda g, layers, count, samples, seed, *_: sefa(g, count, layers, max(samples, 1000), seed),
    "ganspace": lambda g, layers, count, samples, seed, *_: ganspace(g, count, layers, max(samples, 1000), seed),
    "user": _user}
assert tuple(FINDERS) == METHODS


def find_directions(method: str, generator: Generator, layers: tuple[int, ...] | None = None, count: int = 5,
                    samples: int = 4000, seed: int = 0, vector: torch.Tensor | None = None,
                    name: str | None = None) -> list[Direction]:
    """Directions found by ``method`` (a key of :data:`FINDERS`) for ``generator`` on ``layers``.

    Args:
        count: sefa/ganspace: how many. samples: interfacegan: labelled samples; sefa, ganspace,
            user: samples that measure each direction's spread (at least 1000). vector, name: user:
            the vector (w_dim,) or (num_ws, w_dim) and its name; learned: the one direction of
            :data:`EDITABLE` to learn (None: all of them), with the toy-face probe and the
            generator's encoder.

    Raises:
        InputError: an unknown method (the valid ones are listed), or arguments it refuses.
    """
    return FINDERS[check_choice("method", method, tuple(FINDERS))](generator, layers, count, samples, seed, vector, name)
