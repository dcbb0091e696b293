"""Signatures on units: Ed25519 over canonical JSON of a fixed set of fields.

The exact bytes (docs/SIGNING.md): the JSON object with exactly the keys in
``SIGNED_FIELDS`` (missing values as ``null``), keys sorted, separators ``,`` and ``:``
with no whitespace, non-ASCII characters written as themselves, UTF-8 encoded. Anyone
holding only the author's DID can verify: the DID encodes the public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vivim.domain.canonical import canonical_json
from vivim.identity.did import InvalidDid, public_key_from_did
from vivim.identity.keys import KeyPair, verify

SIGNATURE_VERSION = "vivim-unit-sig/v1"
# Unit field (API/seed name) -> user DB column.
SIGNED_FIELDS: dict[str, str] = {
    "id": "id",
    "authorDid": "author_did",
    "content": "content",
    "contentHash": "content_hash",
    "type": "type",
    "category": "category",
    "conversationId": "conversation_id",
    "messageId": "message_id",
    "createdAt": "created_at",
    "signatureVersion": "",
}


def signing_payload(unit: Mapping[str, Any]) -> bytes:
    """The bytes that are signed, from a unit given with user DB column names."""
    fields = {
        name: (SIGNATURE_VERSION if name == "signatureVersion" else unit.get(column))
        for name, column in SIGNED_FIELDS.items()
    }
    return canonical_json(fields).encode("utf-8")


def sign_unit(keypair: KeyPair, unit: Mapping[str, Any]) -> bytes:
    return keypair.sign(signing_payload(unit))


def verify_unit(unit: Mapping[str, Any], signature: bytes | None) -> tuple[bool, str]:
    """(valid, reason). Uses only the DID in the unit: no key store is consulted."""
    if not signature:
        return False, "unsigned"
    try:
        public_key = public_key_from_did(unit.get("author_did") or "")
    except InvalidDid as exc:
        return False, str(exc)
    if verify(public_key, signature, signing_payload(unit)):
        return True, "valid"
    return False, "signature does not match the content (edited after signing, or signed by another key)"
