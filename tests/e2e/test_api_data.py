"""Reading a vault over HTTP: conversations (filters, cursors, messages, delete), units and
links, statistics, health, errors and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
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
from tests.shared import shared_fixture
from vivim.api.app import create_app
from vivim.app import Vivim

CONVERSATIONS = [
    conversation("jan", "January", "2026-01-15T09:00:00Z", ["q1", "a1"]),
    conversation("feb", "February", "2026-02-15T09:00:00Z", ["q2", "a2", "q3", "a3"], provider="claude"),
    conversation("mar", "March", "2026-03-15T09:00:00Z", ["q4", "a4", "q5"]),
]


@pytest.fixture
def client(vivim: Vivim) -> Iterator[TestClient]:
    with TestClient(create_app(vivim)) as c:
        yield c


@pytest.fixture
def alice(client: TestClient, vivim: Vivim) -> Account:
    account = new_account(client, vivim, "alice")
    r = client.post(
        f"{API}/imports",
        files=[("files", ("export.json", generic_export(CONVERSATIONS), "application/json"))],
        headers=account.headers,
    )
    assert wait_for_job(client, account, r.json()["id"])["status"] == "succeeded"
    return account


def get(client: TestClient, account: Account, path: str, **params: Any) -> Any:
    r = client.get(f"{API}{path}", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    return r.json()


def by_title(client: TestClient, account: Account) -> dict[str, str]:
    return {c["title"]: c["id"] for c in get(client, account, "/conversations")["items"]}


def test_conversations_page_through_with_opaque_cursors(client: TestClient, alice: Account) -> None:
    first = get(client, alice, "/conversations", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = get(client, alice, "/conversations", limit=2, cursor=first["next_cursor"])
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    seen = [c["title"] for c in first["items"] + second["items"]]
    assert sorted(seen) == ["February", "January", "March"]
    r = client.get(f"{API}/conversations", params={"cursor": "not-a-cursor"}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"
    # A cursor from another listing is refused too.
    units_cursor = "eyJrIjoidW5pdHMiLCJ2IjpbImEiLCJiIl19"  # {"k":"units","v":["a","b"]}
    r = client.get(f"{API}/conversations", params={"cursor": units_cursor}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"


def test_conversations_filter_by_provider_and_time(client: TestClient, alice: Account) -> None:
    titles = lambda **p: sorted(c["title"] for c in get(client, alice, "/conversations", **p)["items"])  # noqa: E731
    assert titles(provider="claude") == ["February"]
    assert titles(since="2026-02-01T00:00:00Z") == ["February", "March"]
    assert titles(until="2026-02-01T00:00:00Z") == ["January"]
    assert titles(since="2026-02-01T00:00:00Z", until="2026-03-01T00:00:00Z") == ["February"]
    assert titles(provider="chatgpt", since="2026-03-01T00:00:00Z") == ["March"]
    r = client.get(f"{API}/conversations", params={"since": "last tuesday"}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error" and "since" in r.json()["error"]["message"]


def test_a_conversation_comes_with_its_messages_in_order(client: TestClient, alice: Account) -> None:
    conv = get(client, alice, f"/conversations/{by_title(client, alice)['February']}")
    assert conv["provider"] == "claude" and conv["source_id"] == "feb" and conv["message_count"] == 4
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "user", "assistant"]
    assert [m["parts"][0]["text"] for m in conv["messages"]] == ["q2", "a2", "q3", "a3"]
    assert [m["source_id"] for m in conv["messages"]] == ["feb-m0", "feb-m1", "feb-m2", "feb-m3"]
    assert conv["messages"][1]["parent_id"] == conv["messages"][0]["id"]


def test_deleting_a_conversation_removes_it_and_its_units(client: TestClient, vivim: Vivim, alice: Account) -> None:
    conv_id = by_title(client, alice)["March"]
    insert_unit(vivim, alice.user, unit_id="1" * 32, conversation_id=conv_id, content="march fact")
    r = client.delete(f"{API}/conversations/{conv_id}", headers=alice.headers)
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"{API}/conversations/{conv_id}", headers=alice.headers).status_code == 404
    assert client.get(f"{API}/units/{'1' * 32}", headers=alice.headers).status_code == 404
    assert client.delete(f"{API}/conversations/{conv_id}", headers=alice.headers).status_code == 404
    assert sorted(by_title(client, alice)) == ["February", "January"]


def test_units_list_get_and_links(client: TestClient, vivim: Vivim, alice: Account) -> None:
    conv_id = by_title(client, alice)["January"]
    for i, text in enumerate(["first fact", "second fact", "third fact"]):
        insert_unit(vivim, alice.user, unit_id=str(i + 1) * 32, conversation_id=conv_id, content=text)
    insert_link(vivim, alice.user, link_id="9" * 32, source="1" * 32, target="2" * 32)
    page = get(client, alice, "/units", limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = get(client, alice, "/units", limit=2, cursor=page["next_cursor"])
    assert sorted(u["content"] for u in page["items"] + rest["items"]) == ["first fact", "second fact", "third fact"]
    in_conv = get(client, alice, "/units", conversation_id=conv_id, limit=2)
    more = get(client, alice, "/units", conversation_id=conv_id, limit=2, cursor=in_conv["next_cursor"])
    assert [u["id"] for u in in_conv["items"] + more["items"]] == ["1" * 32, "2" * 32, "3" * 32]
    unit = get(client, alice, f"/units/{'2' * 32}")
    assert unit["content"] == "second fact" and unit["author_did"] == alice.user.did
    assert unit["message_source_id"] == "jan-m0"
    links = get(client, alice, f"/units/{'2' * 32}/links")["items"]
    assert [(link["source_id"], link["target_id"], link["direction"]) for link in links] == [("1" * 32, "2" * 32, "in")]
    assert get(client, alice, f"/units/{'3' * 32}/links")["items"] == []
    assert client.get(f"{API}/units/{'4' * 32}/links", headers=alice.headers).status_code == 404


def test_stats_count_what_was_imported(client: TestClient, alice: Account) -> None:
    stats = get(client, alice, "/stats", recent=5)
    assert stats["conversations"] == {"chatgpt": 2, "claude": 1} and stats["total_conversations"] == 3
    assert stats["units"] == {"total": 0, "embedded": 0}
    providers = {p["provider"]: p for p in stats["providers"]}
    assert providers["chatgpt"]["successful_captures"] == 2 and providers["claude"]["total_messages"] == 4
    assert len(stats["recent_attempts"]) == 4  # the file and its three conversations


def test_health_is_public_and_errors_have_one_shape(client: TestClient) -> None:
    assert client.get(f"{API}/health").json() == {"status": "ok", "version": "0.1.0", "master": "ok"}
    r = client.get(f"{API}/no-such-thing")
    assert r.status_code == 404 and r.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    r = client.put(f"{API}/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_the_openapi_document_lists_every_resource_under_api_v1(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {
        f"{API}/auth/challenge", f"{API}/auth/token", f"{API}/auth/refresh", f"{API}/auth/logout",
        f"{API}/users/me", f"{API}/users/me/key-export", f"{API}/devices", f"{API}/devices/{{device_id}}",
        f"{API}/tokens", f"{API}/tokens/{{token_id}}", f"{API}/imports", f"{API}/imports/{{job_id}}",
        f"{API}/imports/{{job_id}}/attempts", f"{API}/conversations", f"{API}/conversations/{{conversation_id}}",
        f"{API}/units", f"{API}/units/{{unit_id}}", f"{API}/units/{{unit_id}}/links", f"{API}/stats", f"{API}/health",
    } <= paths
    assert all(p.startswith(API) for p in paths)
    assert "multipart/form-data" in doc["paths"][f"{API}/imports"]["post"]["requestBody"]["content"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_saved_share_page_imports_over_http(client: TestClient, vivim: Vivim, tmp_path: Path) -> None:
    page = shared_fixture("share-pages/claude.html")
    account = new_account(client, vivim, "carol")
    r = client.post(
        f"{API}/imports",
        files=[("files", ("claude.html", page.read_bytes(), "text/html"))],
        headers=account.headers,
    )
    assert r.status_code == 202, r.text
    job = wait_for_job(client, account, r.json()["id"])
    assert job["status"] == "succeeded" and job["conversations"]["created"] == 1
    [conv] = get(client, account, "/conversations")["items"]
    assert conv["message_count"] == 4
