"""Baselines that dynode's dynamics are measured against."""

from dynode.baselines.latent import constant_velocity, linear

__all__ = ["constant_velocity", "linear"]
