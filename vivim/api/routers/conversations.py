"""The user's conversations: list with filters, get with messages, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from vivim.api.deps import Store
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from vivim.api.schemas.conversations import ConversationDetail, ConversationList
from vivim.domain.errors import NotFound
from vivim.domain.times import to_iso
from vivim.store.user import conversations as conv_store

router = APIRouter(
    prefix="/conversations", tags=["conversations"], responses={**AUTHENTICATED, **error_responses(404)}
)
ConversationId = Annotated[str, Path(max_length=64)]


@router.get("", response_model=ConversationList, summary="Conversations, newest captured first")
def list_conversations(
    store: Store,
    provider: Annotated[str | None, Query(max_length=64, description="Only this provider.")] = None,
    since: Annotated[datetime | None, Query(description="Conversation time at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Conversation time before (ISO 8601).")] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    after = decode_cursor(cursor, "conversations", 2)
    with store.read() as conn:
        rows = conv_store.list_conversations(
            conn,
            provider=provider,
            since=to_iso(since),
            until=to_iso(until),
            limit=limit + 1,
            before=(str(after[0]), str(after[1])) if after else None,
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor("conversations", [rows[-1]["captured_at"], rows[-1]["id"]])
    # Plain dicts: FastAPI validates them once, against the response model.
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/{conversation_id}", response_model=ConversationDetail, summary="A conversation with its messages"
)
def get_conversation(conversation_id: ConversationId, store: Store) -> dict[str, Any]:
    with store.read() as conn:
        conv = conv_store.get_conversation(conn, conversation_id)
        if conv is None:
            raise NotFound(f"no conversation {conversation_id[:40]!r}")
        messages = conv_store.get_messages(conn, conversation_id)
    return {**conv, "messages": messages}


@router.delete(
    "/{conversation_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a conversation, its messages and its units",
)
def delete_conversation(conversation_id: ConversationId, store: Store) -> Response:
    with store.transaction() as conn:
        if not conv_store.delete_conversation(conn, conversation_id):
            raise NotFound(f"no conversation {conversation_id[:40]!r}")
    return Response(status_code=204)
