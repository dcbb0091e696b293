"""`vivim serve`: the HTTP API with uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from vivim.cli.context import err, state

if TYPE_CHECKING:
    from vivim.api.config import ApiConfig
    from vivim.app import Vivim


def tune_for_serving() -> None:
    """One BLAS thread per call: the server runs several searches at once, one per core,
    and OpenBLAS's own threads then only fight over the cores (and spin while idle): at
    concurrency 8 a search's vector scan cost three times the CPU with two BLAS threads
    than with one (docs/PERFORMANCE.md, issue 5). The query embedder is single-threaded
    already (vivim.embed.minilm)."""
    import numpy  # noqa: F401  (threadpoolctl limits only the libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


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
    """Serve ``v`` until interrupted (also what benchmarks/bench_api.py starts)."""
    import uvicorn

    from vivim.api.app import create_app

    tune_for_serving()
    app = create_app(v, config=config)
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
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, interactive docs at /docs)."""
    from vivim.api.config import ApiConfig

    v = state(ctx).vivim
    v.init()
    config = ApiConfig(max_upload_bytes=max_upload_mb * 1024 * 1024, public_url=public_url, trust_proxy_headers=trust_proxy)
    err.print(f"vivim API on http://{host}:{port}/api/v1 (data: {v.settings.data_dir})", highlight=False)
    run_server(v, host=host, port=port, config=config, log_level=log_level, proxy_headers=trust_proxy)
