"""The trajectory artifact: a safetensors file with the field's weights, the observed codes, the
chart and the record of generator and source in its header."""

from __future__ import annotations

import os

from dynode.config import SolverConfig
from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import make_field
from dynode.dynamics.trajectory import Trajectory
from dynode.errors import CheckpointError
from dynode.io.checkpoints import load_artifact, save_artifact
from dynode.types import Source, delta_tensors, tensors_delta


def save_trajectory(path: str | os.PathLike, trajectory: Trajectory) -> None:
    """Write ``trajectory`` to ``path`` atomically."""
    t = trajectory
    tensors = {f"field.{k}": v for k, v in t.field.state_dict().items()}
    tensors.update({"observed": t.observed, "observed_times": t.observed_times, "mean": t.chart.mean,
                    "diffusion": t.diffusion})
    if t.chart.basis is not None:
        tensors["basis"] = t.chart.basis
    tensors.update(delta_tensors(t.delta))
    info = {"field_name": t.field_name, "hidden": t.hidden, "scale": t.chart.scale, "t0": t.t0,
            "t_scale": t.t_scale, "solver": t.solver.to_dict(), "generator": t.generator,
            "generator_id": t.generator_id, "source": None if t.source is None else t.source.to_dict(),
            "stats": t.stats}
    save_artifact(path, "trajectory", tensors, info)


def load_trajectory(path: str | os.PathLike) -> Trajectory:
    """Read a trajectory artifact.

    Raises:
        CheckpointError: not a trajectory artifact, or one written by an older dynode.
    """
    t, info = load_artifact(path, "trajectory")
    if "observed" not in t or not isinstance(info.get("solver"), dict):
        raise CheckpointError(f"{path}: trajectory written by an older dynode; fit it again")
    observed = t["observed"]
    chart = Chart(t["mean"], t.get("basis"), info["scale"], tuple(observed.shape[1:]))
    tau_obs = ((t["observed_times"] - info["t0"]) / info["t_scale"]).float()
    net = make_field(info["field_name"], chart.dim, info["hidden"], path=(tau_obs, chart.encode(observed)))
    net.load_state_dict({k[len("field."):]: v for k, v in t.items() if k.startswith("field.")})
    return Trajectory(net.eval(), info["field_name"], info["hidden"], observed, t["observed_times"], chart,
                      info["t0"], info["t_scale"], t["diffusion"], SolverConfig.from_dict(info["solver"]),
                      info["generator"], info.get("generator_id", ""), tensors_delta(t),
                      Source.from_dict(info.get("source")), info["stats"])
