"""Sharing on real master DBs (SQLite and PostgreSQL): revoke, expiry, removal, tampering,
narrowing, reshares, the feed, shared search, remix and reciprocity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.test_social_support import EMBEDDER, add_unit, social_vivim
from vivim.app import UserRecord, Vivim
from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.times import utcnow
from vivim.identity.signing import verify_unit
from vivim.social import circles, feed, reciprocity, relations, remix, sharing
from vivim.social.common import NotPermitted
from vivim.social.shared_search import search_shared
from vivim.store.user import units as unit_store


class Env:
    def __init__(self, v: Vivim) -> None:
        self.v = v
        self.alice = v.create_user("alice")
        self.bob = v.create_user("bob")
        self.carol = v.create_user("carol")
        self.circle = circles.create_circle(v, self.alice, "Friends")["id"]
        for user in (self.bob, self.carol):
            inv = circles.invite(v, self.alice, self.circle, user.handle or "")
            circles.respond(v, user, inv["id"], accept=True)

    def share(self, user: UserRecord, content: str, **grant: Any) -> dict[str, Any]:
        unit = add_unit(self.v, user, content)
        grant.setdefault("circles", [self.circle])
        return sharing.share_unit(self.v, user, unit, sharing.Grant.make(**grant))


@pytest.fixture
def env(tmp_path: Path, master_url: str) -> Iterator[Env]:
    v = social_vivim(tmp_path, master_url)
    try:
        yield Env(v)
    finally:
        v.close()


def feed_contents(v: Vivim, user: UserRecord, **kw: Any) -> list[str]:
    return [i["content"] for i in feed.feed(v, user, **kw)["items"]]


def search_contents(v: Vivim, user: UserRecord, q: str) -> list[str]:
    return [h["content"] for h in search_shared(v, user, q, embedder=EMBEDDER)["hits"]]


def test_a_shared_unit_reaches_the_circle_verified_and_nobody_else(env: Env) -> None:
    dave = env.v.create_user("dave")
    shared = env.share(env.alice, "Sourdough needs a ripe starter", can_remix=True)
    [item] = feed.feed(env.v, env.bob)["items"]
    assert item["id"] == shared["id"]
    assert item["content"] == "Sourdough needs a ripe starter"
    assert item["verification"] == {"valid": True, "reason": "valid", "tampered": False}
    assert item["author"] == "alice" and item["sharer"] == "alice" and item["author_did"] == env.alice.did
    assert item["circles"] == [env.circle]
    assert item["permissions"] == {"view": True, "annotate": False, "remix": True, "reshare": False}
    assert feed_contents(env.v, env.alice) == []  # your own shares are not "shared with me"
    assert feed_contents(env.v, dave) == []
    with pytest.raises(NotFound):
        feed.show(env.v, dave, shared["id"])
    # The author's vault mirrors the policy.
    with env.v.store(env.alice).read() as conn:
        row = conn.execute(
            "SELECT sharing_policy, sharing_circles, can_remix, share_count FROM atomic_chat_units WHERE id = ?",
            (shared["unit_id"],),
        ).fetchone()
    assert (row[0], json.loads(row[1]), row[2], row[3]) == ("circle", [env.circle], 1, 1)


def test_revoking_takes_effect_on_the_next_request(env: Env) -> None:
    shared = env.share(env.alice, "Quarterly plan draft mentions otters")
    assert feed.show(env.v, env.bob, shared["id"])["content"].startswith("Quarterly")
    assert search_contents(env.v, env.bob, "otters") == ["Quarterly plan draft mentions otters"]
    result = sharing.unshare_unit(env.v, env.alice, shared["unit_id"])
    assert result == {"unit_id": shared["unit_id"], "policy": "self", "circles": []}
    with pytest.raises(NotFound):
        feed.show(env.v, env.bob, shared["id"])
    assert feed_contents(env.v, env.bob) == []
    assert search_contents(env.v, env.bob, "otters") == []
    with env.v.master.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM shared_units")).scalar_one() == 0
        assert c.execute(text("SELECT COUNT(*) FROM shared_unit_access")).scalar_one() == 0


def test_expiry_is_checked_at_read_time(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = env.share(env.alice, "Conference discount code for volcanoes", expires="1h")
    assert feed_contents(env.v, env.bob) == ["Conference discount code for volcanoes"]
    assert search_contents(env.v, env.bob, "volcanoes") == ["Conference discount code for volcanoes"]
    later = utcnow() + timedelta(hours=2)
    import vivim.social.access as access_mod
    import vivim.social.feed as feed_mod
    import vivim.social.shared_search as search_mod

    for mod in (access_mod, feed_mod, search_mod):
        if hasattr(mod, "utcnow"):
            monkeypatch.setattr(mod, "utcnow", lambda: later)
    assert feed_contents(env.v, env.bob) == []
    assert search_contents(env.v, env.bob, "volcanoes") == []
    with pytest.raises(NotFound):
        feed.show(env.v, env.bob, shared["id"])
    # The sharer still sees their own (expired) share.
    assert feed.show(env.v, env.alice, shared["id"])["expired"] is True


def test_a_member_removed_from_a_circle_loses_access(env: Env) -> None:
    shared = env.share(env.alice, "Garden layout with tomatoes")
    assert search_contents(env.v, env.carol, "tomatoes") == ["Garden layout with tomatoes"]
    circles.remove_member(env.v, env.alice, env.circle, "carol")
    with pytest.raises(NotFound):
        feed.show(env.v, env.carol, shared["id"])
    assert feed_contents(env.v, env.carol) == []
    assert search_contents(env.v, env.carol, "tomatoes") == []
    assert feed_contents(env.v, env.bob) == ["Garden layout with tomatoes"]


def test_leaving_keeps_shares_another_circle_still_grants(env: Env) -> None:
    second = circles.create_circle(env.v, env.alice, "Work")["id"]
    inv = circles.invite(env.v, env.alice, second, "bob")
    circles.respond(env.v, env.bob, inv["id"], accept=True)
    both = env.share(env.alice, "Shared with two circles", circles=[env.circle, second])
    only_first = env.share(env.alice, "Only the first circle")
    circles.leave_circle(env.v, env.bob, env.circle)
    assert feed_contents(env.v, env.bob) == ["Shared with two circles"]
    assert feed.show(env.v, env.bob, both["id"])["circles"] == [second]
    with pytest.raises(NotFound):
        feed.show(env.v, env.bob, only_first["id"])


def test_a_new_member_sees_what_was_shared_before_they_joined(env: Env) -> None:
    env.share(env.alice, "Older knowledge about kites")
    erin = env.v.create_user("erin")
    assert feed_contents(env.v, erin) == []
    inv = circles.invite(env.v, env.alice, env.circle, "erin")
    assert feed_contents(env.v, erin) == []  # invited, not yet accepted
    circles.respond(env.v, erin, inv["id"], accept=True)
    assert feed_contents(env.v, erin) == ["Older knowledge about kites"]


def test_narrowing_a_share_removes_access_at_once(env: Env) -> None:
    second = circles.create_circle(env.v, env.alice, "Work")["id"]
    inv = circles.invite(env.v, env.alice, second, "carol")
    circles.respond(env.v, env.carol, inv["id"], accept=True)
    circles.leave_circle(env.v, env.carol, env.circle)
    shared = env.share(env.alice, "Narrowed later", circles=[env.circle, second], can_remix=True)
    assert feed_contents(env.v, env.carol) == ["Narrowed later"]
    again = sharing.share_unit(env.v, env.alice, shared["unit_id"], sharing.Grant.make(circles=[env.circle]))
    assert again["id"] == shared["id"] and again["circles"] == [env.circle]
    assert feed_contents(env.v, env.carol) == []
    with pytest.raises(NotPermitted):
        remix.remix(env.v, env.bob, shared["id"])


def test_a_tampered_published_unit_is_flagged_on_read_and_not_copied(env: Env) -> None:
    shared = env.share(env.alice, "The original, signed words", can_remix=True)
    with env.v.master.connect() as c:
        c.execute(text("UPDATE shared_units SET content = 'words the author never signed' WHERE id = :i"),
                  {"i": shared["id"]})
    item = feed.show(env.v, env.bob, shared["id"])
    assert item["content"] == "words the author never signed"
    assert item["verification"]["valid"] is False and item["verification"]["tampered"] is True
    assert "does not match" in item["verification"]["reason"]
    assert feed.feed(env.v, env.bob)["items"][0]["verification"]["tampered"] is True
    with pytest.raises(InvalidInput, match="does not verify"):
        remix.remix(env.v, env.bob, shared["id"])


def test_a_vault_unit_changed_after_signing_is_not_published(env: Env) -> None:
    unit = add_unit(env.v, env.alice, "Signed then edited")
    with env.v.store(env.alice).transaction() as conn:
        conn.execute("UPDATE atomic_chat_units SET content = 'edited' WHERE id = ?", (unit,))
    with pytest.raises(InvalidInput, match="does not verify"):
        sharing.share_unit(env.v, env.alice, unit, sharing.Grant.make(circles=[env.circle]))


def test_an_unsigned_unit_is_signed_when_it_is_first_shared(env: Env) -> None:
    unit = add_unit(env.v, env.alice, "Written before signing existed", sign=False)
    shared = sharing.share_unit(env.v, env.alice, unit, sharing.Grant.make(circles=[env.circle]))
    assert shared["verification"]["valid"] is True
    with env.v.store(env.alice).read() as conn:
        assert verify_unit(*next(unit_store.signed_fields(conn, unit)))[0] is True


def test_feed_is_newest_first_by_circle_and_by_author_with_pages(env: Env) -> None:
    work = circles.create_circle(env.v, env.carol, "Carol's lab")["id"]
    inv = circles.invite(env.v, env.carol, work, "bob")
    circles.respond(env.v, env.bob, inv["id"], accept=True)
    env.share(env.alice, "first from alice")
    env.share(env.carol, "second from carol", circles=[work])
    env.share(env.alice, "third from alice")
    assert feed_contents(env.v, env.bob) == ["third from alice", "second from carol", "first from alice"]
    assert feed_contents(env.v, env.bob, circle_id=work) == ["second from carol"]
    assert feed_contents(env.v, env.bob, author="alice") == ["third from alice", "first from alice"]
    page = feed.feed(env.v, env.bob, limit=2)
    assert [i["content"] for i in page["items"]] == ["third from alice", "second from carol"]
    nxt = page["next"]
    from vivim.domain.times import parse_time

    rest = feed.feed(env.v, env.bob, limit=2, before=(parse_time(nxt["published_at"]), nxt["id"]))
    assert [i["content"] for i in rest["items"]] == ["first from alice"] and rest["next"] is None
    dave = env.v.create_user("dave")
    with pytest.raises(NotFound):
        feed.feed(env.v, dave, circle_id=work)


def test_public_shares_reach_followers_and_friends_but_not_blocked_users(env: Env) -> None:
    dave = env.v.create_user("dave")
    frank = env.v.create_user("frank")
    shared = env.share(env.alice, "Public notes on birdsong", public=True, circles=[])
    assert feed_contents(env.v, dave) == []
    assert feed.show(env.v, dave, shared["id"])["policy"] == "public"  # anyone may open it
    relations.follow(env.v, dave, "alice")
    assert feed_contents(env.v, dave) == ["Public notes on birdsong"]
    assert search_contents(env.v, dave, "birdsong") == ["Public notes on birdsong"]
    relations.request_friend(env.v, frank, "alice")
    assert feed_contents(env.v, frank) == []
    relations.respond_friend(env.v, env.alice, "frank", accept=True)
    assert feed_contents(env.v, frank) == ["Public notes on birdsong"]
    relations.block(env.v, env.alice, "dave")
    assert feed_contents(env.v, dave) == []
    with pytest.raises(NotFound):
        feed.show(env.v, dave, shared["id"])
    assert relations.follows(env.v, dave)["following"] == []


def test_shared_search_ranks_by_words_and_vectors(env: Env) -> None:
    env.share(env.alice, "Rust borrow checker rejects two mutable references")
    env.share(env.alice, "Python lists grow by over-allocation")
    env.share(env.carol, "Borrow checker errors explained with lifetimes")
    hits = search_shared(env.v, env.bob, "borrow checker", embedder=EMBEDDER)["hits"]
    assert {h["content"] for h in hits[:2]} == {
        "Rust borrow checker rejects two mutable references",
        "Borrow checker errors explained with lifetimes",
    }
    assert all(h["verification"]["valid"] for h in hits)
    assert search_contents(env.v, env.bob, "over-allocation lists")[0] == "Python lists grow by over-allocation"
    assert search_shared(env.v, env.bob, "   ", embedder=EMBEDDER)["hits"] == []


def test_remix_writes_my_signed_unit_derived_from_a_verified_copy(env: Env) -> None:
    shared = env.share(env.alice, "A recipe for rye bread", can_remix=True)
    result = remix.remix(env.v, env.bob, shared["id"], content="A recipe for rye bread, with caraway", embedder=EMBEDDER)
    assert result["created"] is True and result["author_did"] == env.bob.did
    with env.v.store(env.bob).read() as conn:
        mine = unit_store.get_unit(conn, result["unit_id"])
        copy = unit_store.get_unit(conn, result["derived_from"])
        links = unit_store.get_links(conn, result["unit_id"])
        assert verify_unit(*next(unit_store.signed_fields(conn, result["unit_id"])))[0] is True
    assert mine is not None and copy is not None
    assert mine["content"] == "A recipe for rye bread, with caraway" and mine["author_did"] == env.bob.did
    assert mine["parent_id"] == result["derived_from"]
    assert copy["author_did"] == env.alice.did and copy["content"] == "A recipe for rye bread"
    assert remix.verify_copy(copy) == (True, "valid")
    assert [(link["relation"], link["target_id"]) for link in links] == [("derived_from", result["derived_from"])]
    again = remix.remix(env.v, env.bob, shared["id"], content="A recipe for rye bread, with caraway")
    assert again["created"] is False and again["unit_id"] == result["unit_id"]
    # Nothing was written to the author's vault.
    with env.v.store(env.alice).read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM atomic_chat_units").fetchone()[0] == 1


def test_reshares_are_clamped_and_die_with_their_source(env: Env) -> None:
    dave = env.v.create_user("dave")
    bobs = circles.create_circle(env.v, env.bob, "Bob's")["id"]
    inv = circles.invite(env.v, env.bob, bobs, "dave")
    circles.respond(env.v, dave, inv["id"], accept=True)
    shared = env.share(env.alice, "Reshareable insight", can_reshare=True, can_annotate=True, expires="2d")
    re = sharing.reshare(env.v, env.bob, shared["id"],
                         sharing.Grant.make(circles=[bobs], can_remix=True, can_annotate=True, can_reshare=True))
    assert re["permissions"] and re["granted"]["can_remix"] is False  # alice never allowed remixing
    assert re["granted"]["can_annotate"] is True and re["expires_at"] == shared["expires_at"]
    [item] = feed.feed(env.v, dave)["items"]
    assert item["sharer"] == "bob" and item["author"] == "alice" and item["verification"]["valid"] is True
    with pytest.raises(NotPermitted):
        sharing.reshare(env.v, env.bob, shared["id"], sharing.Grant.make(public=True))
    # Alice takes away resharing: bob's reshare goes at once.
    sharing.share_unit(env.v, env.alice, shared["unit_id"], sharing.Grant.make(circles=[env.circle]))
    assert feed_contents(env.v, dave) == []
    with pytest.raises(NotPermitted):
        sharing.reshare(env.v, env.bob, shared["id"], sharing.Grant.make(circles=[bobs]))


def test_annotations_are_visible_to_the_audience_and_removable(env: Env) -> None:
    shared = env.share(env.alice, "Annotate me", can_annotate=True)
    note = feed.annotate(env.v, env.bob, shared["id"], "  Useful, thanks  ")
    assert note["body"] == "Useful, thanks"
    assert [a["body"] for a in feed.show(env.v, env.carol, shared["id"])["annotations"]] == ["Useful, thanks"]
    with pytest.raises(NotPermitted):
        feed.delete_annotation(env.v, env.carol, shared["id"], note["id"])
    feed.delete_annotation(env.v, env.alice, shared["id"], note["id"])
    assert feed.annotations(env.v, env.bob, shared["id"]) == []
    with pytest.raises(InvalidInput):
        feed.annotate(env.v, env.bob, shared["id"], "   ")


def test_reciprocity_records_giving_and_taking_per_peer_and_circle(env: Env) -> None:
    shared = env.share(env.alice, "Knowledge to give", can_remix=True)
    feed.show(env.v, env.bob, shared["id"])
    feed.show(env.v, env.bob, shared["id"])
    remix.remix(env.v, env.bob, shared["id"])
    assert reciprocity.record_context_use(env.v, env.carol, [shared["id"], "0" * 32]) == 1
    feed.show(env.v, env.alice, shared["id"])  # the sharer reading their own share takes nothing
    alice = reciprocity.summary(env.v, env.alice)
    assert alice["given"] == {"shares": 1, "taken_by_others": 4}
    peers = {p["user"]: p for p in alice["peers"]}
    assert peers["bob"]["given"] == {"view": 2, "remix": 1, "context": 0} and peers["bob"]["balance"] == 3
    assert peers["carol"]["given"] == {"view": 0, "remix": 0, "context": 1}
    [circle] = alice["circles"]
    assert circle["circle_id"] == env.circle and circle["shared"] == 1
    assert circle["given"] == {"view": 2, "remix": 1, "context": 1}
    bob = reciprocity.summary(env.v, env.bob)
    assert bob["received"] == {"taken": 3, "shared_with_me": 1}
    [alice_peer] = bob["peers"]
    assert alice_peer["user"] == "alice" and alice_peer["received"] == {"view": 2, "remix": 1, "context": 0}
    with env.v.master.connect() as c:
        recipients = c.execute(text("SELECT recipient_dids FROM contributions")).scalar_one()
    recipients = json.loads(recipients) if isinstance(recipients, str) else recipients
    assert sorted(recipients) == sorted([env.bob.did, env.carol.did])


def test_no_social_request_opens_another_users_vault(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = env.share(env.alice, "Only published copies are read", can_remix=True, can_annotate=True)
    opened: list[str] = []
    real_open = env.v.router.open

    def spy(user_id: str) -> Any:
        opened.append(user_id)
        return real_open(user_id)

    monkeypatch.setattr(env.v.router, "open", spy)
    feed.feed(env.v, env.bob)
    feed.show(env.v, env.bob, shared["id"])
    feed.annotate(env.v, env.bob, shared["id"], "hi")
    search_shared(env.v, env.bob, "published copies", embedder=EMBEDDER)
    remix.remix(env.v, env.bob, shared["id"])
    reciprocity.summary(env.v, env.bob)
    assert set(opened) == {env.bob.id}


def test_search_rechecks_the_audience_even_when_its_cache_was_not_told(env: Env) -> None:
    env.share(env.alice, "Cached index about meteorites")
    assert search_contents(env.v, env.bob, "meteorites") == ["Cached index about meteorites"]
    with env.v.master.connect() as c:  # an audience row vanishes without a generation bump
        c.execute(text("DELETE FROM shared_unit_access WHERE recipient_id = :u"), {"u": env.bob.id})
    assert search_contents(env.v, env.bob, "meteorites") == []


def test_the_sharing_generation_moves_with_every_change_of_audience(env: Env) -> None:
    from vivim.social.common import generation

    def gen() -> int:
        with env.v.master.session() as s:
            return generation(s)

    seen = [gen()]
    shared = env.share(env.alice, "generation test")
    seen.append(gen())
    circles.remove_member(env.v, env.alice, env.circle, "carol")
    seen.append(gen())
    relations.follow(env.v, env.carol, "alice")
    seen.append(gen())
    sharing.unshare_unit(env.v, env.alice, shared["unit_id"])
    seen.append(gen())
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
