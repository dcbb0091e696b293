"""Reciprocity: who gives (Contribution, when a unit is shared) and who takes (Consumption,
when a recipient opens, remixes or puts a shared unit into a context bundle).

The context engine calls :func:`record_context_use` with the shared units it placed in a
bundle; nothing else needs to know how the tables look.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.times import utcnow
from vivim.store.master.models import (
    Circle,
    CircleMember,
    Consumption,
    Contribution,
    SharedUnit,
    SharedUnitAccess,
    SharedUnitCircle,
    User,
)

KINDS_TAKEN = ("view", "remix", "context")


def record_contribution(
    s: Session,
    *,
    sharer_did: str,
    su: SharedUnit,
    circle_id: str | None,
    recipient_dids: list[str],
    kind: str,
) -> None:
    s.add(
        Contribution(
            contributor_did=sharer_did,
            acu_id=su.unit_id,
            recipient_dids=recipient_dids,
            kind=kind,
            shared_unit_id=su.id,
            circle_id=circle_id,
            metadata_={
                "author_did": su.author_did,
                "policy": str(su.policy.value if hasattr(su.policy, "value") else su.policy),
            },
        )
    )


def _circle_of(s: Session, su: SharedUnit, consumer_id: str) -> str | None:
    """The circle through which the consumer received the share (None for public shares)."""
    return s.scalar(
        select(SharedUnitCircle.circle_id)
        .join(CircleMember, CircleMember.circle_id == SharedUnitCircle.circle_id)
        .where(SharedUnitCircle.shared_unit_id == su.id, CircleMember.user_id == consumer_id)
        .order_by(SharedUnitCircle.circle_id)
        .limit(1)
    )


def record_consumption(s: Session, *, consumer: UserRecord, su: SharedUnit, kind: str) -> None:
    if su.sharer_id == consumer.id:
        return  # reading your own share is not taking
    provider_did = s.scalar(select(User.did).where(User.id == su.sharer_id)) or su.author_did
    s.add(
        Consumption(
            consumer_did=consumer.did,
            acu_id=su.unit_id,
            provider_did=provider_did,
            kind=kind,
            shared_unit_id=su.id,
            circle_id=_circle_of(s, su, consumer.id),
            metadata_={"author_did": su.author_did},
        )
    )


def record_context_use(v: Vivim, actor: UserRecord, shared_unit_ids: list[str]) -> int:
    """Record that the actor's context bundle used these shared units; returns how many counted.

    Only shares the actor may view count: an id they cannot see is ignored, never an error,
    so a bundle assembled from a stale list does not fail.
    """
    from vivim.social.access import permissions

    counted = 0
    now = utcnow()
    with v.master.session() as s:
        for sid in dict.fromkeys(shared_unit_ids):
            su = s.get(SharedUnit, sid) if isinstance(sid, str) and len(sid) <= 36 else None
            if su is None or su.sharer_id == actor.id:
                continue
            if permissions(s, su, actor.id, now) is None:
                continue
            record_consumption(s, consumer=actor, su=su, kind="context")
            counted += 1
    return counted


def summary(v: Vivim, actor: UserRecord) -> dict[str, Any]:
    """Given and received, per peer and per circle.

    given: what the actor shared (contributions) and how others took it (their consumptions
    of the actor's shares). received: what others share with the actor (visible shares) and
    what the actor took (their consumptions).
    """
    with v.master.session() as s:
        shared_total = (
            s.scalar(
                select(func.count())
                .select_from(Contribution)
                .where(Contribution.contributor_did == actor.did)
            )
            or 0
        )
        shared_by_circle = dict(
            s.execute(
                select(Contribution.circle_id, func.count())
                .where(Contribution.contributor_did == actor.did)
                .group_by(Contribution.circle_id)
            ).all()
        )
        taken_from_me = s.execute(
            select(Consumption.consumer_did, Consumption.circle_id, Consumption.kind, func.count())
            .where(Consumption.provider_did == actor.did)
            .group_by(Consumption.consumer_did, Consumption.circle_id, Consumption.kind)
        ).all()
        taken_by_me = s.execute(
            select(Consumption.provider_did, Consumption.circle_id, Consumption.kind, func.count())
            .where(Consumption.consumer_did == actor.did)
            .group_by(Consumption.provider_did, Consumption.circle_id, Consumption.kind)
        ).all()
        available = s.execute(
            select(User.did, func.count())
            .select_from(SharedUnitAccess)
            .join(User, User.id == SharedUnitAccess.sharer_id)
            .where(SharedUnitAccess.recipient_id == actor.id)
            .group_by(User.did)
        ).all()
        dids = {r[0] for r in taken_from_me} | {r[0] for r in taken_by_me} | {r[0] for r in available}
        names = dict(s.execute(select(User.did, User.handle).where(User.did.in_(dids))).all()) if dids else {}
        circle_ids = (
            {r[1] for r in taken_from_me} | {r[1] for r in taken_by_me} | {c for c in shared_by_circle if c}
        )
        circle_names = (
            dict(s.execute(select(Circle.id, Circle.name).where(Circle.id.in_(circle_ids))).all())
            if circle_ids
            else {}
        )

    def zero() -> dict[str, int]:
        return {k: 0 for k in KINDS_TAKEN}

    peers: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"given": zero(), "received": zero(), "shared_with_me": 0}
    )
    circles: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"shared": 0, "given": zero(), "received": zero()}
    )
    for did, circle_id, kind, n in taken_from_me:
        peers[did]["given"][kind] = peers[did]["given"].get(kind, 0) + n
        circles[circle_id or "public"]["given"][kind] = (
            circles[circle_id or "public"]["given"].get(kind, 0) + n
        )
    for did, circle_id, kind, n in taken_by_me:
        peers[did]["received"][kind] = peers[did]["received"].get(kind, 0) + n
        circles[circle_id or "public"]["received"][kind] = (
            circles[circle_id or "public"]["received"].get(kind, 0) + n
        )
    for did, n in available:
        peers[did]["shared_with_me"] = n
    for circle_id, n in shared_by_circle.items():
        circles[circle_id or "public"]["shared"] = n
    given_total = sum(sum(p["given"].values()) for p in peers.values())
    received_total = sum(sum(p["received"].values()) for p in peers.values())
    return {
        "user": actor.handle,
        "did": actor.did,
        "given": {"shares": int(shared_total), "taken_by_others": given_total},
        "received": {
            "taken": received_total,
            "shared_with_me": sum(p["shared_with_me"] for p in peers.values()),
        },
        "peers": [
            {
                "did": did,
                "user": names.get(did),
                **data,
                "balance": sum(data["given"].values()) - sum(data["received"].values()),
            }
            for did, data in sorted(peers.items(), key=lambda kv: names.get(kv[0]) or kv[0])
        ],
        "circles": [
            {
                "circle_id": None if cid == "public" else cid,
                "name": "public" if cid == "public" else circle_names.get(cid),
                **data,
            }
            for cid, data in sorted(
                circles.items(), key=lambda kv: (kv[0] != "public", circle_names.get(kv[0]) or kv[0])
            )
        ],
    }
