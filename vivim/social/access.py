"""Who may read a shared unit, and keeping the materialised audience exact.

``shared_unit_access`` holds one row per (reader, circle share): the grants of a share
crossed with the members of its circles. Every change to a share, its circles or a
circle's members goes through the functions here, in the same transaction as the change,
so the table is never stale. Public shares have no rows: anyone not blocked may read them.
Expiry is copied onto the rows and checked when they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, insert, literal, select
from sqlalchemy.orm import Session

from vivim.social.common import is_blocked
from vivim.store.master.models import (
    CircleMember,
    SharedUnit,
    SharedUnitAccess,
    SharedUnitCircle,
    SharingPolicy,
)

_CHUNK = 500


@dataclass(frozen=True)
class Permissions:
    """What one reader may do with one shared unit."""

    view: bool
    annotate: bool
    remix: bool
    reshare: bool
    is_sharer: bool

    def to_json(self) -> dict[str, bool]:
        return {"view": self.view, "annotate": self.annotate, "remix": self.remix, "reshare": self.reshare}


def expired(su: SharedUnit, now: datetime) -> bool:
    return su.expires_at is not None and su.expires_at <= now


def permissions(s: Session, su: SharedUnit, user_id: str, now: datetime) -> Permissions | None:
    """None when ``user_id`` may not even see the share (callers answer 404)."""
    if su.sharer_id == user_id:
        return Permissions(True, True, True, True, is_sharer=True)
    if not su.can_view or expired(su, now):
        return None
    if is_blocked(s, user_id, su.sharer_id) or (su.author_id and is_blocked(s, user_id, su.author_id)):
        return None
    if su.policy != SharingPolicy.PUBLIC:
        row = s.get(SharedUnitAccess, (user_id, su.id))
        if row is None:
            return None
    return Permissions(True, su.can_annotate, su.can_remix, su.can_reshare, is_sharer=False)


def rebuild_share(s: Session, su: SharedUnit) -> None:
    """Recompute the audience of one share from its circles and their members."""
    s.flush()
    s.execute(delete(SharedUnitAccess).where(SharedUnitAccess.shared_unit_id == su.id))
    if su.policy != SharingPolicy.CIRCLE:
        return
    audience = (
        select(CircleMember.user_id)
        .join(SharedUnitCircle, SharedUnitCircle.circle_id == CircleMember.circle_id)
        .where(SharedUnitCircle.shared_unit_id == su.id, CircleMember.user_id != su.sharer_id)
        .distinct()
        .subquery()
    )
    s.execute(
        insert(SharedUnitAccess).from_select(
            ["recipient_id", "shared_unit_id", "sharer_id", "published_at", "expires_at"],
            select(
                audience.c.user_id,
                literal(su.id),
                literal(su.sharer_id),
                literal(su.published_at, SharedUnitAccess.published_at.type),
                literal(su.expires_at, SharedUnitAccess.expires_at.type),
            ),
        )
    )


def _insert_new(s: Session, rows: list[dict[str, object]]) -> None:
    """Insert audience rows, skipping ones already there (a reader may already have a share
    through another circle). ON CONFLICT DO NOTHING on both engines: one statement, no
    read-before-write."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    s.execute(dialect_insert(SharedUnitAccess.__table__).on_conflict_do_nothing(), rows)


def member_added(s: Session, circle_id: str, user_id: str) -> None:
    """A new member of ``circle_id`` gains every circle share granted to it.

    Driven from the circle's grants (one index range) in chunks, so the cost follows the
    circle's shares, never the size of ``shared_units``.
    """
    s.flush()
    grants = list(s.scalars(select(SharedUnitCircle.shared_unit_id).where(SharedUnitCircle.circle_id == circle_id)))
    for i in range(0, len(grants), _CHUNK):
        rows = s.execute(
            select(SharedUnit.id, SharedUnit.sharer_id, SharedUnit.published_at, SharedUnit.expires_at).where(
                SharedUnit.id.in_(grants[i : i + _CHUNK]),
                SharedUnit.policy == SharingPolicy.CIRCLE,
                SharedUnit.sharer_id != user_id,
            )
        ).all()
        if rows:
            _insert_new(
                s,
                [
                    {"recipient_id": user_id, "shared_unit_id": r[0], "sharer_id": r[1], "published_at": r[2],
                     "expires_at": r[3]}
                    for r in rows
                ],
            )


def member_removed(s: Session, circle_id: str, user_id: str) -> None:
    """A member leaving ``circle_id`` loses its shares, except those another of their circles grants.

    Call after the membership row is gone.
    """
    s.flush()
    via_this = select(SharedUnitCircle.shared_unit_id).where(SharedUnitCircle.circle_id == circle_id)
    via_other = (
        select(SharedUnitCircle.shared_unit_id)
        .join(CircleMember, CircleMember.circle_id == SharedUnitCircle.circle_id)
        .where(and_(CircleMember.user_id == user_id, SharedUnitCircle.circle_id != circle_id))
    )
    s.execute(
        delete(SharedUnitAccess).where(
            SharedUnitAccess.recipient_id == user_id,
            SharedUnitAccess.shared_unit_id.in_(via_this),
            SharedUnitAccess.shared_unit_id.not_in(via_other),
        )
    )
