"""Figures people would rather look at than tables: a trajectory in its top principal components,
and an edit's effect over time. Matplotlib, headless (Agg); imported only when a figure is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dynode.baselines import linear, spline
from dynode.dynamics import Trajectory, sample_future
from dynode.io.checkpoints import atomic_path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out: str | Path) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=out.suffix.lstrip(".") or "png")
    _pyplot().close(fig)
    return out


def trajectory_figure(trajectory: Trajectory | Sequence[Trajectory], out: str | Path, future: float = 1.0,
                      samples: int = 16, seed: int = 0, steps: int = 200) -> Path:
    """Draw the path in the top two principal components of the video's own codes: the observed
    codes as dots, the ODE's exact path, linear and spline interpolation of the same codes, and
    ``samples`` SDE futures ``future`` seconds past the last observation (their spread shows how
    sure the dynamics are). Left: the plane of the two components; right: each over time. For a
    video of several spans (a list: one trajectory per shot or face track), each span is drawn
    on the same components, the cuts marked over time, the futures from the last span.
    Written atomically to ``out`` (png, pdf or svg)."""
    plt = _pyplot()
    spans = [trajectory] if isinstance(trajectory, Trajectory) else list(trajectory)
    obs_t = torch.cat([span.observed_times for span in spans])
    obs = torch.cat([span.observed for span in spans])
    flat = obs.reshape(len(obs), -1).float()
    mean = flat.mean(0)
    axes = torch.linalg.svd(flat - mean, full_matrices=False).Vh[:2]

    def project(codes: torch.Tensor) -> np.ndarray:
        return ((codes.reshape(*codes.shape[:-2], -1).float() - mean) @ axes.T).numpy()

    styles = {"ODE (exact path)": dict(color="C0", lw=2), "linear": dict(color="C2", lw=1, ls="--"),
              "spline": dict(color="C3", lw=1, ls=":"), "ODE future": dict(color="C0", lw=2, ls="-.")}
    fig, (plane, over_time) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    last = spans[-1]
    end = float(last.observed_times[-1])
    t_future = torch.linspace(end, end + future, max(steps // 4, 2), dtype=torch.float64)
    if samples > 0 and future > 0:
        for k, f in enumerate(project(sample_future(last, t_future, samples, seed))):
            plane.plot(f[:, 0], f[:, 1], color="C1", alpha=0.25, lw=0.8, label=f"{samples} SDE futures" if k == 0 else None)
            for c in range(2):
                over_time.plot(t_future, f[:, c], color="C1", alpha=0.2, lw=0.8)
    for k, span in enumerate(spans):
        t_obs, codes = span.observed_times, span.observed
        t = torch.linspace(float(t_obs[0]), float(t_obs[-1]), max(steps // len(spans), 8), dtype=torch.float64)
        curves = {"ODE (exact path)": (t, project(span.evaluate(t))), "linear": (t, project(linear(t_obs, codes, t)))}
        if len(t_obs) > 2:
            curves["spline"] = (t, project(spline(t_obs, codes, t)))
        if span is last:
            curves["ODE future"] = (t_future, project(span.evaluate(t_future)))
        for name, (times, xy) in curves.items():
            plane.plot(xy[:, 0], xy[:, 1], label=name if k == 0 or span is last and name == "ODE future" else None,
                       **styles[name])
            for c in range(2):
                over_time.plot(times, xy[:, c], **styles[name], label=name if c == 0 and k == 0 else None)
        if k:
            over_time.axvline(float(t_obs[0]), color="k", lw=0.8, ls="--", label="new span (cut)" if k == 1 else None)
    points = project(obs)
    scatter = plane.scatter(points[:, 0], points[:, 1], c=obs_t.numpy(), cmap="viridis", s=22, zorder=3,
                            label="observed codes")
    for c, marker in ((0, "o"), (1, "s")):
        over_time.scatter(obs_t, points[:, c], color="k", s=12, marker=marker, zorder=3,
                          label=f"observed, PC{c + 1}")
    fig.colorbar(scatter, ax=plane, label="time (s)")
    title = "latent path in its top two principal components" + (f" ({len(spans)} spans)" if len(spans) > 1 else "")
    plane.set(xlabel="PC1", ylabel="PC2", title=title)
    over_time.axvline(end, color="grey", lw=0.8, ls=":")
    over_time.set(xlabel="time (s)", ylabel="coordinate", title="PC1 and PC2 over time")
    plane.legend(fontsize=7, loc="best")
    over_time.legend(fontsize=7, loc="best")
    return _save(fig, out)


def attribute_figure(times, curves: dict[str, np.ndarray], out: str | Path, attribute: str,
                     title: str | None = None) -> Path:
    """An edit's effect over time, one line per mode: ``curves`` maps a label to (N,) values at
    ``times`` (N,) seconds (e.g. the probe's change of the edited attribute). Written atomically."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    t = np.asarray(times, dtype=float)
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(t, values, label=f"{name} (mean {values.mean():.3f}, CV {values.std() / abs(values.mean()):.2f})")
    ax.set(xlabel="time (s)", ylabel=attribute, title=title or f"{attribute} over time")
    ax.legend(fontsize=8)
    return _save(fig, out)


def curve_figure(log: str | Path, out: str | Path, keys: Sequence[str] = ("loss",), title: str = "training") -> Path:
    """A training curve: each of ``keys`` against the step, from a run's ``log.jsonl`` (one JSON record a line)."""
    import json
    records = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key in keys:
        ax.plot([r["step"] for r in records], [r[key] for r in records], label=key)
    ax.set(xlabel="step", title=title)
    ax.legend()
    return _save(fig, out)
