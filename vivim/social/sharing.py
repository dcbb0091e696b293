"""Publishing units: share, narrow, revoke, reshare.

Sharing copies exactly what the audience may see (the signed unit, its embedding, its
policy) from the sharer's own vault into the master DB; nothing else of the vault leaves
it. Revoking deletes the copy, narrowing rewrites its audience, and both take effect for
the next request because every read goes through the audience table and the policy.
The vault's own sharing columns mirror the policy for the sharer's convenience; the master
DB is what readers are checked against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.times import to_iso, utcnow
from vivim.identity.signing import sign_unit, verify_unit
from vivim.social import access
from vivim.social.circles import may_share, membership
from vivim.social.common import NotPermitted, bump_generation, handles, parse_expiry
from vivim.social.published import share_json
from vivim.social.reciprocity import record_contribution
from vivim.store.master.models import (
    Circle,
    CircleMember,
    SharedUnit,
    SharedUnitAccess,
    SharedUnitCircle,
    SharingPolicy,
    User,
)

MAX_CIRCLES_PER_SHARE = 100


@dataclass(frozen=True)
class Grant:
    """What a share allows: its audience (circles or public), permissions and expiry."""

    circles: tuple[str, ...] = ()
    public: bool = False
    can_annotate: bool = False
    can_remix: bool = False
    can_reshare: bool = False
    expires_at: datetime | None = None

    @classmethod
    def make(
        cls,
        *,
        circles: list[str] | tuple[str, ...] = (),
        public: bool = False,
        can_annotate: bool = False,
        can_remix: bool = False,
        can_reshare: bool = False,
        expires: str | datetime | None = None,
    ) -> Grant:
        unique = tuple(dict.fromkeys(c.strip() for c in circles if c and c.strip()))
        if not public and not unique:
            raise InvalidInput("share with at least one circle, or publicly (--public)")
        if len(unique) > MAX_CIRCLES_PER_SHARE:
            raise InvalidInput(f"a unit can be shared with at most {MAX_CIRCLES_PER_SHARE} circles at once")
        return cls(unique, public, can_annotate, can_remix, can_reshare, parse_expiry(expires))


def _own_unit(v: Vivim, actor: UserRecord, unit_id: str) -> dict[str, Any]:
    """The unit from the actor's own vault, signed (units written before signing get signed now)."""
    store = v.store(actor)
    with store.read() as conn:
        cur = conn.execute(
            "SELECT id, author_did, content, content_hash, type, category, conversation_id, message_id, created_at,"
            " signature, language, tags, embedding, embedding_model, embedding_dim FROM atomic_chat_units WHERE id = ?",
            (unit_id,),
        )
        row = cur.fetchone()
        cols = [c[0] for c in cur.description]
    if row is None:
        raise NotFound(f"no unit {unit_id[:40]!r}")
    unit = dict(zip(cols, row, strict=True))
    if unit["author_did"] != actor.did:
        raise InvalidInput("this unit was written by someone else; reshare it from `vivim shared` instead")
    if unit["signature"] is None:
        unit["signature"] = sign_unit(v.keypair(actor), unit)
        with store.transaction() as conn:
            conn.execute(
                "UPDATE atomic_chat_units SET signature = ? WHERE id = ?", (unit["signature"], unit_id)
            )
    valid, reason = verify_unit(unit, unit["signature"])
    if not valid:
        raise InvalidInput(f"unit {unit_id} does not verify ({reason}); it will not be published")
    return unit


def _mirror(
    v: Vivim, actor: UserRecord, unit_id: str, policy: str, circles: list[str], grant: Grant | None
) -> None:
    """Record the policy on the unit in the sharer's own vault (the only vault a request opens)."""
    with v.store(actor).transaction() as conn:
        conn.execute(
            "UPDATE atomic_chat_units SET sharing_policy = ?, sharing_circles = ?, can_view = 1, can_annotate = ?,"
            " can_remix = ?, can_reshare = ?, expires_at = ?, share_count = share_count + ? WHERE id = ?",
            (
                policy,
                json.dumps(circles),
                int(bool(grant and grant.can_annotate)),
                int(bool(grant and grant.can_remix)),
                int(bool(grant and grant.can_reshare)),
                to_iso(grant.expires_at) if grant else None,
                1 if grant else 0,
                unit_id,
            ),
        )


def _check_circles(s: Session, actor_id: str, circles: tuple[str, ...]) -> None:
    for circle_id in circles:
        circle = s.get(Circle, circle_id) if len(circle_id) <= 36 else None
        member = membership(s, circle_id, actor_id) if circle is not None else None
        if member is None:
            raise NotFound(f"no circle {circle_id[:40]!r} of yours")
        if not may_share(member):
            raise NotPermitted(
                f"you may not share with circle {circle.name!r}" if circle else "not permitted"
            )


