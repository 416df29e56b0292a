"""Pipelines: chain the stages (inversion, dynamics, editing, rendering); no algorithms here."""

from dynode.pipelines.stages import edit_video, extrapolate_video, fit_sequence, interpolate_video, invert_video
from dynode.pipelines.times import future_times, render_times

__all__ = ["edit_video", "extrapolate_video", "fit_sequence", "future_times", "interpolate_video", "invert_video",
           "render_times"]
