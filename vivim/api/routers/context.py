"""Context bundles for a message, and the settings that shape them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vivim.api.deps import CurrentUser, Store, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.schemas.context import (
    BundleOut,
    ContextRequest,
    ContextSettingsOut,
    ContextSettingsUpdate,
    PresetOut,
)
from vivim.context.bundle import ContextEngine
from vivim.context.settings import (
    PRESETS,
    UserContextSettings,
    load_settings,
    save_settings,
    update_settings,
)

router = APIRouter(prefix="/context", tags=["context"], responses={**AUTHENTICATED, **error_responses(400)})


@router.post(
    "",
    response_model=BundleOut,
    summary="A token-budgeted context bundle for a message",
    responses=error_responses(404),
)
def build_context(v: VivimDep, store: Store, body: ContextRequest) -> dict[str, Any]:
    bundle = ContextEngine(store, v.search_engine()).build(
        body.message,
        conversation_id=body.conversation_id,
        persona=body.persona,
        budget=body.budget,
        style=body.format,
        use_cache=body.use_cache,
    )
    return bundle.to_json()


@router.get("/settings", response_model=ContextSettingsOut, summary="Your context settings")
def get_settings(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        return load_settings(conn).to_json()


@router.patch("/settings", response_model=ContextSettingsOut, summary="Change your context settings")
def patch_settings(store: Store, body: ContextSettingsUpdate) -> dict[str, Any]:
    with store.transaction() as conn:
        current = load_settings(conn)
        if body.preset is not None:
            current = UserContextSettings.from_preset(body.preset)
        overrides = None
        if body.layer_overrides is not None:
            overrides = {k: v.model_dump(exclude_none=True) for k, v in body.layer_overrides.items()}
        new = update_settings(
            current,
            max_context_tokens=body.max_context_tokens,
            similarity_threshold=body.similarity_threshold,
            layer_overrides=overrides,
            exclusions=body.exclusions,
            extra=body.extra,
        )
        return save_settings(conn, new).to_json()


@router.get("/presets", response_model=list[PresetOut], summary="The context presets")
def list_presets(_user: CurrentUser) -> list[dict[str, Any]]:
    # Harmless, but every route but health answers only to a signed-in user.
    return [
        {
            "name": p.name,
            "description": p.description,
            "max_context_tokens": p.max_context_tokens,
            "similarity_threshold": p.similarity_threshold,
        }
        for p in PRESETS.values()
    ]
