"""Friends (requests pending/accepted/rejected/blocked), follows, blocks, and peer connections.

A block hides the two users from each other everywhere: friendship and follows end, the
blocked user leaves the blocker's circles, and neither sees the other's shares. Whether
someone blocked you is never revealed: they simply cannot be found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, literal, or_, select, union_all
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import AlreadyExists, InvalidInput, NotFound
from vivim.domain.times import utcnow
from vivim.identity.did import InvalidDid, public_key_from_did
from vivim.social.circles import remove_user_from_owned_circles
from vivim.social.common import blocked_ids, bump_generation, handles, is_blocked, iso, other_user
from vivim.store.master.models import (
    Block,
    Follow,
    Friend,
    FriendStatus,
    PeerConnection,
    PeerConnectionStatus,
    User,
)

MAX_TRUST = 100


def _hidden(s: Session, actor: UserRecord, other: UserRecord, name: str) -> None:
    if is_blocked(s, actor.id, other.id):
        raise NotFound(f"no user named {name!r}")


def _pair(s: Session, a: str, b: str) -> Friend | None:
    return s.scalar(
        select(Friend).where(
            or_(
                and_(Friend.requester_id == a, Friend.addressee_id == b),
                and_(Friend.requester_id == b, Friend.addressee_id == a),
            )
        )
    )


def _friend_json(s: Session, f: Friend, actor_id: str) -> dict[str, Any]:
    other_id = f.addressee_id if f.requester_id == actor_id else f.requester_id
    h, did = handles(s, {other_id}).get(other_id, (None, ""))
    return {
        "id": f.id,
        "user": h,
        "did": did,
        "status": f.status.value if hasattr(f.status, "value") else f.status,
        "direction": "outgoing" if f.requester_id == actor_id else "incoming",
        "created_at": iso(f.created_at),
        "updated_at": iso(f.updated_at),
    }


def _peer(s: Session, user_id: str, peer: UserRecord) -> PeerConnection:
    pc = s.scalar(
        select(PeerConnection).where(PeerConnection.user_id == user_id, PeerConnection.peer_did == peer.did)
    )
    if pc is None:
        pc = PeerConnection(user_id=user_id, peer_did=peer.did, peer_user_id=peer.id)
        s.add(pc)
    return pc


def request_friend(v: Vivim, actor: UserRecord, user: str) -> dict[str, Any]:
    """Send a friend request; answering someone's pending request this way accepts it."""
    other = other_user(v, actor, user)
    with v.master.session() as s:
        _hidden(s, actor, other, user)
        f = _pair(s, actor.id, other.id)
        if f is not None and f.status == FriendStatus.ACCEPTED:
            raise AlreadyExists(f"you and {other.handle} are already friends")
        if f is not None and f.status == FriendStatus.PENDING and f.addressee_id == actor.id:
            return _accept(s, f, actor, other)
        if f is not None and f.status == FriendStatus.PENDING:
            raise AlreadyExists(f"you already asked {other.handle}")
        if f is None:
            f = Friend(requester_id=actor.id, addressee_id=other.id)
            s.add(f)
        # A rejected request may be sent again, now from whoever asks.
        f.requester_id, f.addressee_id, f.status = actor.id, other.id, FriendStatus.PENDING
        s.flush()
        return _friend_json(s, f, actor.id)


def _accept(s: Session, f: Friend, actor: UserRecord, other: UserRecord) -> dict[str, Any]:
    f.status = FriendStatus.ACCEPTED
    for owner, peer in ((actor, other), (other, actor)):
        pc = _peer(s, owner.id, peer)
        pc.status = PeerConnectionStatus.ACTIVE
        pc.trust_level = max(pc.trust_level or 0, 1)
    s.flush()
    bump_generation(s)  # friends see each other's public shares in their feeds
    return _friend_json(s, f, actor.id)


def respond_friend(v: Vivim, actor: UserRecord, user: str, *, accept: bool) -> dict[str, Any]:
    """Accept or reject a pending request from ``user`` to the actor."""
    other = other_user(v, actor, user)
    with v.master.session() as s:
        f = _pair(s, actor.id, other.id)
        if f is None or f.status != FriendStatus.PENDING or f.addressee_id != actor.id:
            raise NotFound(f"no pending friend request from {user!r}")
        if accept:
            return _accept(s, f, actor, other)
        f.status = FriendStatus.REJECTED
        s.flush()
        return _friend_json(s, f, actor.id)


