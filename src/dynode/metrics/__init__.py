"""Image and video quality metrics."""

from dynode.metrics.image import psnr, ssim
from dynode.metrics.perceptual import stlpips

__all__ = ["psnr", "ssim", "stlpips"]
