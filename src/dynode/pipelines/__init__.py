"""Pipelines: chain the stages (inversion, dynamics, editing, rendering); no algorithms here."""

from dynode.times import future_times, render_times
from dynode.pipelines.clip import Clip, playback_rate
from dynode.pipelines.video import VideoPipeline

__all__ = ["Clip", "VideoPipeline", "future_times", "playback_rate", "render_times"]
