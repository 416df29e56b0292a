"""Editing: semantic directions, how they are found, and how edits reach every frame."""

from dynode.edit.directions import (Direction, get_direction, library_path, load_library, parse_layers,
                                    read_directions, save_directions)
from dynode.edit.motion import motion_component, scale_motion
from dynode.edit.propagate import MODES, Edit, Schedule, propagate

__all__ = ["MODES", "Direction", "Edit", "Schedule", "get_direction", "library_path", "load_library",
           "motion_component", "parse_layers", "propagate", "read_directions", "save_directions", "scale_motion"]
