"""Talking to a vivim server as one of the user's devices.

``enrol`` registers a new device key by signing a login challenge with the user's own
identity key (the same DID on both sides, via ``vivim keys export/import``) together with
the device key. ``HttpPeer`` then signs in with the device key alone and exchanges pages
over ``/api/v1/sync``. A revoked device is refused (401) at its next request.

Credentials live in ``<data dir>/sync/<user id>.json`` (mode 0600), one entry per server:
the device's private key is in the clear there, like ``vivim devices register --key-out``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vivim.domain.errors import InvalidInput, NotFound
from vivim.identity.auth import AuthError
from vivim.identity.keys import KeyPair, generate_keypair, keypair_from_private
from vivim.sync import wire
from vivim.sync.client import SyncError

if TYPE_CHECKING:  # httpx is imported by whoever makes the client
    import httpx

API = "/api/v1"
CREDENTIALS_FORMAT = "vivim.sync-credentials/v1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RemoteAuthError(AuthError):
    """The server refused this device (revoked, unknown, or its key does not match)."""

    code = "sync_unauthorized"


@dataclass(frozen=True)
class DeviceCredentials:
    remote: str
    did: str
    device_id: str
    private_key: str
    """base64url of the raw Ed25519 private key."""

    @property
    def keypair(self) -> KeyPair:
        return keypair_from_private(unb64(self.private_key))


def normalize_remote(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"{url!r} is not a server address (http://... or https://...)")
    return url


def credentials_path(data_dir: Path, user_id: str) -> Path:
    return data_dir / "sync" / f"{user_id}.json"


def load_all(data_dir: Path, user_id: str) -> dict[str, DeviceCredentials]:
    path = credentials_path(data_dir, user_id)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {r: DeviceCredentials(**c) for r, c in data["remotes"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path} is not a sync credentials file: {exc}") from None


def load(data_dir: Path, user_id: str, remote: str | None) -> DeviceCredentials:
    creds = load_all(data_dir, user_id)
    if remote is None:
        if len(creds) == 1:
            return next(iter(creds.values()))
        if not creds:
            raise NotFound("this vault is not set up to sync: run `vivim sync login --remote URL` first")
        raise InvalidInput(f"several servers are set up ({', '.join(sorted(creds))}); pass --remote")
    remote = normalize_remote(remote)
    if remote not in creds:
        raise NotFound(f"no sync login for {remote}: run `vivim sync login --remote {remote}` first")
    return creds[remote]


def save(data_dir: Path, user_id: str, creds: DeviceCredentials) -> Path:
    all_creds = load_all(data_dir, user_id)
    all_creds[creds.remote] = creds
    path = credentials_path(data_dir, user_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"format": CREDENTIALS_FORMAT, "remotes": {r: asdict(c) for r, c in all_creds.items()}}, f, indent=2)
    os.replace(tmp, path)
    return path


def _check(r: httpx.Response) -> dict[str, Any]:
    if r.status_code < 400:
        return wire.loads(r.content) if r.content else {}
    try:
        error = r.json()["error"]
        code, message = error.get("code", ""), error.get("message", r.text)
    except (ValueError, KeyError, TypeError):
        code, message = "", r.text[:200]
    if r.status_code == 401:
        raise RemoteAuthError(f"the server refused this device: {message}")
    raise SyncError(f"the server answered {r.status_code} {code}: {message}")


def enrol(
    http: httpx.Client, *, identity: KeyPair, name: str, device_type: str = "desktop", platform: str = "unknown",
    device_key: KeyPair | None = None,
) -> DeviceCredentials:
    """Register a new device key under the user whose identity key we hold, by signing in
    with both keys; returns the device's credentials for this server."""
    device_key = device_key or generate_keypair()
    ch = _check(http.post(f"{API}/auth/challenge", json={"did": identity.did}))
    message = ch["message"].encode()
    tokens = _check(
        http.post(
            f"{API}/auth/token",
            json={
                "challenge_id": ch["challenge_id"],
                "signature": b64(identity.sign(message)),
                "device": {
                    "public_key": b64(device_key.public_key),
                    "signature": b64(device_key.sign(message)),
                    "name": name,
                    "type": device_type,
                    "platform": platform,
                },
            },
        )
    )
    return DeviceCredentials(
        remote=normalize_remote(str(http.base_url)),
        did=identity.did,
        device_id=tokens["device_id"],
        private_key=b64(device_key.private_key),
    )


class HttpPeer:
    """A vivim server's sync routes, signed in as one device."""

    def __init__(self, http: httpx.Client, creds: DeviceCredentials) -> None:
        self.http = http
        self.creds = creds
        self._token: str | None = None

    def login(self) -> None:
        ch = _check(self.http.post(f"{API}/auth/challenge", json={"did": self.creds.did, "device_id": self.creds.device_id}))
        signature = self.creds.keypair.sign(ch["message"].encode())
        tokens = _check(
            self.http.post(f"{API}/auth/token", json={"challenge_id": ch["challenge_id"], "signature": b64(signature)})
        )
        self._token = tokens["access_token"]

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in (0, 1):
            if self._token is None:
                self.login()
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self._token}"}
            r = self.http.request(method, f"{API}{path}", headers=headers, **kwargs)
            if r.status_code == 401 and attempt == 0:
                # An expired access token: sign in again once (a revoked device fails there).
                self._token = None
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            return _check(r)
        raise AssertionError("unreachable")

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/sync/status")

    def pull(self, *, since: int, limit: int, node: str) -> dict[str, Any]:
        return self._request("GET", "/sync/ops", params={"since": since, "limit": limit, "node": node})

    def push(self, *, node: str, body: bytes) -> dict[str, Any]:
        return self._request(
            "POST", "/sync/ops", content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    def presence(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if body is None:
            return self._request("GET", "/sync/presence")
        return self._request("PUT", "/sync/presence", json=body)

    def conflicts(self, limit: int = 50) -> dict[str, Any]:
        return self._request("GET", "/sync/conflicts", params={"limit": limit})


__all__ = [
    "DeviceCredentials",
    "HttpPeer",
    "RemoteAuthError",
    "credentials_path",
    "enrol",
    "load",
    "load_all",
    "normalize_remote",
    "save",
]
