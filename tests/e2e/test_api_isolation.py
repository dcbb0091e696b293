"""No user can reach another's data, and nothing but /health answers without a credential.

Both tests walk the app's own OpenAPI document, so a route added later is covered (or, if it
takes an id of a kind this file does not know, the test fails and says which).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api_support import (
    API,
    Account,
    conversation,
    generic_export,
    insert_link,
    insert_unit,
    new_account,
    wait_for_job,
)
from vivim.api.app import create_app
from vivim.app import Vivim

PUBLIC = {("GET", f"{API}/health")}
# Signing in is how a credential is obtained, so these take none.
SIGN_IN = {("POST", f"{API}/auth/challenge"), ("POST", f"{API}/auth/token"), ("POST", f"{API}/auth/refresh")}
# A valid body for each route that takes one, so that validation never answers before the
# ownership check does.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", f"{API}/devices/{{device_id}}"): {"name": "renamed"},
    ("PATCH", f"{API}/memories/{{memory_id}}"): {"pinned": True},
    ("PATCH", f"{API}/notebooks/{{notebook_id}}"): {"title": "mine now"},
    ("PATCH", f"{API}/facts/{{fact_id}}"): {"content": "Lives in Bergen"},
    ("PATCH", f"{API}/instructions/{{instruction_id}}"): {"content": "Be verbose."},
    ("PATCH", f"{API}/personas/{{persona}}"): {"system_prompt": "Obey bob."},
    ("PATCH", f"{API}/notebooks/{{notebook_id}}/entries/{{entry_id}}"): {"note": "bob's now"},
    ("POST", f"{API}/notebooks/{{notebook_id}}/entries"): {"note": "hi"},
}
# Social routes take other people's names and shared objects by design (befriending alice is
# allowed); tests/e2e/test_social_api.py walks them with an audience-aware world of its own.
SOCIAL_PREFIXES = tuple(
    f"{API}{p}" for p in ("/circles", "/invitations", "/friends", "/follows", "/blocks", "/shares", "/shared")
)
# Profiles are built from what alice talked about; her tiny world has none to read back.
NO_OWN_READ = {f"{API}/profiles/topics/{{ref}}", f"{API}/profiles/entities/{{ref}}"}


@pytest.fixture
def world(vivim: Vivim) -> Iterator[dict[str, Any]]:
    app = create_app(vivim)
    with TestClient(app) as client:
        alice = new_account(client, vivim, "alice")
        bob = new_account(client, vivim, "bob")
        export = generic_export([conversation("c1", "Alice's secret", "2026-01-02T00:00:00Z", ["q", "a"])])
        job = client.post(f"{API}/imports", files=[("files", ("a.json", export, "application/json"))], headers=alice.headers)
        assert wait_for_job(client, alice, job.json()["id"])["status"] == "succeeded"
        conv_id = client.get(f"{API}/conversations", headers=alice.headers).json()["items"][0]["id"]
        insert_unit(vivim, alice.user, unit_id="a" * 32, conversation_id=conv_id, content="alice's unit")
        insert_unit(vivim, alice.user, unit_id="b" * 32, conversation_id=conv_id, content="alice's other unit")
        insert_link(vivim, alice.user, link_id="c" * 32, source="a" * 32, target="b" * 32)
        token = client.post(f"{API}/tokens", json={"name": "a"}, headers=alice.headers).json()

        def made(path: str, body: dict[str, Any]) -> str:
            r = client.post(f"{API}{path}", json=body, headers=alice.headers)
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        notebook_id = made("/notebooks", {"title": "alice's notebook"})
        made("/personas", {"name": "Coach", "system_prompt": "Motivate alice."})
        ids = {
            "memory_id": made("/memories", {"content": "I keep bees on my roof."}),
            "fact_id": made("/facts", {"content": "Lives in Oslo"}),
            "instruction_id": made("/instructions", {"content": "Be brief with alice."}),
            "notebook_id": notebook_id,
            "entry_id": made(f"/notebooks/{notebook_id}/entries", {"note": "alice's note"}),
            "persona": "Coach",
            "ref": "bees",
            "device_id": alice.device_id,
            "token_id": token["id"],
            "job_id": job.json()["id"],
            "conversation_id": conv_id,
            "unit_id": "a" * 32,
        }
        yield {"app": app, "client": client, "alice": alice, "bob": bob, "ids": ids}


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of the API, from the app's own OpenAPI document."""
    return [
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith(API)
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_route_with_an_id_answers_404_to_another_user(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    alice: Account = world["alice"]
    bob: Account = world["bob"]
    checked = []
    for method, path in _routes(world["app"]):
        if "{" not in path or path.startswith(SOCIAL_PREFIXES):
            continue
        params = [p.split("}")[0] for p in path.split("{")[1:]]
        unknown = [p for p in params if p not in world["ids"]]
        assert not unknown, f"{method} {path}: no object of alice's for {unknown}; add one to the world fixture"
        url = path
        for p in params:
            url = url.replace("{" + p + "}", world["ids"][p])
        r = client.request(method, url, headers=bob.headers, json=BODIES.get((method, path)))
        assert r.status_code == 404, f"{method} {url} answered {r.status_code} to bob: {r.text}"
        assert r.json()["error"]["code"] == "not_found"
        assert "secret" not in r.text and "alice" not in r.text
        # ...while alice herself gets it (reads only: writes would change the world).
        if method == "GET" and path not in NO_OWN_READ:
            assert client.get(url, headers=alice.headers).status_code == 200, url
        checked.append((method, path))
    assert {p for _m, p in checked} >= {
        f"{API}/devices/{{device_id}}",
        f"{API}/tokens/{{token_id}}",
        f"{API}/imports/{{job_id}}",
        f"{API}/imports/{{job_id}}/attempts",
        f"{API}/conversations/{{conversation_id}}",
        f"{API}/units/{{unit_id}}",
        f"{API}/units/{{unit_id}}/links",
    }
    # And alice's objects are all still there, untouched by bob's writes.
    ids = world["ids"]
    assert client.get(f"{API}/devices/{ids['device_id']}", headers=alice.headers).json()["is_active"] is True
    assert client.get(f"{API}/tokens/{ids['token_id']}", headers=alice.headers).json()["is_active"] is True
    assert client.get(f"{API}/conversations/{ids['conversation_id']}", headers=alice.headers).status_code == 200


def test_listings_show_another_user_nothing(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    bob: Account = world["bob"]
    for path in ("/conversations", "/units", "/imports", "/tokens"):
        body = client.get(f"{API}{path}", headers=bob.headers).json()
        assert body["items"] == [], path
    [device] = client.get(f"{API}/devices", headers=bob.headers).json()["items"]
    assert device["device_id"] == bob.device_id
    stats = client.get(f"{API}/stats", headers=bob.headers).json()
    assert stats["total_conversations"] == 0 and stats["recent_attempts"] == [] and stats["providers"] == []
    assert client.get(f"{API}/units?conversation_id={world['ids']['conversation_id']}", headers=bob.headers).json()["items"] == []


@pytest.mark.parametrize("auth", [None, "Bearer ", "Bearer vat_" + "A" * 43, "Bearer vpt_" + "A" * 43, "Basic YTpi", "Bearer garbage"])
def test_every_non_public_route_answers_401_without_a_valid_token(world: dict[str, Any], auth: str | None) -> None:
    client: TestClient = world["client"]
    headers = {"Authorization": auth} if auth is not None else {}
    routes = _routes(world["app"])
    assert len(routes) >= 20
    for method, path in routes:
        url = path
        for name, value in world["ids"].items():
            url = url.replace("{" + name + "}", value)
        r = client.request(method, url, headers=headers)
        if (method, path) in PUBLIC:
            assert r.status_code == 200
            continue
        if (method, path) in SIGN_IN:
            assert r.status_code == 422  # no body: a validation error, not an auth one
            continue
        assert r.status_code == 401, f"{method} {path} answered {r.status_code} with {auth!r}: {r.text}"
        assert r.json()["error"]["code"] in {"unauthorized", "invalid_token"}
        assert r.headers["www-authenticate"] == "Bearer"
