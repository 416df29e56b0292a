"""How far ahead can any linear predictor see in these codes? The motion prior against the ceiling of its
family, on the held-out videos of its own training data. Prints JSON.

bench-prior scores the prior in pixels; this asks why it is not better. In the unit-spread principal
components the prior moves in, on the last sixteenth of the training videos' codes (the videos
``train_prior`` holds out), windows of 24 codes kept at 4, 2 and 1 fps, the next 8 kept-rate codes
predicted by:
- hold last, constant velocity (the naive baselines);
- the prior, conditioned (its posterior mean);
- ``empirical``: per component, Gaussian-process conditioning with the autocovariance measured on the
  other videos at every lag (plus the prior's level): the best any stationary Gaussian prior on
  independent components can do, whatever its kernel;
- ``ridge``: one linear map from the whole window (every component, relative to the last code) to the
  8 codes ahead, fitted by least squares on the other videos: linear prediction with the components
  coupled;
- ``mlp``: the same map nonlinear (two 512-wide GELU layers, AdamW, ``--mlp-steps``), its error on the
  windows it was fitted to beside (``mlp_fitted``): whether a nonlinear model learns more from these
  videos or only memorises them.
Mean squared error in unit-spread components (the prior's training loss measures the same), and
``prior_inside_80``: the share of (code, component) ahead inside the prior's 80% predictive band (its
posterior plus its observation noise; 0.8 is calibrated): how calibrated it is on the codes it trained
on, beside bench-prior's figure on the pipeline's codes.
``motion_only`` is the toy world's own motion (each factor a sum of three sinusoids of 0.1-0.6 Hz,
without blinks, the tanh or the generator): the best linear predictor given its exact spectrum, with
white observation noise of the given share of the motion's variance, relative error 8 steps ahead.
``noise_share`` measures the codes: their variance above 1.5 Hz, a share of the whole.

    python benchmarks/prior_ceiling.py --codes runs/prior/codes
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from dynode.baselines import constant_velocity
from dynode.pipelines import Models

KEPT, AHEAD = 24, 8
RATES = (4, 2, 1)
LOW, HIGH = 0.1, 0.6  # the toy world's motion frequencies (dynode.data.toyfaces.ToyFaceVideo)


def windows(length: int, gap: int, stride: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kept, ahead) frame indices of every window of KEPT codes ``gap`` frames apart and AHEAD after."""
    span = (KEPT - 1 + AHEAD) * gap
    return [(s + np.arange(KEPT) * gap, s + (KEPT - 1 + np.arange(1, AHEAD + 1)) * gap)
            for s in range(0, length - span, stride)]


