"""GET /health: public liveness and master database reachability."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from vivim import __version__
from vivim.api.deps import VivimDep
from vivim.api.schemas.stats import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Liveness (no authentication)")
def health(v: VivimDep) -> HealthOut:
    try:
        with v.master.connect() as c:
            c.execute(text("SELECT 1"))
        master = "ok"
    except Exception:  # health reports, it never fails
        master = "unavailable"
    return HealthOut(status="ok" if master == "ok" else "degraded", version=__version__, master=master)
