"""Latent dynamics: vector fields, fitting, and the continuous Trajectory."""

from dynode.dynamics.fields import FIELDS, make_field
from dynode.dynamics.fit import fit
from dynode.dynamics.trajectory import Trajectory, solve

__all__ = ["FIELDS", "Trajectory", "fit", "make_field", "solve"]