def unfriend(v: Vivim, actor: UserRecord, user: str) -> None:
    """End a friendship or withdraw a request."""
    other = other_user(v, actor, user)
    with v.master.session() as s:
        f = _pair(s, actor.id, other.id)
        if f is None or f.status == FriendStatus.BLOCKED:
            raise NotFound(f"you and {user!r} are not friends")
        s.delete(f)
        bump_generation(s)


def list_friends(v: Vivim, actor: UserRecord, *, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in {x.value for x in FriendStatus}:
        raise InvalidInput(f"status is one of {', '.join(x.value for x in FriendStatus)}")
    with v.master.session() as s:
        stmt = select(Friend).where(or_(Friend.requester_id == actor.id, Friend.addressee_id == actor.id))
        if status:
            stmt = stmt.where(Friend.status == FriendStatus(status))
        rows = [f for f in s.scalars(stmt.order_by(Friend.updated_at.desc()))]
        # Only the blocker sees a blocked row; the blocked user never learns of it.
        rows = [f for f in rows if f.status != FriendStatus.BLOCKED or f.requester_id == actor.id]
        return [_friend_json(s, f, actor.id) for f in rows]


def friend_ids(s: Session, user_id: str) -> set[str]:
    rows = s.execute(
        select(Friend.requester_id, Friend.addressee_id).where(
            Friend.status == FriendStatus.ACCEPTED,
            or_(Friend.requester_id == user_id, Friend.addressee_id == user_id),
        )
    ).all()
    return {b if a == user_id else a for a, b in rows}


def following_ids(s: Session, user_id: str) -> set[str]:
    return set(s.scalars(select(Follow.following_id).where(Follow.follower_id == user_id)))


def follow(v: Vivim, actor: UserRecord, user: str) -> dict[str, Any]:
    other = other_user(v, actor, user)
    with v.master.session() as s:
        _hidden(s, actor, other, user)
        if s.scalar(select(Follow.id).where(Follow.follower_id == actor.id, Follow.following_id == other.id)):
            raise AlreadyExists(f"you already follow {other.handle}")
        s.add(Follow(follower_id=actor.id, following_id=other.id))
        bump_generation(s)  # their public shares join the actor's feed
        return {"following": other.handle, "did": other.did}


def unfollow(v: Vivim, actor: UserRecord, user: str) -> None:
    other = other_user(v, actor, user)
    with v.master.session() as s:
        done = s.execute(
            delete(Follow).where(Follow.follower_id == actor.id, Follow.following_id == other.id)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"you do not follow {user!r}")
        bump_generation(s)


def follows(v: Vivim, actor: UserRecord) -> dict[str, list[dict[str, Any]]]:
    """Who the actor follows and who follows them."""
    with v.master.session() as s:
        following = following_ids(s, actor.id)
        followers = set(s.scalars(select(Follow.follower_id).where(Follow.following_id == actor.id)))
        names = handles(s, following | followers)
        return {
            "following": [
                {"user": names[i][0], "did": names[i][1]}
                for i in sorted(following, key=lambda i: names[i][0] or "")
            ],
            "followers": [
                {"user": names[i][0], "did": names[i][1]}
                for i in sorted(followers, key=lambda i: names[i][0] or "")
            ],
        }


def block(v: Vivim, actor: UserRecord, user: str) -> dict[str, Any]:
    other = other_user(v, actor, user)
    with v.master.session() as s:
        if s.scalar(select(Block.id).where(Block.blocker_id == actor.id, Block.blocked_id == other.id)):
            raise AlreadyExists(f"you already blocked {other.handle}")
        s.add(Block(blocker_id=actor.id, blocked_id=other.id))
        s.execute(
            delete(Follow).where(
                or_(
                    and_(Follow.follower_id == actor.id, Follow.following_id == other.id),
                    and_(Follow.follower_id == other.id, Follow.following_id == actor.id),
                )
            )
        )
        f = _pair(s, actor.id, other.id)
        if f is None:
            f = Friend(requester_id=actor.id, addressee_id=other.id)
            s.add(f)
        f.requester_id, f.addressee_id, f.status = actor.id, other.id, FriendStatus.BLOCKED
        pc = _peer(s, actor.id, other)
        pc.status, pc.trust_level = PeerConnectionStatus.BLOCKED, 0
        s.flush()
        remove_user_from_owned_circles(s, actor.id, other.id)
        bump_generation(s)
        return {"blocked": other.handle, "did": other.did}


def unblock(v: Vivim, actor: UserRecord, user: str) -> None:
    other = other_user(v, actor, user)
    with v.master.session() as s:
        done = s.execute(delete(Block).where(Block.blocker_id == actor.id, Block.blocked_id == other.id))
        if not done.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"you have not blocked {user!r}")
        s.execute(
            delete(Friend).where(
                Friend.requester_id == actor.id,
                Friend.addressee_id == other.id,
                Friend.status == FriendStatus.BLOCKED,
            )
        )
        pc = s.scalar(
            select(PeerConnection).where(
                PeerConnection.user_id == actor.id, PeerConnection.peer_did == other.did
            )
        )
        if pc is not None:
            pc.status = PeerConnectionStatus.CLOSED
        bump_generation(s)


