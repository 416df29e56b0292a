"""dynode: continuous videos in a GAN's latent space.

    pipe = VideoPipeline.from_video("clip.mp4")              # read, invert, fit (or: run("clip.mp4", RunSpec()))
    pipe.interpolate(factor=8).write("clip_8x.mp4")           # any frame rate
    pipe.edit(EditSpec(("smile",))).write("clip_smile.mp4")

The stages underneath are public too: read_video -> invert -> fit -> Trajectory.evaluate -> render.
"""

from dynode.config import (EditSpec, Extrapolation, FitConfig, Interpolation, InversionConfig, LockConfig, PTIConfig,
                           ReadConfig, SolverConfig)
from dynode.dynamics import Trajectory, fit, sample_future
from dynode.edit import Edit, Schedule, add_to_every, carry, get_direction, scale_motion
from dynode.errors import CheckpointError, DynodeError, FitError, InputError
from dynode.generators import load_generator
from dynode.inversion import invert
from dynode.io.video import read_video, write_video
from dynode.pipelines import Clip, Models, VideoPipeline
from dynode.pipelines.run import RunResult, RunSpec, run
from dynode.render import render_pixels
from dynode.types import Frames, Generator, LatentSequence, Source
from dynode.version import __version__

__all__ = [
    "CheckpointError", "Clip", "DynodeError", "Edit", "EditSpec", "Extrapolation", "FitConfig", "FitError", "Frames",
    "Generator", "InputError", "Interpolation", "InversionConfig", "LatentSequence", "LockConfig", "Models", "PTIConfig", "ReadConfig", "RunResult",
    "RunSpec", "Schedule", "SolverConfig", "Source", "Trajectory", "VideoPipeline", "__version__", "add_to_every",
    "carry", "fit", "get_direction", "invert", "load_generator", "read_video", "render_pixels", "run", "sample_future",
    "scale_motion", "write_video",
]
