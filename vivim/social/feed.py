"""Reading what is shared with me: the feed (newest, by circle, by author), one share with
its annotations (recorded as a consumption), and annotating.

The feed is two index ranges merged: circle shares from the reader's materialised audience
rows, and public shares of the people they follow or are friends with. Expiry and blocks
are applied in the query, at read time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.times import utcnow
from vivim.social import access
from vivim.social.circles import visible_circle
from vivim.social.common import NotPermitted, blocked_ids, handles, iso, other_user
from vivim.social.published import share_json, visible_circles
from vivim.social.reciprocity import record_consumption
from vivim.social.relations import feed_relations
from vivim.store.master.models import (
    Annotation,
    SharedUnit,
    SharedUnitAccess,
    SharedUnitCircle,
    SharingPolicy,
    User,
)

MAX_PAGE = 200
_ITEM_COLUMNS = [c for c in SharedUnit.__table__.c if c.name != "embedding"]
MAX_ANNOTATION = 10_000
Cursor = tuple[datetime, str]


def _not_expired(col: Any, now: datetime) -> Any:
    return or_(col.is_(None), col > now)


def _before(ts_col: Any, id_col: Any, before: Cursor | None) -> Any:
    if before is None:
        return True
    when, last_id = before
    return or_(ts_col < when, and_(ts_col == when, id_col < last_id))


def _circle_page(
    s: Session,
    user_id: str,
    now: datetime,
    limit: int,
    before: Cursor | None,
    hidden: set[str],
    sharer: str | None,
) -> list[tuple[datetime, str]]:
    a = SharedUnitAccess
    stmt = select(a.published_at, a.shared_unit_id).where(
        a.recipient_id == user_id,
        _not_expired(a.expires_at, now),
        _before(a.published_at, a.shared_unit_id, before),
    )
    if sharer is not None:
        stmt = stmt.where(a.sharer_id == sharer)
    if hidden:
        stmt = stmt.where(a.sharer_id.not_in(hidden))
    return [
        tuple(r)
        for r in s.execute(stmt.order_by(a.published_at.desc(), a.shared_unit_id.desc()).limit(limit))
    ]  # type: ignore[misc]


def _public_page(
    s: Session, sharers: set[str], now: datetime, limit: int, before: Cursor | None
) -> list[tuple[datetime, str]]:
    if not sharers:
        return []
    su = SharedUnit
    stmt = (
        select(su.published_at, su.id)
        .where(
            su.sharer_id.in_(sharers),
            su.policy == SharingPolicy.PUBLIC,
            su.can_view.is_(True),
            _not_expired(su.expires_at, now),
            _before(su.published_at, su.id, before),
        )
        .order_by(su.published_at.desc(), su.id.desc())
        .limit(limit)
    )
    return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]


def _in_circle_page(
    s: Session,
    user_id: str,
    circle_id: str,
    now: datetime,
    limit: int,
    before: Cursor | None,
    hidden: set[str],
) -> list[tuple[datetime, str]]:
    g, a = SharedUnitCircle, SharedUnitAccess
    stmt = (
        select(g.published_at, g.shared_unit_id)
        .join(a, and_(a.shared_unit_id == g.shared_unit_id, a.recipient_id == user_id))
        .where(
            g.circle_id == circle_id,
            _not_expired(a.expires_at, now),
            _before(g.published_at, g.shared_unit_id, before),
        )
    )
    if hidden:
        stmt = stmt.where(a.sharer_id.not_in(hidden))
    return [
        tuple(r)
        for r in s.execute(stmt.order_by(g.published_at.desc(), g.shared_unit_id.desc()).limit(limit))
    ]  # type: ignore[misc]


def feed(
    v: Vivim,
    actor: UserRecord,
    *,
    circle_id: str | None = None,
    author: str | None = None,
    limit: int = 50,
    before: Cursor | None = None,
) -> dict[str, Any]:
    """Units shared with the actor, newest first. ``before`` continues after the last item seen
    (its ``published_at`` and ``id``, given back as ``next``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    if circle_id and author:
        raise InvalidInput("filter by circle or by author, not both")
    author_user = other_user(v, actor, author) if author else None
    now = utcnow()
    with v.master.session() as s:
        hidden, sharers = feed_relations(s, actor.id)
        if circle_id:
            _circle, member = visible_circle(s, circle_id, actor.id)
            if member is None:
                raise NotFound(f"you are not a member of circle {circle_id[:40]!r}")
            keys = _in_circle_page(s, actor.id, circle_id, now, limit + 1, before, hidden)
        elif author_user is not None:
            if author_user.id in hidden:
                raise NotFound(f"no user named {author!r}")
            keys = _circle_page(s, actor.id, now, limit + 1, before, hidden, author_user.id)
            keys += _public_page(s, {author_user.id}, now, limit + 1, before)
        else:
            keys = _circle_page(s, actor.id, now, limit + 1, before, hidden, None)
            keys += _public_page(s, sharers, now, limit + 1, before)
        keys = sorted(set(keys), key=lambda k: (k[0], k[1]), reverse=True)
        more = len(keys) > limit
        keys = keys[:limit]
        items = _items(s, actor.id, [k[1] for k in keys], now, hidden)
        last = keys[-1] if more and keys else None
        return {"items": items, "next": {"published_at": iso(last[0]), "id": last[1]} if last else None}


def _items(s: Session, user_id: str, ids: list[str], now: datetime, hidden: set[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    # Plain rows (not ORM objects), without the vector (the largest column, never shown), with
    # the sharer's and author's names joined in: one round trip.
    sharer, author = aliased(User), aliased(User)
    found = s.execute(
        select(*_ITEM_COLUMNS, sharer.handle, sharer.did, author.handle)
        .join(sharer, sharer.id == SharedUnit.sharer_id)
        .outerjoin(author, author.id == SharedUnit.author_id)
        .where(SharedUnit.id.in_(ids))
    ).all()
    rows = {r.id: r for r in found}
    names: dict[str, tuple[str | None, str]] = {}
    for r in found:
        names[r.sharer_id] = (r[-3], r[-2])
        if r.author_id:
            names[r.author_id] = (r[-1], r.author_did)
    circles = visible_circles(s, ids, user_id, sharer=False)
    out = []
    for sid in ids:
        su = rows.get(sid)
        if su is None or (su.author_id and su.author_id in hidden):
            continue
        perms = access.Permissions(
            True, su.can_annotate, su.can_remix, su.can_reshare, su.sharer_id == user_id
        )
        out.append(
            share_json(
                s, su, perms=perms, names=names, now=now, viewer_id=user_id, circles=circles.get(sid, [])
            )
        )
    return out


def visible_share(
    s: Session, shared_id: str, user_id: str, now: datetime
) -> tuple[SharedUnit, access.Permissions]:
    su = s.get(SharedUnit, shared_id) if isinstance(shared_id, str) and len(shared_id) <= 36 else None
    perms = access.permissions(s, su, user_id, now) if su is not None else None
    if su is None or perms is None:
        raise NotFound(f"no shared unit {str(shared_id)[:40]!r}")
    return su, perms


def show(v: Vivim, actor: UserRecord, shared_id: str) -> dict[str, Any]:
    """One share with its annotations; opening it counts as taking (a consumption)."""
    now = utcnow()
    with v.master.session() as s:
        su, perms = visible_share(s, shared_id, actor.id, now)
        names = handles(s, {su.sharer_id} | ({su.author_id} if su.author_id else set()))
        item = share_json(s, su, perms=perms, names=names, now=now, viewer_id=actor.id)
        item["annotations"] = _annotations(s, su.id, blocked_ids(s, actor.id))
        record_consumption(s, consumer=actor, su=su, kind="view")
        return item


def _annotations(s: Session, shared_id: str, hidden: set[str]) -> list[dict[str, Any]]:
    rows = [
        a
        for a in s.scalars(
            select(Annotation)
            .where(Annotation.shared_unit_id == shared_id)
            .order_by(Annotation.created_at, Annotation.id)
        )
        if a.author_id not in hidden
    ]
    names = handles(s, {a.author_id for a in rows})
    return [
        {
            "id": a.id,
            "author": names.get(a.author_id, (None, ""))[0],
            "author_did": names.get(a.author_id, (None, ""))[1],
            "body": a.body,
            "created_at": iso(a.created_at),
        }
        for a in rows
    ]


def annotate(v: Vivim, actor: UserRecord, shared_id: str, body: str) -> dict[str, Any]:
    """Attach a note to a share (needs canAnnotate); its whole audience sees it."""
    text = (body or "").strip()
    if not text or len(text) > MAX_ANNOTATION:
        raise InvalidInput(f"an annotation is 1 to {MAX_ANNOTATION} characters")
    with v.master.session() as s:
        su, perms = visible_share(s, shared_id, actor.id, utcnow())
        if not perms.annotate:
            raise NotPermitted("this share does not allow annotations")
        note = Annotation(shared_unit_id=su.id, author_id=actor.id, body=text)
        s.add(note)
        s.flush()
        return {
            "id": note.id,
            "shared_unit_id": su.id,
            "author": actor.handle,
            "author_did": actor.did,
            "body": text,
            "created_at": iso(note.created_at),
        }


def annotations(v: Vivim, actor: UserRecord, shared_id: str) -> list[dict[str, Any]]:
    with v.master.session() as s:
        su, _perms = visible_share(s, shared_id, actor.id, utcnow())
        return _annotations(s, su.id, blocked_ids(s, actor.id))


def delete_annotation(v: Vivim, actor: UserRecord, shared_id: str, annotation_id: str) -> None:
    """Its author, or the sharer, may remove an annotation."""
    with v.master.session() as s:
        su, perms = visible_share(s, shared_id, actor.id, utcnow())
        note = s.get(Annotation, annotation_id) if len(annotation_id) <= 36 else None
        if note is None or note.shared_unit_id != su.id:
            raise NotFound(f"no annotation {annotation_id[:40]!r}")
        if note.author_id != actor.id and not perms.is_sharer:
            raise NotPermitted("only its author or the sharer may remove an annotation")
        s.delete(note)
