"""Editing: semantic directions and their application to a trajectory or to every frame."""

from dynode.edit.apply import edit_per_frame, edit_start
from dynode.edit.directions import EDITABLE, fit_directions, get_direction, load_directions

__all__ = ["EDITABLE", "edit_per_frame", "edit_start", "fit_directions", "get_direction", "load_directions"]
