"""GAN inversion: frames -> per-frame latent codes, and pivotal tuning of the generator around them."""

from dynode.inversion.optimize import invert
from dynode.inversion.pti import pivotal_tuning

__all__ = ["invert", "pivotal_tuning"]
