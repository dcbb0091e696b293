"""`vivim serve`: the HTTP API with uvicorn."""

from __future__ import annotations

import typer

from vivim.cli.context import err, state


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for all interfaces)."),
    port: int = typer.Option(8420, "--port", min=1, max=65535, help="Port to listen on."),
    max_upload_mb: int = typer.Option(2048, "--max-upload-mb", min=1, help="Largest import upload accepted."),
    public_url: str | None = typer.Option(
        None, "--public-url", help="The URL clients use (e.g. https://vivim.example); bound into login challenges."
    ),
    trust_proxy: bool = typer.Option(
        False, "--trust-proxy", help="Take client IPs from X-Forwarded-For (only behind a proxy that sets it)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, interactive docs at /docs)."""
    import uvicorn

    from vivim.api.app import create_app
    from vivim.api.config import ApiConfig

    v = state(ctx).vivim
    v.init()
    config = ApiConfig(max_upload_bytes=max_upload_mb * 1024 * 1024, public_url=public_url, trust_proxy_headers=trust_proxy)
    app = create_app(v, config=config)
    err.print(f"vivim API on http://{host}:{port}/api/v1 (data: {v.settings.data_dir})", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=trust_proxy)
