"""Sync over the HTTP API (FastAPI TestClient, real SQLite files): a device of the same
user (same DID, its own device key) pulls and pushes; interruptions resume without
duplicates; a revoked device and a personal API token cannot sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.sync_support import add_fact, snapshot
from vivim.api.app import create_app
from vivim.app import UserRecord, Vivim, open_vivim
from vivim.identity import service
from vivim.store.user.db import UserStore
from vivim.sync import remote
from vivim.sync.client import SyncError, sync
from vivim.sync.remote import HttpPeer, RemoteAuthError


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Vivim, UserRecord, TestClient]]:
    v = open_vivim(tmp_path / "server")
    v.init()
    user = v.create_user("alice")
    with TestClient(create_app(v)) as client:
        yield v, user, client
    v.close()


@pytest.fixture
def laptop(tmp_path: Path, server: tuple[Vivim, UserRecord, TestClient]) -> Iterator[tuple[UserStore, HttpPeer]]:
    v, user, client = server
    other = open_vivim(tmp_path / "laptop")
    other.init()
    # The same key pair, so the same DID: what `vivim keys export` / `keys import` do.
    local_user = other.create_user("alice", keypair=v.keypair(user))
    creds = remote.enrol(client, identity=other.keypair(local_user), name="laptop")
    yield other.store(local_user), HttpPeer(client, creds)
    other.close()


def _facts(store: UserStore) -> list[tuple[str, str]]:
    with store.read() as conn:
        return conn.execute("SELECT id, content FROM user_facts ORDER BY id").fetchall()


def test_a_device_pulls_the_server_vault_and_pushes_its_own_changes(
    server: tuple[Vivim, UserRecord, TestClient], laptop: tuple[UserStore, HttpPeer]
) -> None:
    v, user, _client = server
    store, peer = laptop
    add_fact(v.store(user), "s1", "server fact")
    add_fact(store, "l1", "laptop fact")
    report = sync(store, peer)
    assert (report.pulled, report.local.applied) == (1, 1)
    assert (report.pushed, report.remote.applied) == (1, 1)
    assert _facts(store) == _facts(v.store(user)) == [("l1", "laptop fact"), ("s1", "server fact")]
    again = sync(store, peer)
    assert (again.pulled, again.pushed) == (0, 0)  # what the laptop pushed is not sent back
    assert snapshot(store) == snapshot(v.store(user))


class _Cut(Exception):
    pass


class _FlakyPeer:
    """Fails the n-th call: a pull before the server answers, a push after it applied the
    page (the answer is lost: the worst case for duplicates)."""

    def __init__(self, peer: HttpPeer, fail_at: int) -> None:
        self.peer, self.fail_at, self.calls = peer, fail_at, 0

    def status(self) -> dict[str, Any]:
        return self.peer.status()

    def pull(self, **kw: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise _Cut("connection lost")
        return self.peer.pull(**kw)

    def push(self, **kw: Any) -> dict[str, Any]:
        self.calls += 1
        answer = self.peer.push(**kw)
        if self.calls == self.fail_at:
            raise _Cut("connection lost after the server applied the page")
        return answer


@pytest.mark.parametrize("fail_at", [2, 4, 6])
def test_an_interrupted_sync_resumes_without_duplicates(
    server: tuple[Vivim, UserRecord, TestClient], laptop: tuple[UserStore, HttpPeer], fail_at: int
) -> None:
    v, user, _client = server
    store, peer = laptop
    for i in range(5):
        add_fact(v.store(user), f"s{i}", f"server {i}")
        add_fact(store, f"l{i}", f"laptop {i}")
    # Page size 2: 3 pull pages (calls 1-3), then 3 push pages (calls 4-6).
    with pytest.raises(_Cut):
        sync(store, _FlakyPeer(peer, fail_at), page_size=2)
    report = sync(store, peer, page_size=2)
    with v.store(user).read() as conn:
        server_log = conn.execute("SELECT table_name, record_id FROM sync_versions").fetchall()
        conflicts = conn.execute("SELECT COUNT(*) FROM sync_conflicts").fetchone()[0]
    assert snapshot(store) == snapshot(v.store(user))
    assert len(_facts(store)) == 10 and len(server_log) == len(set(server_log)) == 10
    assert conflicts == 0 and report.local.conflicts == report.remote.conflicts == 0
    # The resumed sync picked up where the first stopped: pages before the cut were not
    # pulled again; a push page whose answer was lost is resent and skipped, not re-applied.
    pulled_before = {2: 2, 4: 5, 6: 5}[fail_at]
    assert report.pulled == 5 - pulled_before
    applied_before, resent = {2: (0, 0), 4: (2, 2), 6: (5, 1)}[fail_at]
    assert report.remote.applied + applied_before == 5
    assert report.remote.skipped == resent  # the page whose answer was lost


def test_a_revoked_device_can_no_longer_sync(
    server: tuple[Vivim, UserRecord, TestClient], laptop: tuple[UserStore, HttpPeer]
) -> None:
    v, user, client = server
    store, peer = laptop
    sync(store, peer)
    token = peer._token
    service.revoke_device(v, user, peer.creds.device_id)
    add_fact(store, "l1", "after revocation")
    with pytest.raises(RemoteAuthError, match="revoked"):
        sync(store, peer)
    r = client.get("/api/v1/sync/ops", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] in ("token_revoked", "device_revoked")
    assert _facts(v.store(user)) == []


def test_a_personal_api_token_is_not_a_device_and_cannot_sync(
    server: tuple[Vivim, UserRecord, TestClient],
) -> None:
    v, user, client = server
    _record, token = service.create_api_token(v, user, "script")
    r = client.get("/api/v1/sync/ops", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "session_required"
    assert client.get("/api/v1/sync/status").status_code == 401


def test_pushes_are_refused_when_malformed_and_plain_json_is_accepted(
    server: tuple[Vivim, UserRecord, TestClient], laptop: tuple[UserStore, HttpPeer]
) -> None:
    v, user, client = server
    _store, peer = laptop
    peer.login()
    headers = {"Authorization": f"Bearer {peer._token}"}
    bad = client.post("/api/v1/sync/ops", content=b"not gzip", headers={**headers, "Content-Encoding": "gzip"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    row = {"id": "p1", "content": "plain", "content_hash": "h:plain", "created_at": "t", "updated_at": "t"}
    op = {"table": "user_facts", "record": "p1", "operation": "insert", "hlc": "1700000000000-000000",
          "device": "d" * 32, "seq": 1, "row": row}
    ok = client.post("/api/v1/sync/ops", json={"node": "d" * 32, "ops": [op]}, headers=headers)
    assert ok.status_code == 200 and ok.json()["applied"] == 1
    assert _facts(v.store(user)) == [("p1", "plain")]
    unknown = dict(op, table="vault_meta")
    r = client.post("/api/v1/sync/ops", json={"node": "d" * 32, "ops": [unknown]}, headers=headers)
    assert r.json()["rejected"] == 1
    conflicts = client.get("/api/v1/sync/conflicts", headers=headers).json()["items"]
    assert [(c["kind"], c["table_name"]) for c in conflicts] == [("rejected", "vault_meta")]
    page = client.get(f"/api/v1/sync/conflicts?before={2**63 - 1}", headers=headers).json()["items"]
    assert page == conflicts
    # Past SQLite's 64-bit integers: refused as input, not a server error (found by schemathesis).
    too_big = client.get(f"/api/v1/sync/conflicts?before={2**63}", headers=headers)
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "validation_error"


def test_presence_is_kept_per_device_and_a_bundle_is_built_for_the_active_conversation(
    server: tuple[Vivim, UserRecord, TestClient], laptop: tuple[UserStore, HttpPeer]
) -> None:
    v, user, client = server
    _store, peer = laptop
    with v.store(user).transaction() as conn:
        conn.execute(
            "INSERT INTO conversations (id, provider, source_id, title, captured_at) VALUES ('c1','chatgpt','s','Tea','t')"
        )
        conn.execute(
            "INSERT INTO messages (id, conversation_id, source_id, role, parts, message_index)"
            " VALUES ('m1', 'c1', 'm1', 'user', '[{\"type\": \"text\", \"content\": \"how do I brew green tea\"}]', 0)"
        )
    with pytest.raises(SyncError, match="404 not_found: no conversation 'nope'"):
        peer.presence({"active_conversation_id": "nope"})
    p = peer.presence({"status": "online", "active_conversation_id": "c1", "visible_items": ["c1", "m1"]})
    assert (p["device_id"], p["active_conversation_id"], p["visible_items"]) == (peer.creds.device_id, "c1", ["c1", "m1"])
    [listed] = peer.presence()["items"]
    assert listed["device_id"] == peer.creds.device_id
    # The bundle was built after the answer (TestClient runs background tasks before returning).
    with v.store(user).read() as conn:
        bundle_id = conn.execute("SELECT bundle_id FROM client_presence").fetchone()[0]
        meta = conn.execute("SELECT metadata FROM client_presence").fetchone()[0]
        assert bundle_id is not None, meta
        assert conn.execute(
            "SELECT conversation_id FROM context_bundles WHERE id = ?", (bundle_id,)
        ).fetchone() == ("c1",)
