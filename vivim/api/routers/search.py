"""Hybrid search over the user's units (same parameters and hits as `vivim search`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from vivim.api.deps import Store, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.search.engine import Filters, Hit

router = APIRouter(prefix="/search", tags=["search"], responses={**AUTHENTICATED, **error_responses(400)})


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]  # the engine's own dataclass: one definition of a hit for CLI and API


@router.get("", response_model=SearchResult, summary="Hybrid search: full text and vectors, fused")
def search(
    v: VivimDep,
    store: Store,
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
) -> dict[str, Any]:
    filters = Filters(
        provider=provider, conversation_id=conversation_id, type=type, role=role, since=since, until=until
    )
    hits = v.search_engine().search(store, q, limit=limit, filters=filters)
    return {"query": q, "hits": [h.to_json() for h in hits]}
