"""Baselines that dynode's dynamics are measured against: latent-space and pixel-space."""

from dynode.baselines.latent import LATENT_INTERPOLATORS, constant_velocity, linear, slerp, spline
from dynode.baselines.pixel import flow_interpolate, minterpolate

__all__ = ["LATENT_INTERPOLATORS", "constant_velocity", "flow_interpolate", "linear", "minterpolate", "slerp",
           "spline"]
