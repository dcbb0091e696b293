"""Circles, relations and sharing over HTTP: the whole flow, 403 versus 404, revoke and expiry
on the next request, and isolation (bob never reads alice's private units through any
social route; every social route with an id answers 404 for someone else's object)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.e2e.test_api_support import API, Account, new_account
from tests.fakes import HashingEmbedder
from tests.integration.test_social_support import add_unit
from vivim.api.app import create_app
from vivim.app import Vivim

SOCIAL_PREFIXES = ("/circles", "/friends", "/follows", "/blocks", "/peers", "/shares", "/shared", "/reciprocity")


@pytest.fixture
def world(vivim: Vivim) -> Iterator[dict[str, Any]]:
    vivim._embedder = HashingEmbedder()  # fast stand-in for the real model
    app = create_app(vivim)
    with TestClient(app) as client:
        alice = new_account(client, vivim, "alice")
        bob = new_account(client, vivim, "bob")
        carol = new_account(client, vivim, "carol")
        yield {"app": app, "client": client, "alice": alice, "bob": bob, "carol": carol, "v": vivim}


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def circle_with(client: TestClient, owner: Account, *members: Account, name: str = "Friends") -> str:
    cid = ok(client.post(f"{API}/circles", json={"name": name}, headers=owner.headers), 201)["id"]
    for m in members:
        inv = ok(client.post(f"{API}/circles/{cid}/invitations", json={"user": m.user.handle}, headers=owner.headers), 201)
        assert ok(client.post(f"{API}/circles/invitations/{inv['id']}/accept", headers=m.headers))["status"] == "accepted"
    return cid


def test_share_read_annotate_remix_and_revoke_over_http(world: dict[str, Any]) -> None:
    client, alice, bob, v = world["client"], world["alice"], world["bob"], world["v"]
    cid = circle_with(client, alice, bob)
    unit = add_unit(v, alice.user, "Espresso extraction takes about thirty seconds")
    shared = ok(client.post(f"{API}/shares", json={"unit_id": unit, "circles": [cid]}, headers=alice.headers))
    assert shared["policy"] == "circle" and shared["verification"]["valid"] is True
    feed = ok(client.get(f"{API}/shared", headers=bob.headers))
    assert [i["content"] for i in feed["items"]] == ["Espresso extraction takes about thirty seconds"]
    assert feed["next_cursor"] is None
    sid = feed["items"][0]["id"]
    one = ok(client.get(f"{API}/shared/{sid}", headers=bob.headers))
    assert one["verification"] == {"valid": True, "reason": "valid", "tampered": False} and one["annotations"] == []
    # Visible but not allowed: 403 with a stable code.
    r = client.post(f"{API}/shared/{sid}/annotations", json={"body": "nice"}, headers=bob.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_permitted"
    assert client.post(f"{API}/shared/{sid}/remix", json={}, headers=bob.headers).status_code == 403
    # Widen: now annotations and remixes are allowed.
    ok(client.post(f"{API}/shares", json={"unit_id": unit, "circles": [cid], "can_annotate": True, "can_remix": True},
                   headers=alice.headers))
    ok(client.post(f"{API}/shared/{sid}/annotations", json={"body": "nice"}, headers=bob.headers), 201)
    remixed = ok(client.post(f"{API}/shared/{sid}/remix", json={"content": "Espresso: 25 to 30 seconds"}, headers=bob.headers))
    assert remixed["created"] is True
    mine = ok(client.get(f"{API}/units/{remixed['unit_id']}", headers=bob.headers))
    assert mine["content"] == "Espresso: 25 to 30 seconds" and mine["author_did"] == bob.user.did
    assert ok(client.get(f"{API}/units/{remixed['unit_id']}/verify", headers=bob.headers))["valid"] is True
    hits = ok(client.get(f"{API}/shared/search", params={"q": "espresso extraction"}, headers=bob.headers))["hits"]
    assert [h["id"] for h in hits] == [sid] and hits[0]["score"] > 0
    recip = ok(client.get(f"{API}/reciprocity", headers=alice.headers))
    assert recip["given"] == {"shares": 1, "taken_by_others": 2}
    # Revoke: the next request no longer sees it.
    gone = ok(client.delete(f"{API}/shares/{unit}", headers=alice.headers))
    assert gone == {"unit_id": unit, "policy": "self", "circles": []}
    r = client.get(f"{API}/shared/{sid}", headers=bob.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert ok(client.get(f"{API}/shared", headers=bob.headers))["items"] == []
    assert ok(client.get(f"{API}/shared/search", params={"q": "espresso"}, headers=bob.headers))["hits"] == []


def test_expiry_and_removal_take_effect_on_the_next_request(world: dict[str, Any]) -> None:
    client, alice, bob, carol, v = world["client"], world["alice"], world["bob"], world["carol"], world["v"]
    cid = circle_with(client, alice, bob, carol)
    unit = add_unit(v, alice.user, "Expiring coupon")
    sid = ok(client.post(f"{API}/shares", json={"unit_id": unit, "circles": [cid], "expires_at": "1h"},
                         headers=alice.headers))["id"]
    ok(client.get(f"{API}/shared/{sid}", headers=carol.headers))
    assert client.delete(f"{API}/circles/{cid}/members/carol", headers=alice.headers).status_code == 204
    assert client.get(f"{API}/shared/{sid}", headers=carol.headers).status_code == 404
    ok(client.get(f"{API}/shared/{sid}", headers=bob.headers))
    # Time passes: the stored expiry is now in the past (the clock is checked at read time).
    with v.master.connect() as c:
        for table in ("shared_units", "shared_unit_access"):
            c.execute(text(f"UPDATE {table} SET expires_at = :t"), {"t": "2020-01-01 00:00:00.000000"})
    assert client.get(f"{API}/shared/{sid}", headers=bob.headers).status_code == 404
    assert ok(client.get(f"{API}/shared", headers=bob.headers))["items"] == []


def test_relations_and_peers_over_http(world: dict[str, Any]) -> None:
    client, alice, bob = world["client"], world["alice"], world["bob"]
    assert ok(client.post(f"{API}/friends", json={"user": "bob"}, headers=alice.headers), 201)["status"] == "pending"
    assert ok(client.post(f"{API}/friends/alice/accept", headers=bob.headers))["status"] == "accepted"
    assert [p["peer_did"] for p in ok(client.get(f"{API}/peers", headers=alice.headers))["items"]] == [bob.user.did]
    assert ok(client.post(f"{API}/peers", json={"peer_did": bob.user.did, "trust_level": 70}, headers=alice.headers))["trust_level"] == 70
    ok(client.post(f"{API}/follows", json={"user": "alice"}, headers=bob.headers), 201)
    assert ok(client.get(f"{API}/follows", headers=alice.headers))["followers"] == [{"user": "bob", "did": bob.user.did}]
    assert ok(client.post(f"{API}/blocks", json={"user": "bob"}, headers=alice.headers), 201)["user"] == "bob"
    assert client.post(f"{API}/follows", json={"user": "alice"}, headers=bob.headers).status_code == 404
    assert client.delete(f"{API}/blocks/bob", headers=alice.headers).status_code == 204
    assert client.post(f"{API}/circles", json={"name": ""}, headers=alice.headers).status_code == 422


# -- isolation -------------------------------------------------------------------------------------
SECRET = "alice's private unit: the combination is 4-8-15"


@pytest.fixture
def isolation(world: dict[str, Any]) -> dict[str, Any]:
    """Alice's objects of every kind a social route takes an id of; bob belongs to none of them."""
    client, alice, carol, v = world["client"], world["alice"], world["carol"], world["v"]
    cid = circle_with(client, alice, carol, name="Alice's inner circle")
    add_unit(v, alice.user, SECRET)  # never shared
    shared_unit = add_unit(v, alice.user, "shared only with carol")
    sid = ok(client.post(f"{API}/shares", json={"unit_id": shared_unit, "circles": [cid], "can_annotate": True},
                         headers=alice.headers))["id"]
    note = ok(client.post(f"{API}/shared/{sid}/annotations", json={"body": "alice's note"}, headers=alice.headers), 201)
    dave = new_account(client, v, "dave")
    inv = ok(client.post(f"{API}/circles/{cid}/invitations", json={"user": "dave"}, headers=alice.headers), 201)
    ids = {
        "circle_id": cid,
        "invitation_id": inv["id"],
        "member": "carol",
        "other": "alice",
        "shared_id": sid,
        "annotation_id": note["id"],
        "unit_id": shared_unit,
    }
    return {**world, "ids": ids, "dave": dave}


