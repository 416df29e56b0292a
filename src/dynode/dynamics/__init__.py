"""Latent dynamics: vector fields, fitting, and the continuous Trajectory with its parts."""

from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import FIELDS, make_field
from dynode.dynamics.fit import fit
from dynode.dynamics.sde import sample_future
from dynode.dynamics.solve import solve
from dynode.dynamics.storage import load_trajectories, load_trajectory, save_trajectories, save_trajectory
from dynode.dynamics.trajectory import PATHS, Trajectory

__all__ = ["FIELDS", "PATHS", "Chart", "Trajectory", "fit", "load_trajectories", "load_trajectory", "make_field",
           "sample_future", "save_trajectories", "save_trajectory", "solve"]
