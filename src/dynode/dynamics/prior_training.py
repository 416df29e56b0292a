"""Training a motion prior (:class:`dynode.dynamics.prior.MotionPrior`) across many videos' codes:
its basis from their motion, its parameters by the predictive likelihood of codes held out in between
and after random sparse, irregular subsets of each video."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import torch

from dynode.config.training import PriorConfig
from dynode.dynamics.prior import MotionPrior
from dynode.errors import InputError
from dynode.io.checkpoints import atomic_path, save_model


def _subsets(lengths: torch.Tensor, fps: float, data_fps: float, config: PriorConfig, rng: torch.Generator):
    """Frame indices of one step's sparse subsets: observed (B, n) and queried (B, Q), one row per video."""
    gap = data_fps / fps  # frames between kept ones
    n = int(min(config.max_observed, (lengths.min() - 1 - config.horizon * gap) // gap + 1))
    span = (n - 1 + config.horizon) * gap
    starts = (torch.rand(len(lengths), generator=rng) * (lengths - 1 - span)).floor()
    offsets = torch.arange(n) * gap + (torch.rand(len(lengths), n, generator=rng) * 2 - 1) * config.jitter * gap
    offsets[:, 0] = 0
    observed = (starts[:, None] + offsets).round().long()
    query = (starts[:, None] + torch.rand(len(lengths), config.queries, generator=rng) * span).round().long()
    return observed, query


def _checked(sequences: list[tuple[torch.Tensor, torch.Tensor]],
             config: PriorConfig) -> tuple[tuple[int, ...], float, torch.Tensor]:
    """The videos' code shape, their frame rate and their lengths (T,), checked (see :func:`train_prior`)."""
    if len(sequences) < 3:
        raise InputError(f"train_prior(): need codes of at least 3 videos (one held out), got {len(sequences)}")
    shapes = {tuple(c.shape[1:]) for _, c in sequences}
    rates = {round(float(1 / (t[1] - t[0])), 3) for t, _ in sequences}
    if len(shapes) != 1 or len(rates) != 1:
        raise InputError(f"train_prior(): the videos' codes must share one shape and one frame rate; got shapes "
                         f"{sorted(shapes)} and rates {sorted(rates)} fps")
    data_fps = rates.pop()
    lengths = torch.tensor([len(c) for _, c in sequences])
    need = (2 + config.horizon) * data_fps / config.min_fps + 1
    if lengths.min() < need:
        raise InputError(f"train_prior(): at {config.min_fps} fps kept, a video needs at least {need:.0f} frames "
                         f"({need / data_fps:.1f} s at {data_fps:g} fps); the shortest has {int(lengths.min())}")
    return next(iter(shapes)), data_fps, lengths


def _initial(sequences: list[tuple[torch.Tensor, torch.Tensor]], lengths: torch.Tensor, shape: tuple[int, ...],
             config: PriorConfig) -> tuple[MotionPrior, torch.Tensor]:
    """The untrained prior in the components of the videos' motion, and every video's coordinates in them,
    unit spread, zero-padded to the longest (videos, T, K)."""
    flat = [c.reshape(len(c), -1).float() for _, c in sequences]
    mean = torch.cat(flat).mean(0)
    k = min(config.components, mean.numel())
    # The components of motion: of each video's codes about their own mean (across videos, identity would
    # fill the top components; it stays in the level and in the part outside the components).
    moving = torch.cat([f - f.mean(0) for f in flat])
    moving = moving[torch.randperm(len(moving), generator=torch.Generator().manual_seed(0))[:20000]]
    basis = torch.linalg.svd(moving, full_matrices=False).Vh[:k].contiguous()
    spread = (moving @ basis.T).std(0).clamp(min=1e-6)
    coords = [(f - mean) @ basis.T for f in flat]
    padded = torch.zeros(len(sequences), int(lengths.max()), k)
    for i, c in enumerate(coords):
        padded[i, :len(c)] = c / spread
    return MotionPrior(mean, basis, spread, shape, config.resonators, config.smoothness), padded


def _resume(state: Path | None, config: PriorConfig, prior: MotionPrior, opt, sched, rng: torch.Generator) \
        -> tuple[int, float]:
    """The step and seconds a run saved in ``state`` reached, its prior, optimiser, schedule and random state
    loaded (0, 0.0 for a new run).

    Raises:
        InputError: a saved run with other settings.
    """
    if state is None or not state.is_file():
        return 0, 0.0
    saved = torch.load(state, weights_only=True)
    if saved["config"] != json.dumps(config.to_dict()):
        raise InputError(f"{state}: a run with other settings; use another --out or the same settings")
    prior.load_state_dict(saved["prior"])
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    rng.set_state(saved["rng"])
    return saved["step"], saved["seconds"]


def train_prior(sequences: list[tuple[torch.Tensor, torch.Tensor]], config: PriorConfig = PriorConfig(),
                out: str | Path | None = None, export: str | Path | None = None,
                progress: Callable[[int, int, float], None] | None = None, generator_id: str = "",
                info: dict | None = None) -> tuple[MotionPrior, dict]:
    """Train a motion prior on many videos' codes, each (times (T,) seconds on a uniform grid, codes
    (T, num_ws, w_dim)).

    The principal components are those of each video's codes about their own mean (motion); each step draws a kept rate, and per video a
    window of at most ``max_observed`` codes kept at that rate (jittered), and ``queries`` codes in
    between and up to ``horizon`` kept intervals after, whose predictive likelihood is maximised.
    The last sixteenth of the videos is held out: every 25 steps the loss on fixed subsets of them at 0.5, 1,
    2 and 4 fps is logged as ``validation`` (with ``out``, in ``log.jsonl``, beside the mean training
    loss since the last record); the run is resumable (``state.pt``);
    with ``export`` the prior is written there as a model folder recording ``generator_id``.

    Raises:
        InputError: fewer than 2 videos, codes of different shapes or rates, or videos too short for
            the slowest kept rate.
    """
    shape, data_fps, lengths = _checked(sequences, config)
    prior, padded = _initial(sequences, lengths, shape, config)
    opt = torch.optim.Adam(prior.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps, eta_min=config.lr * 0.05)
    rng = torch.Generator().manual_seed(config.seed)
    held = max(1, len(sequences) // 16)  # the last videos: a fixed validation set of subsets at four rates
    train, check = torch.arange(len(sequences) - held), torch.arange(len(sequences) - held, len(sequences))
    fixed = torch.Generator().manual_seed(config.seed + 1)
    checks = [(fps, *_subsets(lengths[check], fps, data_fps, config, fixed)) for fps in (0.5, 1.0, 2.0, 4.0)
              if fps >= config.min_fps and fps <= config.max_fps]

    def loss_at(videos, fps, observed, query):
        rows = torch.arange(len(videos))[:, None]
        return prior.predictive_nll(observed.float() / data_fps, padded[videos][rows, observed],
                                    query.float() / data_fps, padded[videos][rows, query])

    def validation() -> float:
        with torch.no_grad():
            return sum(float(loss_at(check, *c)) for c in checks) / len(checks)

    recent = []
    state = Path(out) / "state.pt" if out is not None else None
    step, seconds = _resume(state, config, prior, opt, sched, rng)
    log = Path(out) / "log.jsonl" if out is not None else None
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    started, loss = time.time() - seconds, float("nan")
    while step < config.steps:
        fps = math.exp(math.log(config.min_fps) + torch.rand((), generator=rng).item()
                       * math.log(config.max_fps / config.min_fps))
        pick = train[torch.randint(len(train), (config.batch,), generator=rng)]
        nll = loss_at(pick, fps, *_subsets(lengths[pick], fps, data_fps, config, rng))
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        sched.step()
        step, loss = step + 1, nll.item()
        recent.append(loss)
        if progress is not None:
            progress(step, config.steps, loss)
        if out is not None and (step % 25 == 0 or step == config.steps):
            with log.open("a") as f:
                f.write(json.dumps({"step": step, "loss": round(sum(recent) / len(recent), 5),
                                    "validation": round(validation(), 5),
                                    "seconds": round(time.time() - started, 1)}) + "\n")
            recent = []
            with atomic_path(state) as tmp:
                torch.save({"prior": prior.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "rng": rng.get_state(), "step": step, "seconds": time.time() - started,
                            "config": json.dumps(config.to_dict())}, tmp)
    prior.eval().requires_grad_(False)
    stats = {"steps": step, "loss": loss, "validation": validation(), "seconds": round(time.time() - started, 1),
             "videos": len(sequences),
             "frames": int(lengths.sum()), "data_fps": data_fps, "config": config.to_dict(), **(info or {})}
    if export is not None:
        save_model(export, prior, "motion_prior", {**prior.config(), "generator_id": generator_id}, stats)
    return prior, stats
