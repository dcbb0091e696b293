"""The permission matrix: owner, admin, member, invited-not-accepted, non-member and blocked
user x view, annotate, remix, reshare, invite; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_social_support import EMBEDDER, add_unit, social_vivim
from vivim.app import UserRecord, Vivim
from vivim.domain.errors import NotFound
from vivim.social import circles, feed, relations, remix, sharing
from vivim.social.common import NotPermitted

ROLES = ("owner", "admin", "member", "invited", "non_member", "blocked")
ACTIONS = ("view", "annotate", "remix", "reshare", "invite")
OK, DENIED, HIDDEN = "ok", "denied", "hidden"
# hidden: the reader cannot even see the share (or circle): 404. denied: sees it, may not act: 403.
EXPECTED: dict[str, dict[str, str]] = {
    "owner": dict(view=OK, annotate=OK, remix=OK, reshare=OK, invite=OK),
    "admin": dict(view=OK, annotate=OK, remix=OK, reshare=OK, invite=OK),
    "member": dict(view=OK, annotate=OK, remix=OK, reshare=OK, invite=DENIED),
    "invited": dict(view=HIDDEN, annotate=HIDDEN, remix=HIDDEN, reshare=HIDDEN, invite=DENIED),
    "non_member": dict(view=HIDDEN, annotate=HIDDEN, remix=HIDDEN, reshare=HIDDEN, invite=HIDDEN),
    "blocked": dict(view=HIDDEN, annotate=HIDDEN, remix=HIDDEN, reshare=HIDDEN, invite=HIDDEN),
}


@dataclass
class World:
    v: Vivim
    users: dict[str, UserRecord]
    circle_id: str
    shared_id: str
    own_circles: dict[str, str]


def build_world(v: Vivim, *, can_annotate: bool = True, can_remix: bool = True, can_reshare: bool = True) -> World:
    users = {name: v.create_user(name) for name in ("owner", "admin", "member", "invited", "non_member", "blocked",
                                                      "author", "guest")}
    circle = circles.create_circle(v, users["owner"], "Reading group")["id"]
    inv = circles.invite(v, users["owner"], circle, "admin", role="admin")
    circles.respond(v, users["admin"], inv["id"], accept=True)
    for name in ("member", "author", "blocked"):
        inv = circles.invite(v, users["owner"], circle, name)
        circles.respond(v, users[name], inv["id"], accept=True)
    circles.invite(v, users["owner"], circle, "invited")
    unit = add_unit(v, users["author"], "Tide tables predict water levels from lunar cycles")
    shared = sharing.share_unit(
        v, users["author"], unit,
        sharing.Grant.make(circles=[circle], can_annotate=can_annotate, can_remix=can_remix, can_reshare=can_reshare),
    )
    relations.block(v, users["owner"], "blocked")  # the owner's block removes them from the circle
    own = {name: circles.create_circle(v, users[name], f"{name}'s own")["id"] for name in ROLES}
    return World(v, users, circle, shared["id"], own)


@pytest.fixture
def world(tmp_path: Path, master_url: str) -> Iterator[World]:
    v = social_vivim(tmp_path, master_url)
    try:
        yield build_world(v)
    finally:
        v.close()


def attempt(w: World, role: str, action: str) -> str:
    user = w.users[role]
    do: dict[str, Callable[[], Any]] = {
        "view": lambda: feed.show(w.v, user, w.shared_id),
        "annotate": lambda: feed.annotate(w.v, user, w.shared_id, "a note"),
        "remix": lambda: remix.remix(w.v, user, w.shared_id, embedder=EMBEDDER),
        "reshare": lambda: sharing.reshare(w.v, user, w.shared_id, sharing.Grant.make(circles=[w.own_circles[role]])),
        "invite": lambda: circles.invite(w.v, user, w.circle_id, "guest"),
    }
    try:
        do[action]()
    except NotFound:
        return HIDDEN
    except NotPermitted:
        return DENIED
    return OK


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world: World, role: str, action: str) -> None:
    assert attempt(world, role, action) == EXPECTED[role][action]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"can_annotate": False}, dict(view=OK, annotate=DENIED, remix=OK, reshare=OK)),
        ({"can_remix": False}, dict(view=OK, annotate=OK, remix=DENIED, reshare=OK)),
        ({"can_reshare": False}, dict(view=OK, annotate=OK, remix=OK, reshare=DENIED)),
        ({"can_annotate": False, "can_remix": False, "can_reshare": False},
         dict(view=OK, annotate=DENIED, remix=DENIED, reshare=DENIED)),
    ],
)
def test_a_members_rights_are_the_shares_permissions(
    tmp_path: Path, master_url: str, flags: dict[str, bool], expected: dict[str, str]
) -> None:
    v = social_vivim(tmp_path, master_url)
    try:
        w = build_world(v, **flags)
        assert {a: attempt(w, "member", a) for a in expected} == expected
    finally:
        v.close()


def test_a_block_by_the_sharer_hides_their_shares_inside_a_shared_circle(world: World) -> None:
    member = world.users["member"]
    assert feed.show(world.v, member, world.shared_id)["content"].startswith("Tide tables")
    relations.block(world.v, world.users["author"], "member")
    with pytest.raises(NotFound):
        feed.show(world.v, member, world.shared_id)
    assert feed.feed(world.v, member)["items"] == []
    # ...and the member is still in the circle, which the author does not own.
    assert any(m["handle"] == "member" for m in circles.members(world.v, world.users["owner"], world.circle_id))
