"""Latent dynamics: vector fields, fitting, and the continuous Trajectory with its parts."""

from dynode.config import EDIT_PATH, PATHS
from dynode.dynamics.chart import Chart
from dynode.dynamics.fields import FIELDS, make_field
from dynode.dynamics.fit import FIT_FIELDS, field_for, fit
from dynode.dynamics.prior import MotionPrior, load_prior
from dynode.dynamics.prior_training import train_prior
from dynode.dynamics.sde import sample_future
from dynode.dynamics.solve import solve
from dynode.dynamics.storage import load_trajectories, load_trajectory, save_trajectories, save_trajectory
from dynode.dynamics.trajectory import Trajectory

__all__ = ["EDIT_PATH", "FIELDS", "FIT_FIELDS", "PATHS", "Chart", "MotionPrior", "Trajectory", "field_for", "fit", "load_prior", "load_trajectories",
           "load_trajectory", "make_field", "sample_future", "save_trajectories", "save_trajectory", "solve", "train_prior"]
