"""Exceptions raised by dynode. Every user-facing failure is a DynodeError subclass."""

from __future__ import annotations


class DynodeError(Exception):
    """Base class of all dynode errors; the CLI maps it to exit code 2."""


class InputError(DynodeError, ValueError):
    """An argument, file or video does not meet the documented contract."""


class CheckpointError(DynodeError):
    """A checkpoint or artifact is missing, unreadable, or of another architecture."""


class FitError(DynodeError, RuntimeError):
    """Numeric failure while fitting or solving dynamics (NaN, underflow), with diagnostics."""
