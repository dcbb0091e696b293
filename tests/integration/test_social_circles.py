"""Circles and relations on SQLite and PostgreSQL: lifecycle, roles, invitations, friends,
follows, blocks and peer connections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_social_support import add_unit, social_vivim
from vivim.app import Vivim
from vivim.domain.errors import AlreadyExists, InvalidInput, NotFound
from vivim.social import circles, feed, relations, sharing
from vivim.social.common import NotPermitted


@pytest.fixture
def v(tmp_path: Path, master_url: str) -> Iterator[Vivim]:
    vivim = social_vivim(tmp_path, master_url)
    for name in ("alice", "bob", "carol", "dave"):
        vivim.create_user(name)
    try:
        yield vivim
    finally:
        vivim.close()


def test_create_rename_and_delete_a_circle(v: Vivim) -> None:
    alice, bob = v.get_user("alice"), v.get_user("bob")
    c = circles.create_circle(v, alice, "  Book club ", description="novels")
    assert (c["name"], c["my_role"], c["members"], c["is_public"], c["owner"]) == ("Book club", "owner", 1, False, "alice")
    assert circles.update_circle(v, alice, c["id"], name="Novel club")["name"] == "Novel club"
    with pytest.raises(NotFound):  # a private circle is invisible to outsiders
        circles.get_circle(v, bob, c["id"])
    with pytest.raises(InvalidInput):
        circles.create_circle(v, alice, "   ")
    circles.delete_circle(v, alice, c["id"])
    assert circles.list_circles(v, alice) == []


def test_public_circles_are_discovered_and_joined(v: Vivim) -> None:
    alice, bob = v.get_user("alice"), v.get_user("bob")
    public = circles.create_circle(v, alice, "Open astronomy", is_public=True)
    circles.create_circle(v, alice, "Private astronomy")
    found = circles.discover_circles(v, bob, query="astro")
    assert [c["name"] for c in found] == ["Open astronomy"]
    joined = circles.join_circle(v, bob, public["id"])
    assert (joined["my_role"], joined["members"], joined["can_share"], joined["can_invite"]) == ("member", 2, True, False)
    with pytest.raises(AlreadyExists):
        circles.join_circle(v, bob, public["id"])
    circles.leave_circle(v, bob, public["id"])
    assert circles.list_circles(v, bob) == []
    with pytest.raises(InvalidInput):
        circles.leave_circle(v, alice, public["id"])


def test_invitations_are_accepted_or_declined_by_the_invitee_only(v: Vivim) -> None:
    alice, bob, carol = v.get_user("alice"), v.get_user("bob"), v.get_user("carol")
    c = circles.create_circle(v, alice, "Team")["id"]
    inv = circles.invite(v, alice, c, "bob", can_invite=True)
    assert [i["circle_name"] for i in circles.invitations(v, bob)] == ["Team"]
    with pytest.raises(NotFound):
        circles.respond(v, carol, inv["id"], accept=True)
    assert circles.get_circle(v, bob, c)["my_role"] is None  # visible to the invitee, not a member yet
    assert circles.respond(v, bob, inv["id"], accept=True)["status"] == "accepted"
    inv2 = circles.invite(v, bob, c, "carol")  # bob was given the right to invite
    assert circles.respond(v, carol, inv2["id"], accept=False)["status"] == "declined"
    assert [m["handle"] for m in circles.members(v, alice, c)] == ["alice", "bob"]
    with pytest.raises(AlreadyExists):
        circles.invite(v, alice, c, "bob")
    with pytest.raises(NotPermitted):  # only the owner hands out admin
        circles.invite(v, bob, c, "dave", role="admin")


def test_roles_decide_who_removes_whom(v: Vivim) -> None:
    alice, bob, carol = v.get_user("alice"), v.get_user("bob"), v.get_user("carol")
    c = circles.create_circle(v, alice, "Team")["id"]
    for name, role in (("bob", "admin"), ("carol", "member"), ("dave", "member")):
        inv = circles.invite(v, alice, c, name, role=role)
        circles.respond(v, v.get_user(name), inv["id"], accept=True)
    with pytest.raises(NotPermitted):
        circles.remove_member(v, carol, c, "dave")
    with pytest.raises(NotPermitted):
        circles.remove_member(v, bob, c, "alice")
    circles.remove_member(v, bob, c, "dave")
    changed = circles.set_member(v, alice, c, "carol", role="admin", can_invite=True)
    assert (changed["role"], changed["can_invite"]) == ("admin", True)
    with pytest.raises(NotPermitted):
        circles.remove_member(v, carol, c, "bob")  # an admin cannot remove another admin
    with pytest.raises(NotPermitted):
        circles.set_member(v, bob, c, "carol", role="member")
    assert [(m["handle"], m["role"]) for m in circles.members(v, alice, c)] == [
        ("alice", "owner"), ("bob", "admin"), ("carol", "admin")
    ]


def test_deleting_a_circle_ends_what_was_shared_only_with_it(v: Vivim) -> None:
    alice, bob = v.get_user("alice"), v.get_user("bob")
    c1 = circles.create_circle(v, alice, "One")["id"]
    c2 = circles.create_circle(v, alice, "Two")["id"]
    for c in (c1, c2):
        circles.respond(v, bob, circles.invite(v, alice, c, "bob")["id"], accept=True)
    only = sharing.share_unit(v, alice, add_unit(v, alice, "only in one"), sharing.Grant.make(circles=[c1]))
    both = sharing.share_unit(v, alice, add_unit(v, alice, "in both"), sharing.Grant.make(circles=[c1, c2]))
    circles.delete_circle(v, alice, c1)
    with pytest.raises(NotFound):
        feed.show(v, bob, only["id"])
    assert feed.show(v, bob, both["id"])["circles"] == [c2]
    assert [s["content"] for s in sharing.my_shares(v, alice)] == ["in both"]


def test_sharing_needs_membership_and_can_share(v: Vivim) -> None:
    alice, bob = v.get_user("alice"), v.get_user("bob")
    c = circles.create_circle(v, alice, "Team")["id"]
    unit = add_unit(v, bob, "bob's thought")
    with pytest.raises(NotFound):
        sharing.share_unit(v, bob, unit, sharing.Grant.make(circles=[c]))
    circles.respond(v, bob, circles.invite(v, alice, c, "bob", can_share=False)["id"], accept=True)
    with pytest.raises(NotPermitted):
        sharing.share_unit(v, bob, unit, sharing.Grant.make(circles=[c]))
    circles.set_member(v, alice, c, "bob", can_share=True)
    assert sharing.share_unit(v, bob, unit, sharing.Grant.make(circles=[c]))["circles"] == [c]
    with pytest.raises(NotFound):  # another user's unit is not in bob's vault
        sharing.share_unit(v, alice, unit, sharing.Grant.make(circles=[c]))


def test_friend_requests_follows_blocks_and_peers(v: Vivim) -> None:
    alice, bob, carol = v.get_user("alice"), v.get_user("bob"), v.get_user("carol")
    assert relations.request_friend(v, alice, "bob")["status"] == "pending"
    with pytest.raises(AlreadyExists):
        relations.request_friend(v, alice, "bob")
    [incoming] = relations.list_friends(v, bob)
    assert (incoming["user"], incoming["direction"]) == ("alice", "incoming")
    assert relations.respond_friend(v, bob, "alice", accept=True)["status"] == "accepted"
    [peer] = relations.peers(v, alice)
    assert (peer["peer_did"], peer["status"], peer["trust_level"]) == (bob.did, "active", 1)
    assert relations.connect_peer(v, alice, bob.did, trust_level=80)["trust_level"] == 80
    with pytest.raises(InvalidInput):
        relations.connect_peer(v, alice, "did:web:example.com")
    relations.request_friend(v, carol, "alice")
    assert relations.respond_friend(v, alice, "carol", accept=False)["status"] == "rejected"
    relations.follow(v, carol, "alice")
    assert relations.follows(v, alice)["followers"] == [{"user": "carol", "did": carol.did}]
    relations.unfollow(v, carol, "alice")
    with pytest.raises(NotFound):
        relations.unfollow(v, carol, "alice")
    # alice blocks bob: the friendship turns into a block the blocked user never sees.
    relations.block(v, alice, "bob")
    assert [(f["user"], f["status"]) for f in relations.list_friends(v, alice, status="blocked")] == [("bob", "blocked")]
    assert relations.list_friends(v, bob) == []
    with pytest.raises(NotFound):
        relations.follow(v, bob, "alice")
    with pytest.raises(NotFound):
        relations.request_friend(v, bob, "alice")
    assert relations.peers(v, alice)[0]["status"] == "blocked"
    assert [b["user"] for b in relations.blocks(v, alice)] == ["bob"]
    relations.unblock(v, alice, "bob")
    assert relations.blocks(v, alice) == [] and relations.list_friends(v, alice, status="blocked") == []
    relations.follow(v, bob, "alice")


def test_a_block_removes_the_blocked_user_from_the_blockers_circles(v: Vivim) -> None:
    alice, bob = v.get_user("alice"), v.get_user("bob")
    c = circles.create_circle(v, alice, "Team", is_public=True)["id"]
    circles.join_circle(v, bob, c)
    relations.block(v, alice, "bob")
    assert circles.list_circles(v, bob) == []
    with pytest.raises(NotFound):
        circles.join_circle(v, bob, c)
    assert circles.discover_circles(v, bob) == []
