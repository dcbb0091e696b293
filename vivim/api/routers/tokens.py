"""Personal API tokens for scripts: created (shown once), listed, revoked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vivim.api.deps import CurrentUser, SessionPrincipal, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor, time_key
from vivim.api.schemas.tokens import ApiTokenCreate, ApiTokenCreated, ApiTokenList, ApiTokenOut
from vivim.identity import service

router = APIRouter(prefix="/tokens", tags=["tokens"], responses={**AUTHENTICATED, **error_responses(404)})
TokenId = Annotated[str, Path(max_length=64)]


@router.get("", response_model=ApiTokenList, summary="Your API tokens, newest first (never the tokens themselves)")
def list_tokens(user: CurrentUser, v: VivimDep, limit: Limit = 50, cursor: CursorParam = None) -> ApiTokenList:
    after = time_key(decode_cursor(cursor, "tokens", 2))
    rows = service.list_api_tokens(v, user, limit=limit + 1, after=after)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor("tokens", [rows[-1].created_at.isoformat(), rows[-1].id])
    return ApiTokenList(items=[ApiTokenOut(**t.to_json()) for t in rows], next_cursor=next_cursor)


@router.post(
    "",
    response_model=ApiTokenCreated,
    status_code=201,
    summary="Create an API token (needs a device session); the token is in this answer only",
)
def create_token(body: ApiTokenCreate, principal: SessionPrincipal, v: VivimDep) -> ApiTokenCreated:
    record, plaintext = service.create_api_token(
        v, service.user_record(principal), body.name, expires_in_days=body.expires_in_days
    )
    return ApiTokenCreated(**record.to_json(), token=plaintext)


@router.get("/{token_id}", response_model=ApiTokenOut, summary="One API token")
def get_token(token_id: TokenId, user: CurrentUser, v: VivimDep) -> ApiTokenOut:
    return ApiTokenOut(**service.get_api_token(v, user, token_id).to_json())


@router.delete("/{token_id}", response_model=ApiTokenOut, summary="Revoke an API token; it stops working at once")
def revoke_token(token_id: TokenId, user: CurrentUser, v: VivimDep) -> ApiTokenOut:
    return ApiTokenOut(**service.revoke_api_token(v, user, token_id).to_json())
