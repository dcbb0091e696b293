"""Passphrase-protected export of a user's identity key, to carry a DID to another instance.

Envelope (JSON, ``vivim.key-export/v1``; docs/SECURITY.md)::

    {"format": "vivim.key-export/v1", "did": "did:key:z6Mk...", "key_type": "Ed25519",
     "public_key": "<base64url, 32 bytes>",
     "kdf": {"name": "argon2id", "salt": "<base64url, 16 bytes>", "memory_kib": 65536,
             "iterations": 3, "lanes": 4},
     "cipher": {"name": "aes-256-gcm", "nonce": "<base64url, 12 bytes>"},
     "ciphertext": "<base64url: AES-256-GCM(key, nonce, 32-byte private key, aad) || tag>",
     "created_at": "2026-02-21T10:00:00.000000Z"}

key = Argon2id(NFC-normalised UTF-8 passphrase, salt, 32 bytes); aad =
``vivim.key-export/v1\\n<did>\\n<public_key>`` (UTF-8), which binds the ciphertext to the
identity named beside it. Import re-derives the public key from the decrypted private key
and refuses the file unless it matches both ``public_key`` and ``did``.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from vivim.domain.errors import VivimError
from vivim.domain.times import to_iso, utcnow
from vivim.identity.did import InvalidDid, public_key_from_did
from vivim.identity.keys import KeyPair, b64decode, b64encode, keypair_from_private

FORMAT = "vivim.key-export/v1"
MIN_PASSPHRASE = 8
MAX_PASSPHRASE = 1024

# Argon2id defaults: RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes);
# about 0.4 s on a 2-core machine.
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_ITERATIONS = 3
DEFAULT_LANES = 4
# What an import accepts: enough room for stronger settings, but a crafted file cannot make
# the server allocate gigabytes or spin for minutes.
MAX_MEMORY_KIB = 1024 * 1024
MAX_ITERATIONS = 16
MAX_LANES = 16
MAX_ENVELOPE_BYTES = 64 * 1024


class KeyExportError(VivimError):
    """A key export file is malformed, or its parameters are out of range."""

    code = "invalid_key_export"


class BadPassphrase(VivimError):
    """The passphrase is too short, or does not open the export."""

    code = "bad_passphrase"


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE:
        raise BadPassphrase(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    if len(passphrase) > MAX_PASSPHRASE:
        raise BadPassphrase(f"the passphrase must be at most {MAX_PASSPHRASE} characters")
    # The same passphrase typed on different systems may arrive composed or decomposed.
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _aad(did: str, public_key_b64: str) -> bytes:
    return f"{FORMAT}\n{did}\n{public_key_b64}".encode()


def _derive(passphrase: bytes, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    return Argon2id(
        salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib
    ).derive(passphrase)


def export_key(
    keypair: KeyPair,
    passphrase: str,
    *,
    memory_kib: int = DEFAULT_MEMORY_KIB,
    iterations: int = DEFAULT_ITERATIONS,
    lanes: int = DEFAULT_LANES,
) -> dict[str, Any]:
    """The export envelope (a JSON-ready dict) for ``keypair``, locked with ``passphrase``."""
    secret = _passphrase_bytes(passphrase)
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    public_b64 = keypair.public_key_b64
    key = _derive(secret, salt, memory_kib, iterations, lanes)
    ciphertext = AESGCM(key).encrypt(nonce, keypair.private_key, _aad(keypair.did, public_b64))
    return {
        "format": FORMAT,
        "did": keypair.did,
        "key_type": "Ed25519",
        "public_key": public_b64,
        "kdf": {
            "name": "argon2id",
            "salt": b64encode(salt),
            "memory_kib": memory_kib,
            "iterations": iterations,
            "lanes": lanes,
        },
        "cipher": {"name": "aes-256-gcm", "nonce": b64encode(nonce)},
        "ciphertext": b64encode(ciphertext),
        "created_at": to_iso(utcnow()),
    }


def dumps(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, indent=2, sort_keys=True) + "\n"


def loads(data: bytes | str) -> dict[str, Any]:
    if len(data) > MAX_ENVELOPE_BYTES:
        raise KeyExportError("not a vivim key export: the file is far too large")
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyExportError(f"not a vivim key export: not JSON ({exc})") from None
    if not isinstance(envelope, dict):
        raise KeyExportError("not a vivim key export: expected a JSON object")
    return envelope


def _field(obj: dict[str, Any], name: str, kind: type, where: str = "") -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KeyExportError(f"key export: {where}{name} is missing or not a {kind.__name__}")
    return value


def _bytes(obj: dict[str, Any], name: str, size: int, where: str = "") -> bytes:
    text = _field(obj, name, str, where)
    try:
        raw = b64decode(text)
    except ValueError:
        raise KeyExportError(f"key export: {where}{name} is not base64url") from None
    if len(raw) != size:
        raise KeyExportError(f"key export: {where}{name} must be {size} bytes, not {len(raw)}")
    return raw


def _int(obj: dict[str, Any], name: str, low: int, high: int) -> int:
    value = _field(obj, name, int, "kdf.")
    if not low <= value <= high:
        raise KeyExportError(f"key export: kdf.{name} must be between {low} and {high}")
    return value


def import_key(envelope: dict[str, Any], passphrase: str) -> KeyPair:
    """Open an export envelope; :class:`BadPassphrase` when the passphrase is wrong (or the
    file was altered: AES-GCM cannot tell the two apart)."""
    if envelope.get("format") != FORMAT:
        raise KeyExportError(f"not a vivim key export (format {str(envelope.get('format'))[:40]!r}, expected {FORMAT!r})")
    if envelope.get("key_type") != "Ed25519":
        raise KeyExportError("key export: only Ed25519 keys are supported")
    did = _field(envelope, "did", str)
    try:
        did_key = public_key_from_did(did)
    except InvalidDid as exc:
        raise KeyExportError(f"key export: {exc}") from None
    public_b64 = _field(envelope, "public_key", str)
    public_key = _bytes(envelope, "public_key", 32)
    if public_key != did_key:
        raise KeyExportError("key export: public_key does not match the did")
    kdf = _field(envelope, "kdf", dict)
    if kdf.get("name") != "argon2id":
        raise KeyExportError("key export: unsupported kdf (expected argon2id)")
    cipher = _field(envelope, "cipher", dict)
    if cipher.get("name") != "aes-256-gcm":
        raise KeyExportError("key export: unsupported cipher (expected aes-256-gcm)")
    salt = _bytes(kdf, "salt", 16, "kdf.")
    memory = _int(kdf, "memory_kib", 8 * 1024, MAX_MEMORY_KIB)
    iterations = _int(kdf, "iterations", 1, MAX_ITERATIONS)
    lanes = _int(kdf, "lanes", 1, MAX_LANES)
    if memory < 8 * lanes:
        raise KeyExportError("key export: kdf.memory_kib must be at least 8 x lanes")
    nonce = _bytes(cipher, "nonce", 12, "cipher.")
    ciphertext = _bytes(envelope, "ciphertext", 32 + 16)
    key = _derive(_passphrase_bytes(passphrase), salt, memory, iterations, lanes)
    try:
        private_key = AESGCM(key).decrypt(nonce, ciphertext, _aad(did, public_b64))
    except InvalidTag:
        raise BadPassphrase("wrong passphrase (or the export file was altered)") from None
    keypair = keypair_from_private(private_key)
    if keypair.public_key != public_key:
        raise KeyExportError("key export: the private key does not belong to this did")
    return keypair


__all__ = ["FORMAT", "BadPassphrase", "KeyExportError", "dumps", "export_key", "import_key", "loads"]
