"""What every social module shares: errors, the sharing generation, blocks, user lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import InvalidInput, VivimError
from vivim.domain.times import parse_time, utcnow
from vivim.store.master.models import Block, SharingState, User

GENERATION_KEY = "generation"


class NotPermitted(VivimError):
    """The requester can see the object but may not do this to it (e.g. remix without canRemix)."""

    code = "not_permitted"


def bump_generation(s: Session) -> None:
    """Mark every reader's view of shared units as possibly changed (same transaction as the change)."""
    result = s.execute(
        update(SharingState).where(SharingState.key == GENERATION_KEY).values(value=SharingState.value + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DB created without the migration's seed row
        s.add(SharingState(key=GENERATION_KEY, value=1))
        s.flush()


def generation(s: Session) -> int:
    return int(s.scalar(select(SharingState.value).where(SharingState.key == GENERATION_KEY)) or 0)


def blocked_ids(s: Session, user_id: str) -> set[str]:
    """Users who blocked ``user_id`` or whom ``user_id`` blocked: each is hidden from the other."""
    rows = s.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            or_(Block.blocker_id == user_id, Block.blocked_id == user_id)
        )
    ).all()
    return {b if a == user_id else a for a, b in rows}


def is_blocked(s: Session, a: str, b: str) -> bool:
    return (
        s.scalar(
            select(Block.id).where(
                or_(
                    (Block.blocker_id == a) & (Block.blocked_id == b),
                    (Block.blocker_id == b) & (Block.blocked_id == a),
                )
            )
        )
        is not None
    )


def other_user(v: Vivim, actor: UserRecord, name_or_id: str) -> UserRecord:
    """Another user by handle, id or DID; never the actor themself."""
    user = v.get_user(name_or_id)
    if user.id == actor.id:
        raise InvalidInput("that is you")
    return user


def handles(s: Session, user_ids: set[str]) -> dict[str, tuple[str | None, str]]:
    """user id -> (handle, DID) for display."""
    if not user_ids:
        return {}
    rows = s.execute(select(User.id, User.handle, User.did).where(User.id.in_(user_ids))).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def parse_expiry(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """An expiry: ISO 8601, or a duration from now like ``30m``, ``12h``, ``7d``. Must be in the future."""
    if value is None or value == "":
        return None
    now = now or utcnow()
    if isinstance(value, datetime):
        when = value
    else:
        text = value.strip()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
        if len(text) >= 2 and text[-1] in units and text[:-1].isdigit():
            when = now + timedelta(seconds=int(text[:-1]) * units[text[-1]])
        else:
            parsed = parse_time(text) if not text.replace(".", "").isdigit() else None
            if parsed is None:
                raise InvalidInput(f"{value!r} is not an expiry (use ISO 8601, or 30m, 12h, 7d, 2w)")
            when = parsed
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise InvalidInput(f"the expiry {when.isoformat()} is not in the future")
    return when


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None
