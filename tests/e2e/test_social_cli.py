"""The social commands end to end through the real `vivim` entry point."""

from __future__ import annotations

import pytest

from tests.e2e.cli import vivim
from tests.integration.test_social_support import add_unit
from vivim.app import open_vivim


def test_circles_sharing_feed_remix_and_reciprocity_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("alice", "bob", "carol"):
        assert vivim(capsys, "user", "create", name).code == 0
    with open_vivim() as v:  # the data dir comes from VIVIM_DATA_DIR, like the CLI's
        unit = add_unit(v, v.get_user("alice"), "Pour-over coffee wants water at 94 degrees")
    created = vivim(capsys, "-u", "alice", "circles", "create", "Coffee nerds", "--json")
    assert created.code == 0, created.err
    cid = created.json()["id"]
    inv = vivim(capsys, "-u", "alice", "circles", "invite", "Coffee nerds", "bob", "--json").json()
    assert vivim(capsys, "-u", "bob", "circles", "invitations", "--json").json()[0]["id"] == inv["id"]
    assert vivim(capsys, "-u", "bob", "circles", "accept", inv["id"]).code == 0
    members = vivim(capsys, "-u", "alice", "circles", "members", "Coffee nerds", "--json").json()
    assert [(m["handle"], m["role"]) for m in members] == [("alice", "owner"), ("bob", "member")]

    shared = vivim(capsys, "-u", "alice", "share", unit, "--circle", "Coffee nerds", "--can-remix", "--expires", "7d", "--json")
    assert shared.code == 0, shared.err
    assert shared.json()["circles"] == [cid] and shared.json()["granted"]["can_remix"] is True
    sid = shared.json()["id"]

    feed = vivim(capsys, "-u", "bob", "shared", "feed", "--json").json()
    assert [i["content"] for i in feed["items"]] == ["Pour-over coffee wants water at 94 degrees"]
    human = vivim(capsys, "-u", "bob", "shared", "feed")
    assert "signature ok" in human.out and "alice" in human.out
    hits = vivim(capsys, "-u", "bob", "shared", "search", "coffee water", "--no-vectors", "--json").json()["hits"]
    assert [h["id"] for h in hits] == [sid]
    shown = vivim(capsys, "-u", "bob", "shared", "show", sid, "--json").json()
    assert shown["verification"]["valid"] is True and shown["permissions"]["remix"] is True
    denied = vivim(capsys, "-u", "bob", "shared", "annotate", sid, "great tip")
    assert denied.code == 1 and "does not allow annotations" in denied.err
    remixed = vivim(capsys, "-u", "bob", "shared", "remix", sid, "--json").json()
    assert remixed["created"] is True
    assert vivim(capsys, "-u", "carol", "shared", "show", sid).code == 1  # not in the circle

    recip = vivim(capsys, "-u", "alice", "reciprocity", "--json").json()
    assert recip["given"] == {"shares": 1, "taken_by_others": 2}
    assert "bob" in vivim(capsys, "-u", "alice", "reciprocity").out

    assert vivim(capsys, "-u", "alice", "unshare", unit, "--json").json()["policy"] == "self"
    assert vivim(capsys, "-u", "bob", "shared", "feed", "--json").json()["items"] == []
    gone = vivim(capsys, "-u", "bob", "shared", "show", sid)
    assert gone.code == 1 and "no shared unit" in gone.err


def test_friends_follows_and_blocks_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("alice", "bob"):
        vivim(capsys, "user", "create", name)
    assert vivim(capsys, "-u", "alice", "friends", "add", "bob", "--json").json()["status"] == "pending"
    assert vivim(capsys, "-u", "bob", "friends", "accept", "alice", "--json").json()["status"] == "accepted"
    assert [f["user"] for f in vivim(capsys, "-u", "bob", "friends", "list", "--json").json()] == ["alice"]
    peers = vivim(capsys, "-u", "alice", "friends", "peers", "--json").json()
    assert [p["status"] for p in peers] == ["active"]
    assert vivim(capsys, "-u", "bob", "follow", "alice").code == 0
    assert vivim(capsys, "-u", "alice", "follows", "--json").json()["followers"][0]["user"] == "bob"
    assert vivim(capsys, "-u", "alice", "block", "bob").code == 0
    assert vivim(capsys, "-u", "bob", "friends", "list", "--json").json() == []
    again = vivim(capsys, "-u", "bob", "follow", "alice")
    assert again.code == 1 and "no user named" in again.err
    assert vivim(capsys, "-u", "alice", "unblock", "bob").code == 0
    bad = vivim(capsys, "-u", "alice", "share", "nope", "--circle", "x")
    assert bad.code == 1 and "error" in bad.err


def test_every_social_command_has_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    from vivim.cli import social

    for app in (social.circles_app, social.friends_app, social.shared_app):
        for command in app.registered_commands:
            assert command.callback is not None and (command.callback.__doc__ or "").strip(), command.name
    for fn in (social.share_command, social.unshare_command, social.follow_command, social.unfollow_command,
               social.block_command, social.unblock_command, social.reciprocity_command, social.follows_command):
        assert (fn.__doc__ or "").strip(), fn.__name__
    assert vivim(capsys, "shared", "--help").code == 0
