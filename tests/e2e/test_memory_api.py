"""Memories, facts, profiles, instructions, personas and notebooks over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api_support import API, Account, new_account, wait_for_job
from vivim.api.app import create_app
from vivim.app import Vivim

DATA = Path(__file__).resolve().parent.parent / "data" / "memory"


@pytest.fixture
def client(vivim: Vivim) -> Iterator[TestClient]:
    with TestClient(create_app(vivim)) as c:
        yield c


@pytest.fixture
def alice(client: TestClient, vivim: Vivim) -> Account:
    return new_account(client, vivim, "alice")


@pytest.fixture
def bob(client: TestClient, vivim: Vivim) -> Account:
    return new_account(client, vivim, "bob")


def call(client: TestClient, account: Account, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    r = client.request(method, f"{API}{path}", headers=account.headers, **kw)
    assert r.status_code == status, r.text
    return r.json()


def upload(client: TestClient, account: Account, name: str) -> None:
    r = client.post(f"{API}/imports", headers=account.headers,
                    files=[("files", (name, (DATA / name).read_bytes(), "application/json"))])
    assert wait_for_job(client, account, r.json()["id"])["status"] == "succeeded"


def test_memory_crud(client: TestClient, alice: Account) -> None:
    made = call(client, alice, "POST", "/memories", 201,
                json={"content": "I keep bees on my roof.", "memory_type": "PREFERENCE", "importance": 6})
    mid = made["id"]
    assert made["merged"] is False and made["summary"] == "The user keeps bees on their roof."
    assert call(client, alice, "POST", "/memories", 201, json={"content": "i keep bees on my roof"})["id"] == mid
    call(client, alice, "POST", "/memories", 201, json={"content": "My sister Ana lives in Porto.",
                                                         "memory_type": "RELATIONSHIP", "importance": 8})
    listed = call(client, alice, "GET", "/memories", params={"limit": 1})
    assert len(listed["items"]) == 1 and listed["items"][0]["importance"] == 8 and listed["next_cursor"]
    page2 = call(client, alice, "GET", "/memories", params={"limit": 1, "cursor": listed["next_cursor"]})
    assert [m["id"] for m in page2["items"]] == [mid] and page2["next_cursor"] is None

    edited = call(client, alice, "PATCH", f"/memories/{mid}", json={"content": "I keep two beehives.", "pinned": True})
    assert (edited["content"], edited["pinned"]) == ("I keep two beehives.", True)
    call(client, alice, "PATCH", f"/memories/{mid}", json={"archived": True})
    assert [m["id"] for m in call(client, alice, "GET", "/memories", params={"archived": True})["items"]] == [mid]
    assert len(call(client, alice, "GET", "/memories", params={"all": True})["items"]) == 2
    got = call(client, alice, "GET", f"/memories/{mid}")
    assert got["access_count"] == 1 and got["archived"] is True
    hits = call(client, alice, "GET", "/memories/search",
                params={"q": "beehives", "vectors": False, "include_archived": True})["hits"]
    assert [h["id"] for h in hits] == [mid]
    assert call(client, alice, "DELETE", f"/memories/{mid}") == {"deleted": mid}
    assert call(client, alice, "GET", f"/memories/{mid}", 404)["error"]["code"] == "not_found"
    bad = call(client, alice, "POST", "/memories", 422, json={"content": "x", "memory_type": "DREAM"})
    assert bad["error"]["code"] == "validation_error"
    assert client.get(f"{API}/memories").status_code == 401


def test_another_users_objects_are_not_found(client: TestClient, alice: Account, bob: Account) -> None:
    mid = call(client, alice, "POST", "/memories", 201, json={"content": "I prefer oat milk."})["id"]
    fid = call(client, alice, "POST", "/facts", 201, json={"content": "Lives in Oslo"})["id"]
    nb = call(client, alice, "POST", "/notebooks", 201, json={"title": "Secrets"})["id"]
    entry = call(client, alice, "POST", f"/notebooks/{nb}/entries", 201, json={"note": "private"})["id"]
    iid = call(client, alice, "POST", "/instructions", 201, json={"content": "Be brief."})["id"]
    call(client, alice, "POST", "/personas", 201, json={"name": "Coach", "system_prompt": "Motivate."})
    for method, path, body in [
        ("GET", f"/memories/{mid}", None),
        ("PATCH", f"/memories/{mid}", {"pinned": True}),
        ("DELETE", f"/memories/{mid}", None),
        ("GET", f"/facts/{fid}", None),
        ("DELETE", f"/facts/{fid}", None),
        ("GET", f"/notebooks/{nb}", None),
        ("PATCH", f"/notebooks/{nb}", {"title": "mine now"}),
        ("DELETE", f"/notebooks/{nb}", None),
        ("POST", f"/notebooks/{nb}/entries", {"note": "hi"}),
        ("DELETE", f"/notebooks/{nb}/entries/{entry}", None),
        ("GET", f"/instructions/{iid}", None),
        ("GET", "/personas/Coach", None),
    ]:
        r = client.request(method, f"{API}{path}", headers=bob.headers, json=body)
        assert r.status_code == 404, (method, path, r.text)
    # Bob cannot pull Alice's memory into a notebook of his own either.
    his = call(client, bob, "POST", "/notebooks", 201, json={"title": "Mine"})["id"]
    call(client, bob, "POST", f"/notebooks/{his}/entries", 404, json={"memory_id": mid})
    assert call(client, bob, "GET", "/memories")["items"] == []
    assert call(client, bob, "GET", "/memories/search", params={"q": "oat milk", "vectors": False})["hits"] == []
    # Alice still has everything.
    assert call(client, alice, "GET", f"/memories/{mid}")["pinned"] is False
    assert call(client, alice, "GET", f"/notebooks/{nb}")["title"] == "Secrets"


def test_extraction_profiles_and_search_with_the_local_model(client: TestClient, alice: Account) -> None:
    upload(client, alice, "planted.json")
    report = call(client, alice, "POST", "/memories/extract")
    assert (report["memories_added"], report["memories_merged"], report["facts_added"], report["embedded"]) == (
        7, 3, 3, 7)
    # No word of the query is in the memory: the match is by meaning.
    hits = call(client, alice, "GET", "/memories/search", params={"q": "pet animal", "limit": 3})["hits"]
    assert hits[0]["content"] == "My dog Biscuit loves the beach."
    detail = call(client, alice, "GET", f"/memories/{hits[0]['id']}")
    assert [s["message_source_id"] for s in detail["sources"]] == ["p2-m2"]
    assert [f["category"] for f in call(client, alice, "GET", "/facts")["items"]] == ["name", "occupation", "family"]

    upload(client, alice, "profiles.json")
    topics = call(client, alice, "GET", "/profiles/topics")
    assert [t["slug"] for t in topics["items"]] == ["asyncio", "sourdough"] and topics["rebuilt"]["topics"] == 2
    topic = call(client, alice, "GET", "/profiles/topics/sourdough")
    assert topic["conversation_count"] == 2 and len(topic["conversations"]) == 2
    entities = call(client, alice, "GET", "/profiles/entities", params={"entity_type": "tool"})["items"]
    # Both imports count: Scala and Java come from the first conversation set.
    assert sorted(e["name"] for e in entities) == ["Docker", "Java", "PostgreSQL", "Python", "Scala"]
    assert entities[0]["name"] == "Python" and entities[0]["conversation_count"] == 3
    assert call(client, alice, "GET", "/profiles/entities/tomas")["entity_type"] == "person"
    call(client, alice, "GET", "/profiles/topics/knitting", 404)
    assert call(client, alice, "POST", "/profiles/rebuild")["entities"] >= 5


def test_instructions_personas_and_notebooks(client: TestClient, alice: Account) -> None:
    persona = call(client, alice, "POST", "/personas", 201,
                   json={"name": "Coder", "system_prompt": "Be terse.", "triggers": ["Python"], "is_default": True})
    assert persona["triggers"] == ["python"]
    call(client, alice, "POST", "/personas", 409, json={"name": "coder", "system_prompt": "again"})
    renamed = call(client, alice, "PATCH", "/personas/Coder", json={"name": "Engineer", "is_default": False})
    assert (renamed["name"], renamed["is_default"]) == ("Engineer", False)
    i = call(client, alice, "POST", "/instructions", 201,
             json={"content": "Show code first.", "scope": "persona", "persona": "Engineer", "priority": 2})
    assert i["persona_id"] == persona["id"]
    call(client, alice, "POST", "/instructions", 409, json={"content": "Show code first.", "scope": "persona",
                                                           "persona": "Engineer"})
    assert call(client, alice, "PATCH", f"/instructions/{i['id']}", json={"is_active": False})["is_active"] is False
    assert call(client, alice, "GET", "/instructions", params={"active": True})["items"] == []
    assert call(client, alice, "POST", "/instructions/import") == {"added": 0}
    call(client, alice, "DELETE", "/personas/Engineer")
    assert call(client, alice, "GET", "/instructions")["items"] == []

    mid = call(client, alice, "POST", "/memories", 201, json={"content": "I speak Farsi."})["id"]
    nb = call(client, alice, "POST", "/notebooks", 201, json={"title": "Languages"})["id"]
    call(client, alice, "POST", f"/notebooks/{nb}/entries", 201, json={"memory_id": mid})
    note = call(client, alice, "POST", f"/notebooks/{nb}/entries", 201, json={"note": "Practise daily", "position": 0})
    call(client, alice, "POST", f"/notebooks/{nb}/entries", 400, json={"note": "x", "memory_id": mid})
    shown = call(client, alice, "GET", f"/notebooks/{nb}")
    assert [(e["entry_type"], e["text"]) for e in shown["entries"]] == [("note", "Practise daily"),
                                                                         ("memory", "I speak Farsi.")]
    moved = call(client, alice, "PATCH", f"/notebooks/{nb}/entries/{note['id']}", json={"position": 5})
    assert moved["position"] == 1
    call(client, alice, "DELETE", f"/notebooks/{nb}/entries/{note['id']}")
    assert call(client, alice, "GET", "/notebooks")["items"][0]["entry_count"] == 1
    call(client, alice, "DELETE", f"/notebooks/{nb}")
    call(client, alice, "GET", f"/notebooks/{nb}", 404)