def _apply(
    s: Session, su: SharedUnit, grant: Grant, sharer: UserRecord, *, kind: str, was_public: bool
) -> None:
    """Set a share's policy and circles, rebuild its audience, clamp reshares, record giving."""
    before = set(
        s.scalars(select(SharedUnitCircle.circle_id).where(SharedUnitCircle.shared_unit_id == su.id))
    )
    su.policy = SharingPolicy.PUBLIC if grant.public else SharingPolicy.CIRCLE
    su.can_view = True
    su.can_annotate, su.can_remix, su.can_reshare = grant.can_annotate, grant.can_remix, grant.can_reshare
    su.expires_at = grant.expires_at
    su.updated_at = utcnow()
    s.flush()
    wanted = set() if grant.public else set(grant.circles)
    for circle_id in before - wanted:
        grant_row = s.get(SharedUnitCircle, (su.id, circle_id))
        if grant_row is not None:
            s.delete(grant_row)
    for circle_id in wanted - before:
        s.add(SharedUnitCircle(shared_unit_id=su.id, circle_id=circle_id, published_at=su.published_at))
    access.rebuild_share(s, su)
    clamp_reshares(s, su)
    # Giving is recorded for each new audience: a circle newly granted, or going public.
    for circle_id in sorted(wanted - before):
        dids = list(
            s.scalars(
                select(User.did)
                .join(CircleMember, CircleMember.user_id == User.id)
                .where(CircleMember.circle_id == circle_id, User.id != sharer.id)
                .order_by(User.did)
            )
        )
        record_contribution(
            s, sharer_did=sharer.did, su=su, circle_id=circle_id, recipient_dids=dids, kind=kind
        )
    if grant.public and not was_public:
        record_contribution(s, sharer_did=sharer.did, su=su, circle_id=None, recipient_dids=[], kind=kind)
    bump_generation(s)


def clamp_reshares(s: Session, parent: SharedUnit) -> None:
    """A reshare never allows more than the share it came from: narrowing the parent narrows
    every reshare below it, and taking away canReshare (or publicity) revokes them."""
    for child in list(s.scalars(select(SharedUnit).where(SharedUnit.reshared_from_id == parent.id))):
        if not parent.can_reshare or (
            child.policy == SharingPolicy.PUBLIC and parent.policy != SharingPolicy.PUBLIC
        ):
            s.delete(child)
            continue
        child.can_annotate = child.can_annotate and parent.can_annotate
        child.can_remix = child.can_remix and parent.can_remix
        child.can_reshare = child.can_reshare and parent.can_reshare
        if parent.expires_at is not None and (
            child.expires_at is None or child.expires_at > parent.expires_at
        ):
            child.expires_at = parent.expires_at
        s.flush()
        access.rebuild_share(s, child)
        clamp_reshares(s, child)
    s.flush()


def share_unit(v: Vivim, actor: UserRecord, unit_id: str, grant: Grant) -> dict[str, Any]:
    """Share one of the actor's own units; sharing it again replaces the policy (narrow or widen)."""
    unit = _own_unit(v, actor, unit_id)
    now = utcnow()
    with v.master.session() as s:
        _check_circles(s, actor.id, () if grant.public else grant.circles)
        su = s.scalar(
            select(SharedUnit).where(SharedUnit.sharer_id == actor.id, SharedUnit.unit_id == unit_id)
        )
        was_public = su is not None and su.policy == SharingPolicy.PUBLIC
        if su is None:
            su = SharedUnit(
                unit_id=unit_id,
                sharer_id=actor.id,
                author_id=actor.id,
                policy=SharingPolicy.PUBLIC if grant.public else SharingPolicy.CIRCLE,
                published_at=now,
            )
            s.add(su)
        su.author_did = unit["author_did"]
        su.content, su.content_hash = unit["content"], unit["content_hash"]
        su.type, su.category = unit["type"], unit["category"]
        su.conversation_id, su.message_id = unit["conversation_id"], unit["message_id"]
        su.unit_created_at, su.signature = unit["created_at"], unit["signature"]
        su.language = unit["language"]
        su.tags = json.loads(unit["tags"] or "[]")
        su.embedding, su.embedding_model, su.embedding_dim = (
            unit["embedding"],
            unit["embedding_model"],
            unit["embedding_dim"],
        )
        s.flush()
        _apply(s, su, grant, actor, kind="share", was_public=was_public)
        result = share_json(
            s,
            su,
            perms=access.Permissions(True, True, True, True, True),
            names=handles(s, {actor.id}),
            now=now,
            viewer_id=actor.id,
        )
    _mirror(v, actor, unit_id, result["policy"], result["circles"], grant)
    return result


