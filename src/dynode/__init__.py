"""dynode: continuous videos in a GAN's latent space.

    frames = read_video("clip.mp4")                      # Frames (uint8 pixels, times in s)
    seq = invert(load_generator("toyfaces64"), images, frames.times)   # LatentSequence
    traj = fit(seq)                                      # Trajectory: traj.evaluate(times)
"""

__version__ = "0.1.0"

from dynode.config import FitConfig, InversionConfig
from dynode.dynamics import Trajectory, fit
from dynode.edit import Edit, Schedule, get_direction, propagate, scale_motion
from dynode.errors import CheckpointError, DynodeError, FitError, InputError
from dynode.generators import load_generator
from dynode.inversion import invert
from dynode.io.video import read_video, write_video
from dynode.render import render_pixels
from dynode.types import Frames, LatentSequence

__all__ = [
    "CheckpointError", "DynodeError", "Edit", "FitConfig", "FitError", "Frames", "InputError", "InversionConfig",
    "LatentSequence", "Schedule", "Trajectory", "__version__", "fit", "get_direction", "invert", "load_generator",
    "propagate", "read_video", "render_pixels", "scale_motion", "write_video",
]
