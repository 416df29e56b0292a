"""Pipelines: chain the stages (inversion, dynamics, editing, rendering); no algorithms here."""

from dynode.pipelines.stages import (direction_strip, edit_video, edited_latents, extrapolate_video, fit_sequence,
                                     full_frame, interpolate_latents, interpolate_video, invert_video, make_edits,
                                     render_stream, source_audio)
from dynode.pipelines.times import future_times, render_times

__all__ = ["direction_strip", "edit_video", "edited_latents", "extrapolate_video", "fit_sequence", "full_frame",
           "future_times", "interpolate_latents", "interpolate_video", "invert_video", "make_edits", "render_stream",
           "render_times", "source_audio"]
