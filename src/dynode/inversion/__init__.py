"""GAN inversion: frames -> per-frame latent codes."""

from dynode.inversion.optimize import invert

__all__ = ["invert"]
