"""The FastAPI application factory: ``create_app(vivim)``.

Nothing happens at import time: the app, its state (rate limiter, import jobs) and its
routes are built when ``create_app`` is called, around a ``Vivim`` the caller owns (and
closes). Every resource is one router, mounted under ``/api/v1``; add a resource by adding
its router to :func:`api_routers` (or pass extra ones to ``create_app``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vivim import __version__
from vivim.api import errors
from vivim.api.config import ApiConfig
from vivim.api.jobs import JobManager
from vivim.app import Vivim
from vivim.identity.ratelimit import RateLimiter
from vivim.search.processes import SearchProcesses

API_PREFIX = "/api/v1"
UPLOAD_PATH = f"{API_PREFIX}/imports"


def api_routers() -> list[APIRouter]:
    """Every resource router, in the order they appear in the OpenAPI document."""
    from vivim.api.routers import (
        auth,
        circles,
        context,
        conversations,
        devices,
        health,
        imports,
        memory,
        relations,
        search,
        sharing,
        stats,
        sync,
        tokens,
        units,
        users,
    )

    return [
        health.router,
        auth.router,
        users.router,
        devices.router,
        tokens.router,
        imports.router,
        conversations.router,
        units.router,
        search.router,
        context.router,
        stats.router,
        memory.router,
        sync.router,
        circles.router,
        relations.router,
        sharing.router,
    ]


class _BodyLimit:
    """Refuses request bodies over ``limit`` bytes (413), except uploads, which enforce
    their own larger limit while streaming (``vivim.api.uploads``)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["path"] == UPLOAD_PATH and scope["method"] == "POST"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_413(send, self.limit)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    from starlette.exceptions import HTTPException

                    raise HTTPException(413, f"the request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": "payload_too_large", "message": f"the request body is larger than {limit} bytes"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    vivim: Vivim, *, config: ApiConfig | None = None, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    config = config or ApiConfig()
    jobs = JobManager(
        vivim,
        vivim.settings.data_dir / "tmp" / "uploads",
        workers=config.import_workers,
        kept_per_user=config.jobs_kept_per_user,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vivim.ensure_ready()
        jobs.sweep_stale_uploads()
        searches = SearchProcesses(vivim.settings, config.search_workers) if config.search_workers else None
        if searches is not None:
            searches.start()
        app.state.search_processes = searches
        try:
            yield
        finally:
            jobs.shutdown()
            if searches is not None:
                searches.close()

    app = FastAPI(
        title="vivim",
        version=__version__,
        summary="Your AI conversations, captured, searchable and yours.",
        description="See docs/API.md. Every error is `{\"error\": {\"code\", \"message\"}}`.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.vivim = vivim
    app.state.config = config
    app.state.limiter = RateLimiter()
    app.state.jobs = jobs
    app.state.search_processes = None  # set while the app runs, when config.search_workers
    errors.install(app)
    app.add_middleware(_BodyLimit, limit=config.max_json_body_bytes)  # type: ignore[arg-type]
    for router in [*api_routers(), *routers]:
        app.include_router(router, prefix=API_PREFIX)
    _document_body_limit(app)
    return app


def _document_body_limit(app: FastAPI) -> None:
    """Every operation that takes a body can answer 413 (``_BodyLimit``): say so in the
    OpenAPI document, once, where it is generated."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        too_large = errors.error_responses(413)[413]
        entry = {
            "description": too_large["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    operation.setdefault("responses", {}).setdefault("413", entry)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def openapi_document(vivim: Vivim) -> dict[str, Any]:
    """The OpenAPI document, e.g. to publish it without running a server."""
    return create_app(vivim).openapi()


__all__ = ["API_PREFIX", "api_routers", "create_app", "openapi_document"]
