"""dynode: continuous videos in a GAN's latent space."""

__version__ = "0.1.0"
