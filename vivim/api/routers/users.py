"""The signed-in user: profile and identity-key export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vivim.api.deps import ConfigDep, CurrentUser, LimiterDep, SessionPrincipal, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.schemas.users import KeyExport, KeyExportRequest, ProfilePatch, UserOut
from vivim.identity import service

router = APIRouter(prefix="/users", tags=["users"], responses=AUTHENTICATED)


def _out(user: Any) -> UserOut:
    return UserOut(**user.to_json())


@router.get("/me", response_model=UserOut, summary="Your profile")
def me(user: CurrentUser) -> UserOut:
    return _out(user)


@router.patch("/me", response_model=UserOut, summary="Change your display name")
def update_me(body: ProfilePatch, user: CurrentUser, v: VivimDep) -> UserOut:
    if "display_name" not in body.model_fields_set:
        return _out(user)
    return _out(service.update_profile(v, user, display_name=body.display_name))


@router.post(
    "/me/key-export",
    response_model=KeyExport,
    responses=error_responses(429),
    summary="Your identity key, locked with a passphrase (needs a device session)",
)
def export_key(
    body: KeyExportRequest,
    principal: SessionPrincipal,
    v: VivimDep,
    config: ConfigDep,
    limiter: LimiterDep,
) -> dict[str, Any]:
    # Each export costs a 64 MiB key derivation: limit it like a login.
    limiter.hit(config.rate_limits.login_per_user, f"key-export:{principal.user_id}")
    return service.export_key(
        v,
        service.user_record(principal),
        body.passphrase,
        memory_kib=config.key_export_memory_kib,
        iterations=config.key_export_iterations,
    )
