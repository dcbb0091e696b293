"""Devices: each has its own Ed25519 key, registered under a user.

A device is named by its key: ``fingerprint`` is the hex SHA-256 of the raw 32-byte public
key and ``device_id`` its first 32 hex characters, so the same key always gets the same
id, a key can be registered only once in the whole deployment, and anyone holding the
public key can recompute the id. Revoking a device is final (``is_active`` false, its
sessions revoked); the key cannot be registered again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from vivim.domain.errors import AlreadyExists, InvalidIdentifier, NotFound
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso, utcnow
from vivim.identity.keys import b64encode, verify
from vivim.store.master.models import AuthSession, Device

_devices = Device.__table__
_sessions = AuthSession.__table__

DEVICE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_NAME = 255
MAX_KIND = 64
REGISTRATION_CONTEXT = "vivim-device-registration:v1"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: str
    """Primary key (internal)."""
    user_id: str
    device_id: str
    """The public id: derived from the key."""
    device_name: str
    device_type: str
    platform: str
    fingerprint: str | None
    public_key: str
    is_active: bool
    is_trusted: bool
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    metadata_: dict[str, Any]

    @property
    def public_key_bytes(self) -> bytes:
        return decode_public_key(self.public_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "name": self.device_name,
            "type": self.device_type,
            "platform": self.platform,
            "fingerprint": self.fingerprint,
            "public_key": self.public_key,
            "is_active": self.is_active,
            "is_trusted": self.is_trusted,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_seen_at": self.last_seen_at,
            "revoked_at": self.metadata_.get("revoked_at"),
        }


_COLUMNS = [_devices.c[name] for name in DeviceRecord.__dataclass_fields__ if name != "metadata_"] + [
    _devices.c.metadata.label("metadata_")
]


def _record(row: Any) -> DeviceRecord:
    return DeviceRecord(**row._mapping)


def decode_b64(text: str, what: str) -> bytes:
    """Strict base64: URL-safe or standard alphabet, padding optional, nothing else."""
    body = text.strip().rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidIdentifier(f"the {what} is not valid base64") from None


def decode_public_key(text: str) -> bytes:
    """A raw Ed25519 public key from base64 (URL-safe or standard, padding optional)."""
    if not isinstance(text, str) or not 40 <= len(text) <= 48:
        raise InvalidIdentifier("a public key is 32 bytes in base64 (43 characters)")
    raw = decode_b64(text, "public key")
    if len(raw) != 32:
        raise InvalidIdentifier(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return raw


def decode_signature(text: str) -> bytes:
    if not isinstance(text, str) or not 80 <= len(text) <= 90:
        raise InvalidIdentifier("a signature is 64 bytes in base64 (86 characters)")
    raw = decode_b64(text, "signature")
    if len(raw) != 64:
        raise InvalidIdentifier(f"an Ed25519 signature is 64 bytes, not {len(raw)}")
    return raw


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def device_id_for(public_key: bytes) -> str:
    return fingerprint(public_key)[:32]


def registration_message(user_did: str, public_key: bytes) -> bytes:
    """What a device signs to prove it holds its key when registered over the API."""
    return f"{REGISTRATION_CONTEXT}\ndid:{user_did}\npublic_key:{b64encode(public_key)}".encode()


def verify_possession(public_key: bytes, signature: bytes, message: bytes) -> bool:
    return verify(public_key, signature, message)


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(f"a device {what} must not be empty")
    value = value.strip()
    if len(value) > limit or "\x00" in value:
        raise InvalidIdentifier(f"a device {what} is at most {limit} characters, without NUL")
    return value


def validate_device_id(device_id: object) -> str:
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        raise NotFound(f"no device {str(device_id)[:40]!r}")
    return device_id


def register_device(
    conn: Connection,
    *,
    user_id: str,
    public_key: bytes,
    name: str,
    device_type: str = "unknown",
    platform: str = "unknown",
    trusted: bool = False,
) -> DeviceRecord:
    """Register a device key under a user. A key already registered (to anyone, revoked or
    not) is :class:`AlreadyExists`: one key, one device, forever."""
    if len(public_key) != 32:
        raise InvalidIdentifier("an Ed25519 public key is 32 bytes")
    now = utcnow()
    values = {
        "id": new_id(),
        "user_id": user_id,
        "device_id": device_id_for(public_key),
        "device_name": _text(name, "name", MAX_NAME),
        "device_type": _text(device_type, "type", MAX_KIND),
        "platform": _text(platform, "platform", MAX_KIND),
        "fingerprint": fingerprint(public_key),
        "public_key": b64encode(public_key),
        "is_active": True,
        "is_trusted": trusted,
        "created_at": now,
        "updated_at": now,
        "last_seen_at": now,
        "metadata": {},
    }
    existing = conn.execute(select(_devices.c.id).where(_devices.c.device_id == values["device_id"])).first()
    if existing is not None:
        raise AlreadyExists("this device key is already registered; a revoked key cannot be reused")
    try:
        conn.execute(insert(_devices), values)
    except IntegrityError as exc:  # a concurrent registration of the same key
        raise AlreadyExists("this device key is already registered") from exc
    values["metadata_"] = values.pop("metadata")
    return DeviceRecord(**values)


def list_devices(
    conn: Connection,
    *,
    user_id: str,
    include_revoked: bool = True,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[DeviceRecord]:
    """The user's devices, oldest first; ``after`` is the (created_at, device_id) last seen."""
    q = select(*_COLUMNS).where(_devices.c.user_id == user_id)
    if not include_revoked:
        q = q.where(_devices.c.is_active.is_(True))
    if after is not None:
        created, device_id = after
        q = q.where(
            (_devices.c.created_at > created)
            | ((_devices.c.created_at == created) & (_devices.c.device_id > device_id))
        )
    q = q.order_by(_devices.c.created_at, _devices.c.device_id)
    if limit is not None:
        q = q.limit(limit)
    return [_record(r) for r in conn.execute(q)]


