"""Pipelines: chain the stages (inversion, dynamics, editing, rendering) and gather the training commands' data;
no algorithms here."""

from dynode.pipelines.clip import Clip, playback_rate
from dynode.pipelines.models import Models
from dynode.pipelines.video import VideoPipeline

__all__ = ["Clip", "Models", "VideoPipeline", "playback_rate"]
