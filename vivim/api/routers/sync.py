"""Sync between a user's devices: pull and push operations by cursor, status, conflicts,
presence. Every route needs a device session (a personal API token is not a device)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from vivim.api.deps import SessionPrincipal, Store
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.schemas.sync import (
    ConflictList,
    PresenceIn,
    PresenceList,
    PresenceOut,
    PullPage,
    PushBody,
    PushResult,
    SyncStatus,
)
from vivim.domain.errors import InvalidInput
from vivim.sync import exchange, presence, wire
from vivim.sync.client import decode_push
from vivim.sync.merge import Op

router = APIRouter(prefix="/sync", tags=["sync"], responses={**AUTHENTICATED})


def _device(principal: Any) -> str:
    return principal.device_id


@router.get("/status", response_model=SyncStatus, summary="The server's log position and this device's cursors")
def status(
    principal: SessionPrincipal,
    store: Store,
    counts: Annotated[bool, Query(description="Also count records, tombstones and conflicts.")] = False,
) -> dict[str, Any]:
    return exchange.status(store, device_id=_device(principal), counts=counts)


@router.get(
    "/ops",
    response_model=PullPage,
    summary="Pull: the latest version of every record changed after `since`, in log order",
)
def pull(
    principal: SessionPrincipal,
    store: Store,
    since: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The `next` of the previous page; 0 the first time.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=exchange.MAX_PAGE)] = exchange.DEFAULT_PAGE,
    node: Annotated[str | None, Query(max_length=64, description="Your sync id: what you pushed is left out.")] = None,
) -> Response:
    page = exchange.serve_pull(store, device_id=_device(principal), node=node, since=since, limit=limit)
    # Pages are large and built from rows already checked: skip response validation.
    return Response(wire.dumps(page.to_json()), media_type="application/json")


@router.post(
    "/ops",
    response_model=PushResult,
    responses=error_responses(413, 415),
    summary="Push: merge a page of this device's operations (idempotent)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PushBody.model_json_schema()}},
        }
    },
)
async def push(request: Request, principal: SessionPrincipal, store: Store) -> dict[str, Any]:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        node, seen, ops = decode_push(raw)
    elif encoding in ("", "identity"):
        try:
            body = PushBody.model_validate_json(raw)
        except ValueError as exc:
            raise InvalidInput(f"a push is {{node, seen, ops}}: {str(exc)[:300]}") from None
        node, seen = body.node, body.seen
        ops = [Op.from_json(o.model_dump()) for o in body.ops]
    else:
        raise InvalidInput(f"unsupported Content-Encoding {encoding!r}; send gzip or nothing")
    result = await run_in_threadpool(
        exchange.serve_push, store, device_id=_device(principal), node=node, seen=seen, ops=ops
    )
    return result.to_json()


@router.get("/conflicts", response_model=ConflictList, summary="What merges here overwrote or refused, newest first")
def conflicts(
    principal: SessionPrincipal,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        # SQLite integers are 64-bit: a larger id could not even be compared.
        int | None, Query(ge=1, le=2**63 - 1, description="Only conflicts with a smaller id (paging).")
    ] = None,
) -> dict[str, Any]:
    return {"items": exchange.conflicts(store, limit=limit, before_id=before)}


@router.put(
    "/presence",
    response_model=PresenceOut,
    responses=error_responses(404),
    summary="Report this device's presence; a context bundle for the active conversation is built ahead",
)
def put_presence(
    body: PresenceIn, principal: SessionPrincipal, store: Store, background: BackgroundTasks
) -> dict[str, Any]:
    device = _device(principal)
    p = presence.update(
        store, device_id=device, status=body.status, active_conversation_id=body.active_conversation_id,
        visible_items=body.visible_items,
    )
    if p.active_conversation_id is not None and p.bundle_id is None:
        # After the answer is sent: reporting presence stays fast.
        background.add_task(presence.precompute_quietly, store, device)
    return p.to_json()


@router.get("/presence", response_model=PresenceList, summary="Every device's last presence report")
def list_presence(principal: SessionPrincipal, store: Store) -> dict[str, Any]:
    return {"items": [p.to_json() for p in presence.list_presence(store)]}