def empirical(u: np.ndarray, kept: np.ndarray, ahead: np.ndarray, acov: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per component, the conditional mean of the codes ahead given the kept ones under autocovariance ``acov``."""
    out = np.empty((len(ahead), u.shape[1]))
    for c in range(u.shape[1]):
        cov = acov[:, c] + level[c]
        k_kept = cov[np.abs(kept[:, None] - kept[None])] + 1e-4 * np.eye(len(kept))
        out[:, c] = cov[np.abs(ahead[:, None] - kept[None])] @ np.linalg.solve(k_kept, u[kept, c])
    return out


def motion_only(fps: float, shares: tuple[float, ...], rng: np.random.Generator, n: int = 300) -> dict:
    """Relative error AHEAD steps past KEPT samples of the toy motion, for the best linear predictor given
    its spectrum, at each observation-noise share."""
    def kernel(tau):
        tau = np.where(np.abs(tau) < 1e-9, 1e-9, tau)
        return (np.sin(2 * np.pi * HIGH * tau) - np.sin(2 * np.pi * LOW * tau)) / (2 * np.pi * tau * (HIGH - LOW))
    kept = np.arange(KEPT) / fps
    ahead = kept[-1] + np.arange(1, AHEAD + 1) / fps
    out = {}
    for share in shares:
        amp, freq, phase = (rng.uniform(0.2, 1, (n, 3)), rng.uniform(LOW, HIGH, (n, 3)), rng.uniform(0, 2 * np.pi, (n, 3)))
        var = 0.5 * (amp ** 2).sum(1).mean()  # the process's variance; its kernel, scaled, is var * kernel
        x = lambda t: (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * t[None, :, None] + phase[:, None])).sum(-1)
        noisy = x(kept) + rng.normal(0, np.sqrt(share * var), (n, KEPT))
        weights = var * kernel(ahead[:, None] - kept[None]) @ np.linalg.inv(
            var * kernel(kept[:, None] - kept[None]) + (share * var + 1e-6 * var) * np.eye(KEPT))
        out[str(share)] = round(float(((noisy @ weights.T - x(ahead)) ** 2).mean() / var), 4)
    return out


def mlp(x: np.ndarray, y: np.ndarray, steps: int) -> torch.nn.Module:
    """A two-layer perceptron from windows x to the codes ahead y, fitted by AdamW on batches of 256."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 512), torch.nn.GELU(), torch.nn.Linear(512, 512),
                              torch.nn.GELU(), torch.nn.Linear(512, y.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    x, y = torch.tensor(x).float(), torch.tensor(y).float()
    for _ in range(steps):
        pick = torch.randint(len(x), (256,))
        loss = (net(x[pick]) - y[pick]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval().requires_grad_(False)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--codes", type=Path, required=True, help="a train-prior codes cache (one .safetensors a video)")
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder (its prior is scored)")
    p.add_argument("--fps", type=float, default=8.0, help="the codes' frame rate")
    p.add_argument("--mlp-steps", type=int, default=2000, help="AdamW steps of the mlp row")
    a = p.parse_args(argv)
    prior = Models.from_pretrained(a.generator).prior
    if prior is None:
        p.error(f"{a.generator} has no motion prior")
    files = sorted(a.codes.glob("*.safetensors"))
    if len(files) < 16:
        p.error(f"{a.codes}: need the codes of at least 16 videos, found {len(files)}")
    with torch.no_grad():
        units = [(((load_file(f)["codes"].float().flatten(1) - prior.mean) @ prior.basis.T) / prior.spread).numpy()
                 for f in files]
    length = min(len(u) for u in units)
    u_all = np.stack([u[:length] for u in units]).astype(np.float64)
    held = max(1, len(files) // 16)  # train_prior's held-out videos
    train, test = u_all[:-held], u_all[-held:]
    moving = train - train.mean(1, keepdims=True)
    # The biased estimate (sums over the overlap divided by the whole length) is positive semi-definite.
    acov = np.stack([(moving[:, :length - lag] * moving[:, lag:]).sum(1).mean(0) / length for lag in range(length)])
    level = np.exp(2 * prior.log_level.numpy())
    power = (np.abs(np.fft.rfft(moving, axis=1)) ** 2).mean(0)
    report = {"videos": len(files), "held_out": held, "kept": KEPT, "ahead": AHEAD,
              "noise_share": round(float(power[np.fft.rfftfreq(length, 1 / a.fps) > 1.5].sum() / power.sum()), 4),
              "rates": {}}
    rng = np.random.default_rng(0)
    for fps in RATES:
        gap = int(round(a.fps / fps))
        ridge_x, ridge_y = [], []
        for u in train:
            for kept, ahead in windows(length, gap, 3):
                ridge_x.append((u[kept] - u[kept[-1]]).ravel())
                ridge_y.append((u[ahead] - u[kept[-1]]).ravel())
        x, y = np.array(ridge_x), np.array(ridge_y)
        ridge = np.linalg.solve(x.T @ x + 10 * np.eye(x.shape[1]), x.T @ y)
        net = mlp(x, y, a.mlp_steps)
        with torch.no_grad():
            fitted = float((net(torch.tensor(x).float()) - torch.tensor(y).float()).pow(2).mean())
        errors = {k: [] for k in ("hold_last", "constant_velocity", "prior", "empirical", "ridge", "mlp")}
        inside = []
        for u in test:
            for kept, ahead in windows(length, gap, 8):
                truth, last = u[ahead], u[kept[-1]]
                with torch.no_grad():
                    mean, var = prior.predict(torch.tensor(kept / a.fps).float(), torch.tensor(u[kept]).float(),
                                              torch.tensor(ahead / a.fps).float())
                    band = 1.2816 * (var + (2 * prior.log_noise).exp()).sqrt()  # the normal's 10-90% half-width
                inside.append(float(((mean - torch.tensor(truth).float()).abs() <= band).float().mean()))
                preds = {"hold_last": last[None],
                         "constant_velocity": constant_velocity(kept / a.fps, torch.tensor(u[kept]), ahead / a.fps).numpy(),
                         "prior": mean.numpy(), "empirical": empirical(u, kept, ahead, acov, level),
                         "ridge": last + ((u[kept] - last).ravel() @ ridge).reshape(AHEAD, -1),
                         "mlp": last + net(torch.tensor((u[kept] - last).ravel()).float()).numpy().reshape(AHEAD, -1)}
                for k, pred in preds.items():
                    errors[k].append(((pred - truth) ** 2).mean())
        report["rates"][f"{fps}fps"] = {"mse": {k: round(float(np.mean(v)), 4) for k, v in errors.items()},
                                        "mlp_fitted": round(fitted, 4),
                                        "prior_inside_80": round(float(np.mean(inside)), 3),
                                        "motion_only": motion_only(fps, (0.0, 0.001, 0.01, 0.1), rng)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
