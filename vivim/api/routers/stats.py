"""GET /stats: conversation and unit counts, per-provider capture statistics, recent attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vivim.api.deps import CurrentUser, Store, VivimDep
from vivim.api.errors import AUTHENTICATED
from vivim.api.schemas.stats import StatsOut, UnitCounts
from vivim.store.master import captures
from vivim.store.user import conversations as conv_store
from vivim.store.user import units as unit_store

router = APIRouter(tags=["stats"], responses=AUTHENTICATED)


@router.get("/stats", response_model=StatsOut, summary="Your capture statistics")
def stats(
    user: CurrentUser,
    store: Store,
    v: VivimDep,
    recent: Annotated[int, Query(ge=0, le=100, description="How many recent capture attempts.")] = 10,
) -> StatsOut:
    with v.master.connect() as c:
        providers = captures.provider_stats(c, user_id=user.id)
        attempts = captures.recent_attempts(c, user_id=user.id, limit=recent) if recent else []
    with store.read() as conn:
        counts = conv_store.count_conversations(conn)
        total_units, embedded = unit_store.count_units(conn)
    return StatsOut(
        conversations=counts,
        total_conversations=sum(counts.values()),
        units=UnitCounts(total=total_units, embedded=embedded),
        providers=providers,  # type: ignore[arg-type]
        recent_attempts=attempts,  # type: ignore[arg-type]
    )
