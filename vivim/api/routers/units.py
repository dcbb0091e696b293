"""The user's atomic chat units: list, get, links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from vivim.api.deps import Store
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from vivim.api.schemas.units import LinkList, UnitList, UnitOut
from vivim.domain.errors import NotFound
from vivim.identity.signing import verify_unit
from vivim.store.user import units as unit_store

router = APIRouter(prefix="/units", tags=["units"], responses={**AUTHENTICATED, **error_responses(404)})
UnitId = Annotated[str, Path(max_length=64)]
MAX_CONVERSATION_PAGE_OFFSET = 100_000


# Handlers return plain dicts: FastAPI validates them once, against the response model.
@router.get(
    "", response_model=UnitList, summary="Units: newest first, or in message order within a conversation"
)
def list_units(
    store: Store,
    conversation_id: Annotated[
        str | None, Query(max_length=64, description="Only this conversation's units.")
    ] = None,
    type: Annotated[str | None, Query(max_length=64, description="Only units of this type.")] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    with store.read() as conn:
        if conversation_id:
            # Within a conversation units come in message order, which the store's
            # (created_at, id) keyset cannot continue; a conversation holds few enough
            # units for an offset to be cheap.
            values = decode_cursor(cursor, "units-in-conversation", 1)
            offset = int(values[0]) if values else 0
            if not 0 <= offset <= MAX_CONVERSATION_PAGE_OFFSET:
                offset = 0
            rows = unit_store.list_units(
                conn, conversation_id=conversation_id, type=type, limit=offset + limit + 1
            )
            rows = rows[offset:]
            next_cursor = (
                encode_cursor("units-in-conversation", [offset + limit]) if len(rows) > limit else None
            )
        else:
            values = decode_cursor(cursor, "units", 2)
            rows = unit_store.list_units(
                conn, type=type, limit=limit + 1, after=(str(values[0]), str(values[1])) if values else None
            )
            next_cursor = (
                encode_cursor("units", [rows[limit - 1]["created_at"], rows[limit - 1]["id"]])
                if len(rows) > limit
                else None
            )
    return {"items": rows[:limit], "next_cursor": next_cursor}


@router.get("/{unit_id}", response_model=UnitOut, summary="One unit")
def get_unit(unit_id: UnitId, store: Store) -> dict[str, Any]:
    with store.read() as conn:
        unit = unit_store.get_unit(conn, unit_id)
    if unit is None:
        raise NotFound(f"no unit {unit_id[:40]!r}")
    return unit


@router.get("/{unit_id}/links", response_model=LinkList, summary="A unit's links, both directions")
def get_links(unit_id: UnitId, store: Store) -> dict[str, Any]:
    with store.read() as conn:
        if unit_store.get_unit(conn, unit_id) is None:
            raise NotFound(f"no unit {unit_id[:40]!r}")
        links = unit_store.get_links(conn, unit_id)
    return {"items": links}


class VerifyOut(BaseModel):
    unit_id: str
    valid: bool
    reason: str


@router.get(
    "/{unit_id}/verify", response_model=VerifyOut, summary="Check a unit's Ed25519 signature against its DID"
)
def verify(unit_id: UnitId, store: Store) -> dict[str, Any]:
    with store.read() as conn:
        found = next(unit_store.signed_fields(conn, unit_id), None)
    if found is None:
        raise NotFound(f"no unit {unit_id[:40]!r}")
    valid, reason = verify_unit(*found)
    return {"unit_id": unit_id, "valid": valid, "reason": reason}
