"""Hybrid search over the user's units (same parameters and hits as `vivim search`)."""

from __future__ import annotations

import os
from typing import Annotated

import anyio.to_thread
import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from vivim.api.deps import CurrentUser, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.search.engine import Filters, Hit
from vivim.search.processes import SearchProcesses

router = APIRouter(prefix="/search", tags=["search"], responses={**AUTHENTICATED, **error_responses(400)})


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]  # the engine's own dataclass: one definition of a hit for CLI and API


@router.get("", response_model=SearchResult, summary="Hybrid search: full text and vectors, fused")
async def search(
    request: Request,
    v: VivimDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=2000, description="What to look for.")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[
        str | None, Query(max_length=64, description="Unit type, e.g. question, code_snippet.")
    ] = None,
    role: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[str | None, Query(max_length=40, description="ISO 8601: messages at or after.")] = None,
    until: Annotated[str | None, Query(max_length=40, description="ISO 8601: messages before.")] = None,
) -> Response:
    filters = Filters(
        provider=provider, conversation_id=conversation_id, type=type, role=role, since=since, until=until
    )

    processes: SearchProcesses | None = request.app.state.search_processes
    if processes is not None:
        hits = await processes.search(user.id, q, limit=limit, filters=filters)
    else:

        def run() -> list[Hit]:
            # The user's own store, opened here rather than by the Store dependency: one
            # trip to the thread pool for the whole search instead of two (each costs a
            # wake-up of a worker thread and of the event loop).
            return v.search_engine().search(v.store(user), q, limit=limit, filters=filters)

        hits = await anyio.to_thread.run_sync(run, limiter=_search_limiter(request))
    # Serialised here rather than through the response model: validating every hit again
    # costs more than the rest of the HTTP handling (SearchResult still documents the
    # shape, and the schemathesis run checks responses against it). orjson writes the
    # hits' dataclass fields directly, in their order.
    return Response(orjson.dumps({"query": q, "hits": hits}), media_type="application/json")


def _search_limiter(request: Request) -> anyio.CapacityLimiter:
    """Searches run at most one more at a time than there are cores; the others wait their
    turn. Searches are CPU work: with eight at once on two cores they only took turns on the
    GIL and the caches, and each cost more (server CPU 15.5 -> 14 ms per request, p99
    151 -> 95 ms at concurrency 8; docs/PERFORMANCE.md, issue 5). Created on first use,
    inside the event loop, once per app."""
    limiter = getattr(request.app.state, "search_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter((os.cpu_count() or 1) + 1)
        request.app.state.search_limiter = limiter
    return limiter
