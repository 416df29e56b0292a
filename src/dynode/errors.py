"""Exceptions raised by dynode. Every user-facing failure is a DynodeError subclass.

A core error names the problem; what a user can do about it depends on the front end (a flag
on the command line, a checkbox in the web app), so an error may carry a ``remedy``: a key of
:data:`REMEDIES`, which each front end words for itself (:mod:`dynode.cli.common`, :mod:`dynode.app`).
"""

from __future__ import annotations

import os

# What a user can do about an error, by key; the front ends word each one.
REMEDIES = (
    "resize",          # frames of another size: resize them, or crop the face
    "align",           # a step that needs the face crop of an aligned video
    "no_align",        # no face to align: read the frames whole
    "shots_off",       # cuts where there are none, or one trajectory wanted across shots
    "fidelity_latent",  # detail rendering without the source frames: render the generator's picture alone
    "min_face_share",  # too few frames with a face
    "encoder",         # no encoder for this generator
    "fit_first",       # a step that needs a fitted trajectory
    "invert_first",    # a step that needs the inverted codes
    "pass_generator",  # artifacts of a generator built in memory
    "response_pixels",  # a locked edit whose direction the probe cannot read: measure it in pixels
    "response_probe",  # a target attribute value: needs the probe's response
    "full_space",      # a motion direction outside the fitted subspace: fit in the full space
    "refit_directions",  # a direction library of an older format
)


class DynodeError(Exception):
    """Base class of all dynode errors; the CLI maps it to exit code 2.

    Args:
        message: what is wrong, naming what came and what was expected.
        remedy: a key of :data:`REMEDIES` (None: the message says it all).
    """

    def __init__(self, message: str = "", remedy: str | None = None):
        super().__init__(message)
        if remedy is not None and remedy not in REMEDIES:
            raise ValueError(f"unknown remedy {remedy!r}; valid: {list(REMEDIES)}")
        self.remedy = remedy


def advice(error: DynodeError, words: dict[str, str]) -> str:
    """The error's message, then what to do about it as a front end words its remedy (``words``:
    remedy key -> wording; nothing added for a remedy it does not word)."""
    remedy = words.get(error.remedy)
    return f"{error}; {remedy}" if remedy else str(error)


class InputError(DynodeError, ValueError):
    """An argument, file or video does not meet the documented contract."""


class CheckpointError(DynodeError):
    """A checkpoint or artifact is missing, unreadable, or of another architecture."""


class FitError(DynodeError, RuntimeError):
    """Numeric failure while fitting or solving dynamics (NaN, underflow), with diagnostics."""


class StorageError(DynodeError, OSError):
    """The machine refused a read or write: no space left, no permission, a read-only file system, a file
    that vanished. The message names the path and the cause; nothing half-written is left."""


# What an errno means to a user, in the words of :func:`storage_error`.
_CAUSES = {28: "no space left on the device", 13: "permission denied", 1: "not permitted", 30: "a read-only file system",
           2: "no such file or folder (it vanished?)", 122: "the disk quota is exceeded", 27: "the file is too large"}


def storage_error(path, error: BaseException) -> StorageError:
    """A :class:`StorageError` naming ``path`` and the cause of ``error`` (an OSError, or a writer's error
    that wraps one, such as safetensors' "I/O error: No space left on device")."""
    cause = _CAUSES.get(getattr(error, "errno", None) or 0)
    if cause is None:
        text = str(error)
        cause = next((words for number, words in _CAUSES.items() if os.strerror(number) in text),
                     getattr(error, "strerror", None) or text)
    return StorageError(f"{path}: {cause}")