def unshare_unit(
    v: Vivim, actor: UserRecord, unit_id: str, *, circles: list[str] | None = None
) -> dict[str, Any]:
    """Revoke a share (or a reshare) of ``unit_id`` by the actor: everywhere, or from some circles.

    Reshares made from it go with it. Returns what remains shared (``policy: self`` if nothing).
    """
    with v.master.session() as s:
        su = s.scalar(
            select(SharedUnit).where(SharedUnit.sharer_id == actor.id, SharedUnit.unit_id == unit_id)
        )
        if su is None:
            raise NotFound(f"unit {unit_id[:40]!r} is not shared by you")
        remaining: list[str] = []
        if circles:
            for circle_id in circles:
                row = s.get(SharedUnitCircle, (su.id, circle_id))
                if row is None:
                    raise NotFound(f"unit {unit_id[:40]!r} is not shared with circle {circle_id[:40]!r}")
                s.delete(row)
            s.flush()
            remaining = sorted(
                s.scalars(select(SharedUnitCircle.circle_id).where(SharedUnitCircle.shared_unit_id == su.id))
            )
        if remaining:
            access.rebuild_share(s, su)
            policy = "circle"
        else:
            s.delete(su)
            policy = "self"
        bump_generation(s)
        is_author = su.author_id == actor.id
    if is_author:
        with v.store(actor).read() as conn:
            mine = conn.execute("SELECT 1 FROM atomic_chat_units WHERE id = ?", (unit_id,)).fetchone()
        if mine and policy == "self":
            _mirror(v, actor, unit_id, policy, remaining, None)
        elif mine:
            _mirror_circles(v, actor, unit_id, remaining)
    return {"unit_id": unit_id, "policy": policy, "circles": remaining}


def _mirror_circles(v: Vivim, actor: UserRecord, unit_id: str, circles: list[str]) -> None:
    with v.store(actor).transaction() as conn:
        conn.execute(
            "UPDATE atomic_chat_units SET sharing_circles = ? WHERE id = ?", (json.dumps(circles), unit_id)
        )


def reshare(v: Vivim, actor: UserRecord, shared_id: str, grant: Grant) -> dict[str, Any]:
    """Share a unit someone shared with the actor onward (only with canReshare). The reshare
    can allow no more than the share it came from, and lives only as long as it does."""
    now = utcnow()
    with v.master.session() as s:
        source = s.get(SharedUnit, shared_id) if len(shared_id) <= 36 else None
        perms = access.permissions(s, source, actor.id, now) if source is not None else None
        if source is None or perms is None:
            raise NotFound(f"no shared unit {shared_id[:40]!r}")
        if perms.is_sharer:
            raise InvalidInput("this is your own share; change it with `vivim share` instead")
        if not perms.reshare:
            raise NotPermitted("this share does not allow resharing")
        if grant.public and source.policy != SharingPolicy.PUBLIC:
            raise NotPermitted("a unit shared with circles cannot be reshared publicly")
        _check_circles(s, actor.id, () if grant.public else grant.circles)
        expires = grant.expires_at
        if source.expires_at is not None and (expires is None or expires > source.expires_at):
            expires = source.expires_at
        clamped = Grant(
            circles=grant.circles,
            public=grant.public,
            can_annotate=grant.can_annotate and source.can_annotate,
            can_remix=grant.can_remix and source.can_remix,
            can_reshare=grant.can_reshare and source.can_reshare,
            expires_at=expires,
        )
        su = s.scalar(
            select(SharedUnit).where(SharedUnit.sharer_id == actor.id, SharedUnit.unit_id == source.unit_id)
        )
        was_public = su is not None and su.policy == SharingPolicy.PUBLIC
        if su is None:
            su = SharedUnit(
                unit_id=source.unit_id, sharer_id=actor.id, policy=SharingPolicy.CIRCLE, published_at=now
            )
            s.add(su)
        su.reshared_from_id = source.id
        for field in (
            "author_id",
            "author_did",
            "content",
            "content_hash",
            "type",
            "category",
            "conversation_id",
            "message_id",
            "unit_created_at",
            "signature",
            "language",
            "tags",
            "embedding",
            "embedding_model",
            "embedding_dim",
        ):
            setattr(su, field, getattr(source, field))
        s.flush()
        _apply(s, su, clamped, actor, kind="reshare", was_public=was_public)
        names = handles(s, {actor.id, *([source.author_id] if source.author_id else [])})
        return share_json(
            s,
            su,
            perms=access.Permissions(True, True, True, True, True),
            names=names,
            now=now,
            viewer_id=actor.id,
        )


def my_shares(v: Vivim, actor: UserRecord, *, limit: int = 200) -> list[dict[str, Any]]:
    """Everything the actor has shared or reshared, newest first, with its audience size."""
    now = utcnow()
    with v.master.session() as s:
        rows = list(
            s.scalars(
                select(SharedUnit)
                .where(SharedUnit.sharer_id == actor.id)
                .order_by(SharedUnit.published_at.desc(), SharedUnit.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
        )
        names = handles(s, {actor.id} | {r.author_id for r in rows if r.author_id})
        out = []
        for su in rows:
            item = share_json(
                s,
                su,
                perms=access.Permissions(True, True, True, True, True),
                names=names,
                now=now,
                viewer_id=actor.id,
            )
            item["audience"] = int(
                s.scalar(
                    select(func.count())
                    .select_from(SharedUnitAccess)
                    .where(SharedUnitAccess.shared_unit_id == su.id)
                )
                or 0
            )
            out.append(item)
        return out
