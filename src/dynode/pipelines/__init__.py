"""Pipelines: chain the stages (inversion, dynamics, editing, rendering); no algorithms here."""

from dynode.pipelines.stages import (direction_strip, edited_latents, extrapolate_video, fit_sequence,
                                     interpolate_latents, invert_video, make_edits, render_stream, source_audio)
from dynode.pipelines.times import future_times, render_times

__all__ = ["direction_strip", "edited_latents", "extrapolate_video", "fit_sequence", "future_times",
           "interpolate_latents", "invert_video", "make_edits", "render_stream", "render_times", "source_audio"]
