"""The web app (Gradio): open a video, invert and fit it, then interpolate, extrapolate and edit.

    from dynode.app import AppConfig, build_app
    build_app(AppConfig()).launch(server_name="127.0.0.1")

Every action calls :class:`dynode.pipelines.VideoPipeline`. Fitted pipelines are cached by the
video's content and the options, so a new render of the same video (another factor, another
strength) costs seconds. Uploads and outputs live in one temporary folder per app, removed by
:meth:`App.close`. Errors (a bad upload, a limit, anything the CLI refuses) are shown in the
page's status line, with nothing half-written.
"""

from dynode.app.service import App, AppConfig
from dynode.app.ui import build_app

__all__ = ["App", "AppConfig", "build_app"]
