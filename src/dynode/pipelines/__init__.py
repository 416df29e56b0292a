"""Pipelines: chain the stages (inversion, dynamics, editing, rendering); no algorithms here."""

from dynode.pipelines.stages import (direction_strip, edit_video, extrapolate_video, fit_sequence, interpolate_video,
                                     invert_video, make_edits, source_audio)
from dynode.pipelines.times import future_times, render_times

__all__ = ["direction_strip", "edit_video", "extrapolate_video", "fit_sequence", "future_times", "interpolate_video",
           "invert_video", "make_edits", "render_times", "source_audio"]