def _social_routes(app: Any) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith(API) and path[len(API):].startswith(SOCIAL_PREFIXES)
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


BODIES: dict[str, Any] = {
    "PATCH": {"name": "taken over", "role": "admin"},
    "POST": {"body": "bob was here", "circles": [], "public": True, "content": "stolen", "user": "dave"},
}


def test_every_social_route_with_an_id_answers_404_to_another_user(isolation: dict[str, Any]) -> None:
    client: TestClient = isolation["client"]
    bob: Account = isolation["bob"]
    checked = []
    for method, path in _social_routes(isolation["app"]):
        if "{" not in path:
            continue
        params = [p.split("}")[0] for p in path.split("{")[1:]]
        unknown = [p for p in params if p not in isolation["ids"]]
        assert not unknown, f"{method} {path}: no object of alice's for {unknown}"
        url = path
        for p in params:
            url = url.replace("{" + p + "}", isolation["ids"][p])
        r = client.request(method, url, headers=bob.headers, json=BODIES.get(method))
        assert r.status_code == 404, f"{method} {url} answered {r.status_code} to bob: {r.text}"
        assert r.json()["error"]["code"] == "not_found"
        assert "combination" not in r.text and "inner circle" not in r.text and "shared only" not in r.text
        checked.append(path)
    assert len(set(checked)) >= 15
    # Alice's objects are untouched by bob's attempts.
    alice = isolation["alice"]
    one = ok(client.get(f"{API}/shared/{isolation['ids']['shared_id']}", headers=alice.headers))
    assert [a["body"] for a in one["annotations"]] == ["alice's note"]
    assert ok(client.get(f"{API}/circles/{isolation['ids']['circle_id']}", headers=alice.headers))["name"] == "Alice's inner circle"


