"""Image and video quality metrics."""

from dynode.metrics.image import psnr, ssim

__all__ = ["psnr", "ssim"]
