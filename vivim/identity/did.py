"""did:key for Ed25519 public keys (multicodec 0xed01, base58btc, ``z`` prefix)."""

from __future__ import annotations

import base58

from vivim.domain.errors import VivimError

_ED25519_MULTICODEC = b"\xed\x01"
_PREFIX = "did:key:z"


class InvalidDid(VivimError):
    """A string is not an Ed25519 did:key."""

    code = "invalid_did"


def did_from_public_key(public_key: bytes) -> str:
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return _PREFIX + base58.b58encode(_ED25519_MULTICODEC + public_key).decode("ascii")


def public_key_from_did(did: str) -> bytes:
    if not did.startswith(_PREFIX):
        raise InvalidDid(f"{did!r} is not a did:key with a base58btc ('z') multibase value")
    try:
        raw = base58.b58decode(did[len(_PREFIX) :])
    except ValueError as exc:
        raise InvalidDid(f"{did!r}: invalid base58btc: {exc}") from exc
    if raw[:2] != _ED25519_MULTICODEC or len(raw) != 34:
        raise InvalidDid(f"{did!r} is not an Ed25519 did:key")
    return raw[2:]
