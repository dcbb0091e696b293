"""Circles: create, rename, delete; public ones are discovered and joined, others joined by
accepting an invitation; roles owner/admin/member with the canInvite/canShare flags.

A circle that is not public is invisible (404) to anyone who is neither a member nor
invited to it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import AlreadyExists, InvalidInput, NotFound
from vivim.domain.times import utcnow
from vivim.social import access
from vivim.social.common import NotPermitted, blocked_ids, bump_generation, handles, iso, other_user
from vivim.store.master.models import (
    Circle,
    CircleInvitation,
    CircleMember,
    InvitationStatus,
    SharedUnit,
    SharedUnitCircle,
    SharingPolicy,
)

OWNER, ADMIN, MEMBER = "owner", "admin", "member"
ROLES = (OWNER, ADMIN, MEMBER)
MAX_NAME = 255
MAX_DESCRIPTION = 4000


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"a circle name is 1 to {MAX_NAME} printable characters")
    return name


def _description(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"a circle description is at most {MAX_DESCRIPTION} characters")
    return text


def membership(s: Session, circle_id: str, user_id: str) -> CircleMember | None:
    return s.scalar(
        select(CircleMember).where(CircleMember.circle_id == circle_id, CircleMember.user_id == user_id)
    )


def pending_invitation(s: Session, circle_id: str, user_id: str) -> CircleInvitation | None:
    return s.scalar(
        select(CircleInvitation).where(
            CircleInvitation.circle_id == circle_id,
            CircleInvitation.invitee_id == user_id,
            CircleInvitation.status == InvitationStatus.PENDING,
        )
    )


def visible_circle(s: Session, circle_id: str, user_id: str) -> tuple[Circle, CircleMember | None]:
    """The circle and the user's membership; 404 unless it is public, or they belong or are invited."""
    circle = s.get(Circle, circle_id) if isinstance(circle_id, str) and len(circle_id) <= 36 else None
    if circle is None:
        raise NotFound(f"no circle {str(circle_id)[:40]!r}")
    member = membership(s, circle_id, user_id)
    if member is None:
        hidden = circle.owner_id in blocked_ids(s, user_id)
        if hidden or (not circle.is_public and pending_invitation(s, circle_id, user_id) is None):
            raise NotFound(f"no circle {circle_id[:40]!r}")
    return circle, member


def may_invite(member: CircleMember | None) -> bool:
    return member is not None and (member.role in (OWNER, ADMIN) or member.can_invite)


def may_share(member: CircleMember | None) -> bool:
    return member is not None and (member.role in (OWNER, ADMIN) or member.can_share)


def _circle_json(s: Session, circle: Circle, member: CircleMember | None) -> dict[str, Any]:
    count = s.scalar(
        select(func.count()).select_from(CircleMember).where(CircleMember.circle_id == circle.id)
    )
    owner = handles(s, {circle.owner_id}).get(circle.owner_id, (None, ""))
    return {
        "id": circle.id,
        "name": circle.name,
        "description": circle.description,
        "is_public": circle.is_public,
        "owner": owner[0],
        "owner_did": owner[1],
        "members": int(count or 0),
        "my_role": member.role if member else None,
        "can_invite": may_invite(member),
        "can_share": may_share(member),
        "created_at": iso(circle.created_at),
    }


def create_circle(
    v: Vivim, actor: UserRecord, name: str, *, description: str | None = None, is_public: bool = False
) -> dict[str, Any]:
    with v.master.session() as s:
        circle = Circle(
            owner_id=actor.id, name=_name(name), description=_description(description), is_public=is_public
        )
        s.add(circle)
        s.flush()
        member = CircleMember(
            circle_id=circle.id, user_id=actor.id, role=OWNER, can_invite=True, can_share=True
        )
        s.add(member)
        s.flush()
        return _circle_json(s, circle, member)


def get_circle(v: Vivim, actor: UserRecord, circle_id: str) -> dict[str, Any]:
    with v.master.session() as s:
        circle, member = visible_circle(s, circle_id, actor.id)
        return _circle_json(s, circle, member)


