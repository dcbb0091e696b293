"""The search and verify routes, against a vault indexed for real."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.e2e.test_api_support import new_account
from tests.fakes import HashingEmbedder
from vivim.api.app import create_app
from vivim.app import Vivim
from vivim.capture.importer import Importer


def test_search_and_verify_over_http(vivim: Vivim, tmp_path: Path) -> None:
    client = TestClient(create_app(vivim))
    sam = new_account(client, vivim, "sam")
    user = sam.user
    path = tmp_path / "v.json"
    path.write_text(
        json.dumps(
            {
                "format": "vivim.conversations/v1",
                "conversations": [
                    {
                        "id": "c1",
                        "title": "Tea",
                        "provider": "chatgpt",
                        "messages": [
                            {"id": "m1", "role": "user", "text": "How long should green tea steep?"},
                            {
                                "id": "m2",
                                "parent_id": "m1",
                                "role": "assistant",
                                "text": "Steep green tea for two minutes at 80 degrees.",
                            },
                        ],
                    }
                ],
            }
        )
    )
    Importer(store=vivim.store(user), master=vivim.master, user_id=user.id).import_paths([path])
    vivim._embedder = HashingEmbedder()  # fast stand-in; the real model is covered in test_search
    vivim.indexer(user).run()
    h = sam.headers
    res = client.get("/api/v1/search", params={"q": "green tea steep", "limit": 2}, headers=h)
    assert res.status_code == 200, res.text
    hits = res.json()["hits"]
    assert (
        hits
        and {"unit_id", "conversation_id", "message_id", "message_source_id", "score", "text"}
        <= hits[0].keys()
    )
    assert hits[0]["message_source_id"] in {"m1", "m2"}
    # The route writes its JSON itself: exactly the engine's hits, every field, same order.
    assert res.headers["content-type"] == "application/json"
    engine_hits = vivim.search_engine().search(vivim.store(user), "green tea steep", limit=2)
    assert res.json() == {"query": "green tea steep", "hits": [h.to_json() for h in engine_hits]}
    assert len(hits) == 2 and [h["message_source_id"] for h in hits] == [h.message_source_id for h in engine_hits]
    assert (
        client.get("/api/v1/search", params={"q": "tea", "since": "not a date"}, headers=h).json()["error"][
            "code"
        ]
        == "invalid_input"
    )
    assert client.get("/api/v1/search", params={"q": "tea"}).status_code == 401
    unit_id = hits[0]["unit_id"]
    ok = client.get(f"/api/v1/units/{unit_id}/verify", headers=h).json()
    assert ok == {"unit_id": unit_id, "valid": True, "reason": "valid"}
    with vivim.store(user).transaction() as conn:
        conn.execute("UPDATE atomic_chat_units SET content = 'edited' WHERE id = ?", (unit_id,))
    assert client.get(f"/api/v1/units/{unit_id}/verify", headers=h).json()["valid"] is False
    # Another user cannot search or verify into this vault.
    eve = new_account(client, vivim, "eve").headers
    assert client.get(f"/api/v1/units/{unit_id}/verify", headers=eve).status_code == 404
    assert client.get("/api/v1/search", params={"q": "green tea"}, headers=eve).json()["hits"] == []
