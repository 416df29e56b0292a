"""The app command: the web app in a browser."""

from __future__ import annotations

from dynode.cli import O, _device, _errors, app, say


@app.command("app")
def app_cmd(host: str = O("127.0.0.1", help="address to bind (0.0.0.0 opens it to the network)"),
            port: int = O(7860, help="port"),
            max_upload_mb: float = O(200.0, help="largest upload accepted, in MB"),
            max_seconds: float = O(120.0, help="longest video accepted, in seconds"),
            max_side: int = O(1920, help="largest frame width or height accepted, in pixels"),
            device: str = O("auto", help="torch device of every job: auto, cpu, cuda")) -> None:
    """Serve the web app: open a video, invert and fit it, interpolate, extrapolate and edit it."""
    from dynode.app import AppConfig, build_app
    with _errors():
        config = AppConfig(max_upload_mb, max_seconds, max_side, _device(device))
        demo = build_app(config)
        say(f"dynode app on http://{host}:{port} (uploads and outputs in {demo.app_state.root}, removed on exit)")
        try:
            demo.queue().launch(server_name=host, server_port=port, max_file_size=f"{max_upload_mb}mb", quiet=True)
        finally:
            demo.app_state.close()