def get_device(conn: Connection, *, user_id: str, device_id: str) -> DeviceRecord:
    """One of the user's devices; another user's device is :class:`NotFound`, as is a missing one."""
    validate_device_id(device_id)
    row = conn.execute(
        select(*_COLUMNS).where(_devices.c.device_id == device_id, _devices.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    return _record(row)


def update_device(
    conn: Connection,
    *,
    user_id: str,
    device_id: str,
    name: str | None = None,
    trusted: bool | None = None,
) -> DeviceRecord:
    device = get_device(conn, user_id=user_id, device_id=device_id)
    values: dict[str, Any] = {"updated_at": utcnow()}
    if name is not None:
        values["device_name"] = _text(name, "name", MAX_NAME)
    if trusted is not None:
        values["is_trusted"] = trusted
    conn.execute(update(_devices).where(_devices.c.id == device.id).values(**values))
    return get_device(conn, user_id=user_id, device_id=device_id)


def revoke_device(conn: Connection, *, user_id: str, device_id: str) -> DeviceRecord:
    """Deactivate a device and revoke every session it holds, in the caller's transaction.

    Requests carrying its tokens fail from the next one on: authentication checks the
    device's ``is_active`` on every request, and the sessions are revoked besides.
    """
    device = get_device(conn, user_id=user_id, device_id=device_id)
    now = utcnow()
    if device.is_active:
        conn.execute(
            update(_devices)
            .where(_devices.c.id == device.id)
            .values(is_active=False, updated_at=now, metadata={**device.metadata_, "revoked_at": to_iso(now)})
        )
    conn.execute(
        update(_sessions)
        .where(_sessions.c.device_id == device.id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason="device_revoked")
    )
    return get_device(conn, user_id=user_id, device_id=device_id)


def touch_device(conn: Connection, device_pk: str) -> None:
    conn.execute(update(_devices).where(_devices.c.id == device_pk).values(last_seen_at=utcnow()))


__all__ = [
    "DeviceRecord",
    "decode_public_key",
    "decode_signature",
    "device_id_for",
    "fingerprint",
    "get_device",
    "list_devices",
    "register_device",
    "registration_message",
    "revoke_device",
    "update_device",
]
