"""The API behind a real uvicorn server on loopback: sign in, upload, poll, and a streamed
upload with no Content-Length cut off at the limit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.test_api_support import API, b64, conversation, generic_export, raw_public
from vivim.api.app import create_app
from vivim.api.config import ApiConfig
from vivim.app import Vivim

LIMIT = 256 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(vivim: Vivim) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(vivim, config=ApiConfig(max_upload_bytes=LIMIT)), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _sign_in(http: httpx.Client, vivim: Vivim) -> dict[str, str]:
    user = vivim.create_user("alice")
    identity = vivim.keypair(user)
    device = Ed25519PrivateKey.generate()
    ch = http.post(f"{API}/auth/challenge", json={"handle": "alice"}).json()
    message = ch["message"].encode()
    assert ch["origin"] == str(http.base_url).rstrip("/")
    tokens = http.post(
        f"{API}/auth/token",
        json={
            "challenge_id": ch["challenge_id"],
            "signature": b64(identity.sign(message)),
            "device": {"public_key": b64(raw_public(device)), "signature": b64(device.sign(message)), "name": "cli"},
        },
    ).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_sign_in_upload_and_poll_over_real_http(server: str, vivim: Vivim) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get(f"{API}/health").json()["status"] == "ok"
        headers = _sign_in(http, vivim)
        export = generic_export([conversation("c1", "Over the wire", "2026-01-01T00:00:00Z", ["hi", "hello"])])
        r = http.post(f"{API}/imports", files=[("files", ("e.json", export, "application/json"))], headers=headers)
        assert r.status_code == 202, r.text
        job: dict[str, Any] = r.json()
        deadline = time.monotonic() + 30
        while job["status"] not in ("succeeded", "partial", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = http.get(f"{API}/imports/{job['id']}", headers=headers).json()
        assert job["status"] == "succeeded" and job["conversations"]["created"] == 1
        [conv] = http.get(f"{API}/conversations", headers=headers).json()["items"]
        assert conv["title"] == "Over the wire"


def test_a_streamed_upload_without_length_is_cut_off_and_leaves_nothing(server: str, vivim: Vivim) -> None:
    uploads = vivim.settings.data_dir / "tmp" / "uploads"
    boundary = "b0undary"
    offered = {"bytes": 0}

    def body() -> Iterator[bytes]:
        yield (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.json\"\r\n\r\n"
        ).encode()
        for _ in range(256):  # 16 MiB offered against a 256 KiB limit
            offered["bytes"] += 65536
            yield b"[" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    with httpx.Client(base_url=server, timeout=30) as http:
        headers = _sign_in(http, vivim)
        try:
            r = http.post(
                f"{API}/imports",
                content=body(),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        except httpx.TransportError:
            r = None  # the server may close the connection while the client is still sending
        if r is not None:
            assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # The server stopped writing at the limit and removed what it had written.
    assert (sorted(uploads.rglob("*")) if uploads.exists() else []) == []
