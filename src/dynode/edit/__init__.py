"""Editing: semantic directions, how they are found, and how edits reach every frame."""

from dynode.edit.directions import (Direction, add_to_library, describe_library, get_direction, library_path,
                                    load_library, load_vector, parse_layers, read_directions, save_directions)
from dynode.edit.motion import motion_component, parse_motion, scale_motion
from dynode.edit.propagate import Edit, Schedule, add_to_every, carry

__all__ = ["Direction", "Edit", "Schedule", "add_to_every", "add_to_library", "carry", "describe_library",
           "get_direction", "library_path", "load_library", "load_vector", "motion_component", "parse_layers",
           "parse_motion", "read_directions", "save_directions", "scale_motion"]