def blocks(v: Vivim, actor: UserRecord) -> list[dict[str, Any]]:
    with v.master.session() as s:
        rows = list(
            s.scalars(select(Block).where(Block.blocker_id == actor.id).order_by(Block.created_at.desc()))
        )
        names = handles(s, {b.blocked_id for b in rows})
        return [
            {"user": names[b.blocked_id][0], "did": names[b.blocked_id][1], "created_at": iso(b.created_at)}
            for b in rows
        ]


# -- peer connections --------------------------------------------------------------------------
def _peer_json(pc: PeerConnection) -> dict[str, Any]:
    return {
        "id": pc.id,
        "peer_did": pc.peer_did,
        "peer_user_id": pc.peer_user_id,
        "status": pc.status.value if hasattr(pc.status, "value") else pc.status,
        "trust_level": pc.trust_level,
        "last_seen_at": iso(pc.last_seen_at),
        "updated_at": iso(pc.updated_at),
    }


def connect_peer(
    v: Vivim, actor: UserRecord, peer_did: str, *, trust_level: int | None = None, status: str | None = None
) -> dict[str, Any]:
    """Record (or change) the actor's connection to a peer DID, here or on another node."""
    try:
        public_key_from_did(peer_did)
    except InvalidDid as exc:
        raise InvalidInput(f"{peer_did[:80]!r} is not a did:key: {exc}") from None
    if peer_did == actor.did:
        raise InvalidInput("that is you")
    if trust_level is not None and not 0 <= trust_level <= MAX_TRUST:
        raise InvalidInput(f"trust level is 0 to {MAX_TRUST}")
    if status is not None and status not in {x.value for x in PeerConnectionStatus}:
        raise InvalidInput(f"status is one of {', '.join(x.value for x in PeerConnectionStatus)}")
    with v.master.session() as s:
        pc = s.scalar(
            select(PeerConnection).where(
                PeerConnection.user_id == actor.id, PeerConnection.peer_did == peer_did
            )
        )
        if pc is None:
            local = s.scalar(select(User.id).where(User.did == peer_did))
            pc = PeerConnection(user_id=actor.id, peer_did=peer_did, peer_user_id=local)
            s.add(pc)
        if trust_level is not None:
            pc.trust_level = trust_level
        if status is not None:
            pc.status = PeerConnectionStatus(status)
        pc.last_seen_at = utcnow()
        s.flush()
        return _peer_json(pc)


def peers(v: Vivim, actor: UserRecord) -> list[dict[str, Any]]:
    with v.master.session() as s:
        rows = s.scalars(
            select(PeerConnection)
            .where(PeerConnection.user_id == actor.id)
            .order_by(PeerConnection.trust_level.desc(), PeerConnection.peer_did)
        )
        return [_peer_json(pc) for pc in rows]


def visible_public_sharers(s: Session, user_id: str, hidden: set[str] | None = None) -> set[str]:
    """Whose public shares appear in ``user_id``'s feed: people they follow and their friends."""
    if hidden is None:
        hidden = blocked_ids(s, user_id)
    return (following_ids(s, user_id) | friend_ids(s, user_id)) - hidden


def feed_relations(s: Session, user_id: str) -> tuple[set[str], set[str]]:
    """(hidden, public sharers) for a reader in one round trip: who is blocked either way, and
    whose public shares reach their feed (people they follow and their friends, not hidden)."""
    rows = s.execute(
        union_all(
            select(literal("b"), Block.blocked_id).where(Block.blocker_id == user_id),
            select(literal("b"), Block.blocker_id).where(Block.blocked_id == user_id),
            select(literal("s"), Follow.following_id).where(Follow.follower_id == user_id),
            select(literal("s"), Friend.addressee_id).where(
                Friend.requester_id == user_id, Friend.status == FriendStatus.ACCEPTED
            ),
            select(literal("s"), Friend.requester_id).where(
                Friend.addressee_id == user_id, Friend.status == FriendStatus.ACCEPTED
            ),
        )
    ).all()
    hidden = {r[1] for r in rows if r[0] == "b"}
    return hidden, {r[1] for r in rows if r[0] == "s"} - hidden
