"""The trajectory artifact: a safetensors file with the field's weights, the observed codes, the
chart and the record of generator and source in its header."""

from __future__ import annotations

import os

from dynode.config import SolverConfig
from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import make_field
from dynode.dynamics.prior_field import PriorField
from dynode.dynamics.trajectory import Clock, Trajectory
from dynode.errors import CheckpointError
from dynode.io.checkpoints import delta_tensors, load_artifact, save_artifact, tensors_delta
from dynode.types import FitStats, GeneratorRecord, Source


def _pack(trajectory: Trajectory) -> tuple[dict, dict]:
    """A trajectory's tensors and JSON record."""
    t = trajectory
    tensors = {f"field.{k}": v for k, v in t.field.state_dict().items()}
    tensors.update({"observed": t.observed, "observed_times": t.observed_times, "mean": t.chart.mean,
                    "diffusion": t.diffusion})
    if t.chart.basis is not None:
        tensors["basis"] = t.chart.basis
    tensors.update(delta_tensors(t.generator.delta))
    info = {"field_name": t.field_name, "hidden": t.hidden, "scale": t.chart.scale, "shared": t.chart.shared,
            "t0": t.clock.t0, "t_scale": t.clock.t_scale, "solver": t.solver.to_dict(), "generator": t.generator.name,
            "generator_id": t.generator.id, "source": None if t.source is None else t.source.to_dict(),
            "stats": None if t.stats is None else t.stats.to_dict(), **t.field.record()}
    return tensors, info


def _unpack(t: dict, info: dict, path) -> Trajectory:
    if "observed" not in t or not isinstance(info.get("solver"), dict):
        raise CheckpointError(f"{path}: trajectory written by an older dynode; fit it again")
    observed = t["observed"]
    chart = Chart(t["mean"], t.get("basis"), info["scale"], tuple(observed.shape[1:]), info.get("shared", False))
    clock = Clock(info["t0"], info["t_scale"])
    tau_obs = clock.tau(t["observed_times"]).float()
    state = {k[len("field."):]: v for k, v in t.items() if k.startswith("field.")}
    if info["field_name"] == "prior":
        net = PriorField.from_state(state, info["prior"])
    else:
        net = make_field(info["field_name"], chart.dim, info["hidden"], path=(tau_obs, chart.encode(observed)))
        net.load_state_dict(state)
    return Trajectory(net.eval(), info["field_name"], info["hidden"], observed, t["observed_times"], chart,
                      clock, t["diffusion"], SolverConfig.from_dict(info["solver"]),
                      GeneratorRecord(info["generator"], info.get("generator_id", ""), tensors_delta(t)),
                      Source.from_dict(info.get("source")), None if info.get("stats") is None else FitStats.from_dict(info["stats"]))


def save_trajectory(path: str | os.PathLike, trajectory: Trajectory) -> None:
    """Write ``trajectory`` to ``path`` atomically."""
    save_artifact(path, "trajectory", *_pack(trajectory))


def load_trajectory(path: str | os.PathLike) -> Trajectory:
    """Read a trajectory artifact.

    Raises:
        CheckpointError: not a trajectory artifact, or one written by an older dynode.
    """
    return _unpack(*load_artifact(path, "trajectory"), path)


def save_trajectories(path: str | os.PathLike, trajectories: list[Trajectory]) -> None:
    """Write the trajectories of a video's spans (one per shot or face track) to one artifact,
    atomically; each one's tensors are prefixed ``span{k}.`` and its record is the k-th of the list."""
    tensors, infos = {}, []
    for k, trajectory in enumerate(trajectories):
        packed, info = _pack(trajectory)
        tensors.update({f"span{k}.{name}": v for name, v in packed.items()})
        infos.append(info)
    first = infos[0]
    save_artifact(path, "trajectories", tensors, {"generator": first["generator"],
                                                  "generator_id": first["generator_id"], "spans": infos})


def load_trajectories(path: str | os.PathLike) -> list[Trajectory]:
    """Read the artifact of :func:`save_trajectories`.

    Raises:
        CheckpointError: not such an artifact.
    """
    tensors, info = load_artifact(path, "trajectories")
    out = []
    for k, record in enumerate(info["spans"]):
        prefix = f"span{k}."
        out.append(_unpack({n[len(prefix):]: v for n, v in tensors.items() if n.startswith(prefix)}, record, path))
    return out