def test_no_social_listing_or_search_shows_another_users_private_units(isolation: dict[str, Any]) -> None:
    client: TestClient = isolation["client"]
    for who in ("bob", "carol", "dave"):
        account: Account = isolation[who]
        for method, path in _social_routes(isolation["app"]):
            if method != "GET" or "{" in path:
                continue
            params = {"q": "private unit alice 4 8 15"} if path.endswith("/search") else None
            r = client.get(path, params=params, headers=account.headers)
            assert r.status_code == 200, f"{path}: {r.text}"
            assert "combination" not in r.text, f"{who} read alice's private unit through {path}"
    # carol sees exactly the one unit alice shared with her, and dave (only invited) nothing.
    assert [i["content"] for i in ok(client.get(f"{API}/shared", headers=isolation["carol"].headers))["items"]] == [
        "shared only with carol"
    ]
    assert ok(client.get(f"{API}/shared", headers=isolation["dave"].headers))["items"] == []


def test_every_social_route_answers_401_without_a_valid_token(isolation: dict[str, Any]) -> None:
    client: TestClient = isolation["client"]
    routes = _social_routes(isolation["app"])
    assert len(routes) >= 35
    for auth in (None, "Bearer garbage", "Bearer vat_" + "A" * 43):
        headers = {"Authorization": auth} if auth else {}
        for method, path in routes:
            url = path
            for name, value in isolation["ids"].items():
                url = url.replace("{" + name + "}", value)
            r = client.request(method, url, headers=headers)
            assert r.status_code == 401, f"{method} {path} answered {r.status_code} with {auth!r}: {r.text}"
            assert r.headers["www-authenticate"] == "Bearer"
