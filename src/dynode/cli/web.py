"""The app command: the web app in a browser."""

from __future__ import annotations

from dynode.app.service import AppConfig
from dynode.cli.common import O, _device, _errors, app, say
from dynode.generators import resolve

@app.command("app")
def app_cmd(host: str = O("127.0.0.1", help="address to bind (0.0.0.0 opens it to the network)"),
            port: int = O(7860, help="port"),
            max_upload_mb: float = O(AppConfig().max_upload_mb, help="largest upload accepted, in MB"),
            max_seconds: float = O(AppConfig().max_seconds, help="longest video accepted, in seconds"),
            max_side: int = O(AppConfig().max_side, help="largest frame width or height accepted, in pixels"),
            cache_size: int = O(AppConfig().cache_size, help="fitted videos kept in memory (a new render of one of "
                                                             "them takes seconds)"),
            jobs: int = O(AppConfig().jobs, help="jobs run at once across all browser tabs (the others wait in the "
                                                 "queue)"),
            device: str = O("auto", help="torch device of every job: auto, cpu, cuda"),
            generator: str = O(AppConfig().generator, help="the generator the page starts with: a bundled name or "
                                                           "a model folder (the page can switch)")) -> None:
    """Serve the web app: open a video, invert and fit it, interpolate, extrapolate and edit it."""
    from dynode.app import build_app
    with _errors():
        config = AppConfig(max_upload_mb, max_seconds, max_side, _device(device), cache_size, jobs,
                           generator if resolve(generator).name == generator else str(resolve(generator).resolve()))
        demo = build_app(config)
        say(f"dynode app on http://{host}:{port} (uploads and outputs in {demo.app_state.root}, removed on exit)")
        try:  # a termination stops the server as Ctrl-C does (see _errors), and the folder is removed
            # Gradio's own cap refuses with a bare "Error" toast, so it is set at twice the limit: an upload
            # up to that reaches the app's check, whose message names the limit in the status line.
            demo.queue().launch(server_name=host, server_port=port, max_file_size=int(2 * max_upload_mb * 2**20),
                                 quiet=True)
        finally:
            demo.app_state.close()
