"""`vivim serve`: the HTTP API with uvicorn."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from vivim.cli.context import err, state

if TYPE_CHECKING:
    from vivim.api.config import ApiConfig
    from vivim.app import Vivim


def default_search_workers() -> int:
    """One search process per core (vivim.search.processes)."""
    return os.cpu_count() or 1


def run_server(
    v: Vivim,
    *,
    host: str,
    port: int,
    config: ApiConfig | None = None,
    log_level: str = "info",
    proxy_headers: bool = False,
    access_log: bool = True,
) -> None:
    """Serve ``v`` until interrupted (also what benchmarks/bench_api.py starts). Without a
    ``config``, as `vivim serve` does by default."""
    import uvicorn

    from vivim.api.app import create_app
    from vivim.api.config import ApiConfig
    from vivim.search.processes import limit_blas_threads

    limit_blas_threads()
    app = create_app(v, config=config or ApiConfig(search_workers=default_search_workers()))
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=proxy_headers, access_log=access_log)


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
    search_workers: int | None = typer.Option(
        None, "--search-workers", min=0, show_default="one per core",
        help="Processes that run searches side by side; 0 runs them in the server process (less memory).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, interactive docs at /docs)."""
    from vivim.api.config import ApiConfig

    v = state(ctx).vivim
    v.init()
    config = ApiConfig(
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        public_url=public_url,
        trust_proxy_headers=trust_proxy,
        search_workers=default_search_workers() if search_workers is None else search_workers,
    )
    err.print(f"vivim API on http://{host}:{port}/api/v1 (data: {v.settings.data_dir})", highlight=False)
    run_server(v, host=host, port=port, config=config, log_level=log_level, proxy_headers=trust_proxy)
