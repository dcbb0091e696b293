"""The context routes over HTTP: bundles, settings, presets; authenticated and isolated."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.e2e.test_api_support import API, conversation, generic_export, new_account
from vivim.api.app import create_app
from vivim.app import Vivim
from vivim.capture.importer import Importer

MESSAGE = "How long should green tea steep?"


def test_context_bundles_and_settings_over_http(vivim: Vivim, tmp_path: Path) -> None:
    client = TestClient(create_app(vivim))
    sam = new_account(client, vivim, "sam")
    eve = new_account(client, vivim, "eve")
    path = tmp_path / "v.json"
    path.write_bytes(
        generic_export(
            [
                conversation(
                    "tea",
                    "Green tea",
                    "2024-02-01T08:00:00Z",
                    [
                        "How hot should the water be for green tea?",
                        "Use water at 80 degrees and steep green tea for two minutes.",
                    ],
                )
            ]
        )
    )
    summary = Importer(store=vivim.store(sam.user), master=vivim.master, user_id=sam.user.id).import_paths(
        [path]
    )
    assert summary.ok and summary.totals()["created"] == 1, summary.to_json()
    vivim.indexer(sam.user, embed=False).run(embed=False)
    with vivim.store(sam.user).read() as c:
        sam_conv = c.execute("SELECT id FROM conversations").fetchone()[0]

    assert client.post(f"{API}/context", json={"message": MESSAGE}).status_code == 401

    r = client.post(f"{API}/context", json={"message": MESSAGE, "budget": 250}, headers=sam.headers)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["budget"] == 250 and 0 < b["total_tokens"] <= 250 and b["style"] == "markdown"
    assert "Use water at 80 degrees and steep green tea for two minutes." in b["content"]
    assert b["cached"] is False
    again = client.post(
        f"{API}/context", json={"message": MESSAGE, "budget": 250}, headers=sam.headers
    ).json()
    assert again["cached"] is True and again["content"] == b["content"]

    with_conv = client.post(
        f"{API}/context",
        json={"message": "and a second steep?", "conversation_id": sam_conv, "format": "text"},
        headers=sam.headers,
    ).json()
    items = with_conv["composition"]["layers"]["conversation"]["items"]
    assert [i["message_source_id"] for i in items] == ["tea-m0", "tea-m1"]
    assert with_conv["content"].startswith("[This conversation]")

    # Another user's conversation does not exist for eve; her vault has nothing of sam's.
    r = client.post(
        f"{API}/context", json={"message": MESSAGE, "conversation_id": sam_conv}, headers=eve.headers
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    eve_bundle = client.post(f"{API}/context", json={"message": MESSAGE}, headers=eve.headers).json()
    assert "80 degrees" not in eve_bundle["content"]

    for bad in (
        {"message": ""},
        {"message": MESSAGE, "budget": 3},
        {"message": MESSAGE, "format": "yaml"},
        {"message": MESSAGE, "surprise": 1},
    ):
        r = client.post(f"{API}/context", json=bad, headers=sam.headers)
        assert r.status_code == 422, (bad, r.text)

    s = client.get(f"{API}/context/settings", headers=sam.headers)
    assert s.status_code == 200 and s.json()["preset"] == "balanced"
    r = client.patch(
        f"{API}/context/settings",
        json={
            "preset": "developer",
            "layer_overrides": {"history": {"enabled": False}},
            "exclusions": {"unit_types": ["code_snippet"]},
        },
        headers=sam.headers,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["preset"] == "developer" and patched["max_context_tokens"] == 8000
    assert patched["layers"]["history"]["enabled"] is False
    assert client.get(f"{API}/context/settings", headers=sam.headers).json() == patched
    assert client.get(f"{API}/context/settings", headers=eve.headers).json()["preset"] == "balanced"
    r = client.patch(
        f"{API}/context/settings", json={"layer_overrides": {"gossip": {"max": 0.1}}}, headers=sam.headers
    )
    assert r.status_code == 400 and "unknown layer" in r.json()["error"]["message"]
    r = client.patch(f"{API}/context/settings", json={"preset": "maximal"}, headers=sam.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"

    presets = client.get(f"{API}/context/presets", headers=sam.headers).json()
    assert [p["name"] for p in presets] == ["balanced", "minimal", "knowledge", "developer", "privacy"]
    assert json.dumps(presets)
