"""Command-line front end: parse arguments, build configs, call the pipeline, map errors to exit code 2.

The shared options and helpers live in :mod:`dynode.cli.common`; the commands in
:mod:`dynode.cli.video` (a video in, videos out), :mod:`dynode.cli.batch`, :mod:`dynode.cli.web`
and :mod:`dynode.cli.models` (generators, directions, training) register themselves on ``app``.
"""

from dynode.cli import video, batch, web, models  # noqa: F401,I001  (this order is the order of --help)
from dynode.cli.common import app

__all__ = ["app"]
