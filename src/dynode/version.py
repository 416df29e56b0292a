"""The package version, recorded in every model folder and artifact dynode writes."""

__version__ = "0.1.0"