def list_circles(v: Vivim, actor: UserRecord) -> list[dict[str, Any]]:
    """The circles the actor belongs to, by name."""
    with v.master.session() as s:
        rows = s.execute(
            select(Circle, CircleMember)
            .join(CircleMember, CircleMember.circle_id == Circle.id)
            .where(CircleMember.user_id == actor.id)
            .order_by(Circle.name, Circle.id)
        ).all()
        return [_circle_json(s, c, m) for c, m in rows]


def discover_circles(
    v: Vivim, actor: UserRecord, *, query: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Public circles the actor may join (owners who blocked them, or whom they blocked, left out)."""
    with v.master.session() as s:
        stmt = select(Circle).where(Circle.is_public.is_(True))
        hidden = blocked_ids(s, actor.id)
        if hidden:
            stmt = stmt.where(Circle.owner_id.not_in(hidden))
        if query:
            stmt = stmt.where(func.lower(Circle.name).contains(query.lower()[:255], autoescape=True))
        rows = s.scalars(
            stmt.order_by(Circle.created_at.desc(), Circle.id).limit(max(1, min(limit, 200)))
        ).all()
        return [_circle_json(s, c, membership(s, c.id, actor.id)) for c in rows]


def update_circle(
    v: Vivim,
    actor: UserRecord,
    circle_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> dict[str, Any]:
    """Rename or describe (owner or admin); make public or private (owner only)."""
    with v.master.session() as s:
        circle, member = visible_circle(s, circle_id, actor.id)
        if member is None or member.role not in (OWNER, ADMIN):
            raise NotPermitted("only the circle's owner and admins may change it")
        if is_public is not None and member.role != OWNER:
            raise NotPermitted("only the circle's owner may make it public or private")
        if name is not None:
            circle.name = _name(name)
        if description is not None:
            circle.description = _description(description)
        if is_public is not None:
            circle.is_public = is_public
        s.flush()
        return _circle_json(s, circle, member)


def delete_circle(v: Vivim, actor: UserRecord, circle_id: str) -> None:
    """Delete (owner only). Shares granted only to this circle stop being visible at once."""
    with v.master.session() as s:
        circle, member = visible_circle(s, circle_id, actor.id)
        if member is None or member.role != OWNER:
            raise NotPermitted("only the circle's owner may delete it")
        share_ids = list(
            s.scalars(select(SharedUnitCircle.shared_unit_id).where(SharedUnitCircle.circle_id == circle_id))
        )
        s.delete(circle)
        s.flush()
        for su in s.scalars(select(SharedUnit).where(SharedUnit.id.in_(share_ids))) if share_ids else []:
            left = s.scalar(
                select(func.count())
                .select_from(SharedUnitCircle)
                .where(SharedUnitCircle.shared_unit_id == su.id)
            )
            if su.policy == SharingPolicy.CIRCLE and not left:
                s.delete(su)  # shared with nobody any more
            else:
                access.rebuild_share(s, su)
        bump_generation(s)


def members(v: Vivim, actor: UserRecord, circle_id: str) -> list[dict[str, Any]]:
    """Members with roles and flags; only members may list them."""
    with v.master.session() as s:
        _circle, member = visible_circle(s, circle_id, actor.id)
        if member is None:
            raise NotPermitted("only members may list a circle's members")
        rows = list(s.scalars(select(CircleMember).where(CircleMember.circle_id == circle_id)))
        names = handles(s, {m.user_id for m in rows})
        order = {OWNER: 0, ADMIN: 1, MEMBER: 2}
        rows.sort(key=lambda m: (order.get(m.role, 3), names.get(m.user_id, ("", ""))[0] or ""))
        return [
            {
                "user_id": m.user_id,
                "handle": names.get(m.user_id, (None, ""))[0],
                "did": names.get(m.user_id, (None, ""))[1],
                "role": m.role,
                "can_invite": may_invite(m),
                "can_share": may_share(m),
                "joined_at": iso(m.joined_at),
            }
            for m in rows
        ]


def _add_member(
    s: Session, circle_id: str, user_id: str, *, role: str, can_invite: bool, can_share: bool
) -> CircleMember:
    member = CircleMember(
        circle_id=circle_id, user_id=user_id, role=role, can_invite=can_invite, can_share=can_share
    )
    s.add(member)
    s.flush()
    access.member_added(s, circle_id, user_id)
    bump_generation(s)
    return member


def join_circle(v: Vivim, actor: UserRecord, circle_id: str) -> dict[str, Any]:
    """Join a public circle, or accept a pending invitation to any circle."""
    with v.master.session() as s:
        circle, member = visible_circle(s, circle_id, actor.id)
        if member is not None:
            raise AlreadyExists("you are already a member of this circle")
        invitation = pending_invitation(s, circle_id, actor.id)
        if invitation is not None:
            invitation.status = InvitationStatus.ACCEPTED
            invitation.responded_at = utcnow()
            member = _add_member(
                s,
                circle_id,
                actor.id,
                role=invitation.role,
                can_invite=invitation.can_invite,
                can_share=invitation.can_share,
            )
        elif circle.is_public:
            member = _add_member(s, circle_id, actor.id, role=MEMBER, can_invite=False, can_share=True)
        else:  # unreachable: visible_circle hides private circles without an invitation
            raise NotFound(f"no circle {circle_id[:40]!r}")
        return _circle_json(s, circle, member)


def invite(
    v: Vivim,
    actor: UserRecord,
    circle_id: str,
    invitee: str,
    *,
    role: str = MEMBER,
    can_invite: bool = False,
    can_share: bool = True,
) -> dict[str, Any]:
    if role not in (ADMIN, MEMBER):
        raise InvalidInput("an invitation's role is admin or member")
    other = other_user(v, actor, invitee)
    with v.master.session() as s:
        circle, member = visible_circle(s, circle_id, actor.id)
        if not may_invite(member):
            raise NotPermitted("you may not invite people to this circle")
        assert member is not None
        if (role == ADMIN or can_invite) and member.role != OWNER:
            raise NotPermitted("only the owner may invite admins or give the right to invite")
        hidden = blocked_ids(s, other.id)
        if actor.id in hidden or circle.owner_id in hidden:
            raise NotFound(f"no user named {invitee!r}")  # a block is not revealed
        if membership(s, circle_id, other.id) is not None:
            raise AlreadyExists(f"{other.handle} is already a member")
        inv = s.scalar(
            select(CircleInvitation).where(
                CircleInvitation.circle_id == circle_id, CircleInvitation.invitee_id == other.id
            )
        )
        if inv is None:
            inv = CircleInvitation(circle_id=circle_id, invitee_id=other.id)
            s.add(inv)
        inv.inviter_id, inv.role, inv.can_invite, inv.can_share = actor.id, role, can_invite, can_share
        inv.status, inv.created_at, inv.responded_at = InvitationStatus.PENDING, utcnow(), None
        s.flush()
        return _invitation_json(s, inv, circle)


def _invitation_json(s: Session, inv: CircleInvitation, circle: Circle) -> dict[str, Any]:
    names = handles(s, {i for i in (inv.inviter_id, inv.invitee_id) if i})
    return {
        "id": inv.id,
        "circle_id": circle.id,
        "circle_name": circle.name,
        "inviter": names.get(inv.inviter_id or "", (None, ""))[0],
        "invitee": names.get(inv.invitee_id, (None, ""))[0],
        "role": inv.role,
        "can_invite": inv.can_invite,
        "can_share": inv.can_share,
        "status": inv.status.value if hasattr(inv.status, "value") else inv.status,
        "created_at": iso(inv.created_at),
    }


def invitations(v: Vivim, actor: UserRecord) -> list[dict[str, Any]]:
    """Pending invitations addressed to the actor."""
    with v.master.session() as s:
        rows = s.execute(
            select(CircleInvitation, Circle)
            .join(Circle, Circle.id == CircleInvitation.circle_id)
            .where(
                CircleInvitation.invitee_id == actor.id, CircleInvitation.status == InvitationStatus.PENDING
            )
            .order_by(CircleInvitation.created_at.desc())
        ).all()
        return [_invitation_json(s, inv, c) for inv, c in rows]


def respond(v: Vivim, actor: UserRecord, invitation_id: str, *, accept: bool) -> dict[str, Any]:
    """Accept or decline an invitation addressed to the actor (anyone else's is a 404)."""
    with v.master.session() as s:
        inv = s.get(CircleInvitation, invitation_id) if len(invitation_id) <= 36 else None
        if inv is None or inv.invitee_id != actor.id or inv.status != InvitationStatus.PENDING:
            raise NotFound(f"no pending invitation {invitation_id[:40]!r}")
        circle = s.get(Circle, inv.circle_id)
        assert circle is not None
        inv.responded_at = utcnow()
        if accept:
            inv.status = InvitationStatus.ACCEPTED
            if membership(s, circle.id, actor.id) is None:
                _add_member(
                    s, circle.id, actor.id, role=inv.role, can_invite=inv.can_invite, can_share=inv.can_share
                )
        else:
            inv.status = InvitationStatus.DECLINED
        s.flush()
        return _invitation_json(s, inv, circle)


def _remove(s: Session, member: CircleMember) -> None:
    circle_id, user_id = member.circle_id, member.user_id
    s.delete(member)
    s.flush()
    access.member_removed(s, circle_id, user_id)
    bump_generation(s)


def leave_circle(v: Vivim, actor: UserRecord, circle_id: str) -> None:
    with v.master.session() as s:
        _circle, member = visible_circle(s, circle_id, actor.id)
        if member is None:
            raise NotFound(f"you are not a member of circle {circle_id[:40]!r}")
        if member.role == OWNER:
            raise InvalidInput("the owner cannot leave a circle; delete it instead")
        _remove(s, member)


def remove_member(v: Vivim, actor: UserRecord, circle_id: str, user: str) -> None:
    """The owner removes anyone else; an admin removes plain members. Access ends at once."""
    other = other_user(v, actor, user)
    with v.master.session() as s:
        _circle, mine = visible_circle(s, circle_id, actor.id)
        if mine is None or mine.role not in (OWNER, ADMIN):
            raise NotPermitted("only the circle's owner and admins may remove members")
        theirs = membership(s, circle_id, other.id)
        if theirs is None:
            inv = pending_invitation(s, circle_id, other.id)
            if inv is None:
                raise NotFound(f"{other.handle} is not a member of this circle")
            inv.status, inv.responded_at = InvitationStatus.REVOKED, utcnow()
            return
        if theirs.role == OWNER or (theirs.role == ADMIN and mine.role != OWNER):
            raise NotPermitted(f"you may not remove {other.handle} ({theirs.role})")
        _remove(s, theirs)


def set_member(
    v: Vivim,
    actor: UserRecord,
    circle_id: str,
    user: str,
    *,
    role: str | None = None,
    can_invite: bool | None = None,
    can_share: bool | None = None,
) -> dict[str, Any]:
    """Change a member's role or flags (owner only)."""
    other = other_user(v, actor, user)
    if role is not None and role not in (ADMIN, MEMBER):
        raise InvalidInput("a member's role is admin or member (ownership does not move)")
    with v.master.session() as s:
        circle, mine = visible_circle(s, circle_id, actor.id)
        if mine is None or mine.role != OWNER:
            raise NotPermitted("only the circle's owner may change roles")
        theirs = membership(s, circle_id, other.id)
        if theirs is None:
            raise NotFound(f"{other.handle} is not a member of this circle")
        if role is not None:
            theirs.role = role
        if can_invite is not None:
            theirs.can_invite = can_invite
        if can_share is not None:
            theirs.can_share = can_share
        s.flush()
        return {
            "user_id": other.id,
            "handle": other.handle,
            "role": theirs.role,
            "can_invite": may_invite(theirs),
            "can_share": may_share(theirs),
            "circle_id": circle.id,
        }


def remove_user_from_owned_circles(s: Session, owner_id: str, user_id: str) -> None:
    """On a block: the blocked user leaves every circle the blocker owns, pending invitations end."""
    owned = select(Circle.id).where(Circle.owner_id == owner_id)
    for member in list(
        s.scalars(
            select(CircleMember).where(CircleMember.user_id == user_id, CircleMember.circle_id.in_(owned))
        )
    ):
        _remove(s, member)
    s.execute(
        delete(CircleInvitation).where(
            CircleInvitation.invitee_id == user_id,
            CircleInvitation.circle_id.in_(owned),
            CircleInvitation.status == InvitationStatus.PENDING,
        )
    )
