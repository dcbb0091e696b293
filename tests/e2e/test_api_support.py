"""Helpers for the HTTP API tests (no tests here): a signed-in account, signing, raw rows.

A client signs in exactly as a real one would: it asks for a challenge, signs the message
with Ed25519 (the ``cryptography`` package, not vivim's own signing), and enrols its device.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from vivim.app import UserRecord, Vivim
from vivim.identity.keys import KeyPair

API = "/api/v1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass
class Account:
    user: UserRecord
    identity: KeyPair
    device_key: Ed25519PrivateKey
    device_id: str = ""
    access: str = ""
    refresh: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def challenge(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/auth/challenge", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def enrol(client: TestClient, account: Account, name: str = "laptop") -> dict[str, Any]:
    """Sign in with the user's own key, enrolling ``account.device_key``; returns the response."""
    ch = challenge(client, handle=account.user.handle)
    message = ch["message"].encode()
    return client.post(
        f"{API}/auth/token",
        json={
            "challenge_id": ch["challenge_id"],
            "signature": b64(account.identity.sign(message)),
            "device": {
                "public_key": b64(raw_public(account.device_key)),
                "signature": b64(account.device_key.sign(message)),
                "name": name,
                "type": "desktop",
                "platform": "linux",
            },
        },
    ).json()


def device_sign_in(client: TestClient, account: Account) -> Any:
    """Sign in with the device key (the usual login once a device is enrolled)."""
    ch = challenge(client, did=account.user.did, device_id=account.device_id)
    return client.post(
        f"{API}/auth/token",
        json={"challenge_id": ch["challenge_id"], "signature": b64(account.device_key.sign(ch["message"].encode()))},
    )


def new_account(client: TestClient, vivim: Vivim, name: str) -> Account:
    user = vivim.create_user(name)
    account = Account(user=user, identity=vivim.keypair(user), device_key=Ed25519PrivateKey.generate())
    tokens = enrol(client, account)
    account.device_id = tokens["device_id"]
    account.access = tokens["access_token"]
    account.refresh = tokens["refresh_token"]
    return account


def generic_export(conversations: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": "vivim.conversations/v1", "conversations": conversations}).encode()


def conversation(cid: str, title: str, created_at: str, texts: list[str], provider: str = "chatgpt") -> dict[str, Any]:
    messages = []
    for i, text in enumerate(texts):
        messages.append(
            {
                "id": f"{cid}-m{i}",
                "parent_id": f"{cid}-m{i - 1}" if i else None,
                "role": "user" if i % 2 == 0 else "assistant",
                "created_at": created_at,
                "text": text,
            }
        )
    return {"id": cid, "title": title, "provider": provider, "created_at": created_at, "messages": messages}


def insert_unit(vivim: Vivim, user: UserRecord, *, unit_id: str, conversation_id: str, content: str) -> None:
    """A unit row written with plain SQL (the API only reads units)."""
    with vivim.store(user).transaction() as conn:
        message_id = conn.execute(
            "SELECT id FROM messages WHERE conversation_id = ? ORDER BY message_index LIMIT 1", (conversation_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO atomic_chat_units (id, author_did, content, content_hash, type, category, conversation_id,"
            " message_id, message_index, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (unit_id, user.did, content, "h-" + unit_id, "statement", "general", conversation_id, message_id, 0,
             "2026-01-01T00:00:00.000000Z"),
        )


def insert_link(vivim: Vivim, user: UserRecord, *, link_id: str, source: str, target: str) -> None:
    with vivim.store(user).transaction() as conn:
        conn.execute(
            "INSERT INTO acu_links (id, source_id, target_id, relation, weight, created_at, metadata)"
            " VALUES (?,?,?,?,?,?,?)",
            (link_id, source, target, "follows", 1.0, "2026-01-01T00:00:00.000000Z", "{}"),
        )


def wait_for_job(client: TestClient, account: Account, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"{API}/imports/{job_id}", headers=account.headers).json()
        if job["status"] in ("succeeded", "partial", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def table_count(path: Any, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
