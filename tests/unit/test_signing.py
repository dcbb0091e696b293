"""Unit signatures, checked with an independent Ed25519 implementation (libsodium via PyNaCl)."""

from __future__ import annotations

import json

import base58
import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from vivim.identity.keys import generate_keypair, keypair_from_private
from vivim.identity.signing import sign_unit, signing_payload, verify_unit

UNIT = {
    "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "content": "Use WAL mode: readers never wait for the writer.",
    "content_hash": "5d41402abc4b2a76b9719d911017c592",
    "type": "statement",
    "category": "technical",
    "conversation_id": "a8f0bc55dc87a1b2c3d4e5f60718293a",
    "message_id": "b9e1cd66ed98b2c3d4e5f6071829304b",
    "created_at": "2026-11-22T19:55:00.000000Z",
}


def _independent_verify(unit: dict, signature: bytes) -> bool:
    """What docs/SIGNING.md tells a third party to do, written from the document."""
    raw = base58.b58decode(unit["author_did"].removeprefix("did:key:z"))
    assert raw[:2] == b"\xed\x01"
    payload = {
        "id": unit["id"],
        "authorDid": unit["author_did"],
        "content": unit["content"],
        "contentHash": unit["content_hash"],
        "type": unit["type"],
        "category": unit["category"],
        "conversationId": unit["conversation_id"],
        "messageId": unit["message_id"],
        "createdAt": unit["created_at"],
        "signatureVersion": "vivim-unit-sig/v1",
    }
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        VerifyKey(raw[2:]).verify(data, signature)
    except BadSignatureError:
        return False
    return True


def test_the_documented_test_vector() -> None:
    kp = keypair_from_private(bytes(range(32)))
    unit = {**UNIT, "author_did": kp.did}
    assert kp.did == "did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd"
    sig = sign_unit(kp, unit)
    assert sig.hex() == (
        "d2f6a279759b6acb78906710e7142751583759a4094f8681efc2a641f4118ddafcf6bdcb64f781c84f31bfb093eb2590"
        "2397cb673c341f0510bcb19d90393b09"
    )
    assert _independent_verify(unit, sig)


def test_non_ascii_content_is_signed_as_utf8_not_escaped() -> None:
    kp = generate_keypair()
    unit = {**UNIT, "author_did": kp.did, "content": "Grüße, 世界 — ça va?"}
    assert "Grüße, 世界".encode() in signing_payload(unit)
    assert _independent_verify(unit, sign_unit(kp, unit))


@pytest.mark.parametrize("field", ["content", "content_hash", "type", "category", "created_at", "id"])
def test_changing_any_signed_field_breaks_the_signature(field: str) -> None:
    kp = generate_keypair()
    unit = {**UNIT, "author_did": kp.did}
    sig = sign_unit(kp, unit)
    tampered = {**unit, field: unit[field][:-1] + ("x" if unit[field][-1] != "x" else "y")}
    assert not _independent_verify(tampered, sig)
    assert verify_unit(tampered, sig)[0] is False
    assert verify_unit(unit, sig) == (True, "valid")


def test_one_changed_byte_of_the_signature_fails() -> None:
    kp = generate_keypair()
    unit = {**UNIT, "author_did": kp.did}
    sig = bytearray(sign_unit(kp, unit))
    sig[10] ^= 0x01
    assert not _independent_verify(unit, bytes(sig))
    assert verify_unit(unit, bytes(sig))[0] is False


def test_a_signature_by_another_key_fails_and_unsigned_units_are_reported() -> None:
    mine, theirs = generate_keypair(), generate_keypair()
    unit = {**UNIT, "author_did": mine.did}
    assert verify_unit(unit, sign_unit(theirs, unit))[0] is False
    assert verify_unit(unit, None) == (False, "unsigned")
