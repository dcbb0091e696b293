"""Pure pieces of identity and auth: token formats, device ids, key export, rate limits, cursors."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vivim.api.errors import ApiError
from vivim.api.pagination import decode_cursor, encode_cursor
from vivim.api.uploads import safe_filename
from vivim.domain.errors import InvalidIdentifier
from vivim.identity import keyexport
from vivim.identity.auth import challenge_message
from vivim.identity.devices import decode_public_key, decode_signature, device_id_for, fingerprint
from vivim.identity.keys import b64decode, generate_keypair, verify
from vivim.identity.ratelimit import RateLimited, RateLimiter, Rule
from vivim.identity.tokens import (
    ACCESS_PREFIX,
    API_TOKEN_PREFIX,
    REFRESH_PREFIX,
    hash_token,
    looks_like_token,
    new_token,
)

FAST = {"memory_kib": 8 * 1024, "iterations": 1, "lanes": 1}


# -- tokens ----------------------------------------------------------------------------------


def test_a_token_is_its_prefix_and_256_random_bits_and_is_stored_as_its_sha256() -> None:
    token, digest = new_token(ACCESS_PREFIX)
    assert token.startswith("vat_") and len(token) == 4 + 43
    assert len(base64.urlsafe_b64decode(token[4:] + "=")) == 32
    assert digest == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert new_token(ACCESS_PREFIX)[0] != token


def test_token_shapes_are_told_apart_by_prefix() -> None:
    access, refresh, api = new_token(ACCESS_PREFIX)[0], new_token(REFRESH_PREFIX)[0], new_token(API_TOKEN_PREFIX)[0]
    assert looks_like_token(access, ACCESS_PREFIX) and not looks_like_token(access, REFRESH_PREFIX)
    assert looks_like_token(refresh, REFRESH_PREFIX) and looks_like_token(api, API_TOKEN_PREFIX)
    for bad in ("", "vat_", "vat_" + "a" * 42, "vat_" + "a" * 44, "vat_" + "!" * 43, "vxt_" + "a" * 43):
        assert not looks_like_token(bad, ACCESS_PREFIX)


# -- devices ---------------------------------------------------------------------------------


def test_a_device_id_is_the_first_half_of_the_keys_sha256() -> None:
    public = bytes(range(32))
    assert fingerprint(public) == hashlib.sha256(public).hexdigest()
    assert device_id_for(public) == "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"[:32]


def test_keys_and_signatures_decode_from_either_base64_alphabet_and_nothing_else() -> None:
    raw = bytes([251] * 32)  # encodes with '+'/'-' and '/'/'_'
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert "/" in standard and decode_public_key(standard) == decode_public_key(urlsafe) == raw
    signature = bytes(range(64))
    assert decode_signature(base64.urlsafe_b64encode(signature).decode()) == signature
    for bad in ("A" * 42 + "*", "A" * 40, "A" * 60, "A" * 43 + "=A"):
        with pytest.raises(InvalidIdentifier):
            decode_public_key(bad)
    with pytest.raises(InvalidIdentifier):
        decode_signature(base64.b64encode(bytes(63)).decode())


def test_the_challenge_message_is_one_field_per_line_in_a_fixed_order() -> None:
    message = challenge_message(
        challenge_id="c" * 32,
        nonce="n0nce",
        did="did:key:z6Mkx",
        device_id=None,
        origin="https://vivim.example",
        expires_at=datetime(2026, 2, 21, 10, 0, tzinfo=UTC),
    )
    assert message == (
        "vivim-auth:v1\n"
        f"challenge:{'c' * 32}\n"
        "nonce:n0nce\n"
        "did:did:key:z6Mkx\n"
        "device:-\n"
        "origin:https://vivim.example\n"
        "expires:2026-02-21T10:00:00.000000Z"
    )


# -- key export ------------------------------------------------------------------------------


def test_an_exported_key_opens_with_its_passphrase_and_keeps_the_did() -> None:
    kp = generate_keypair()
    envelope = keyexport.export_key(kp, "correct horse battery", **FAST)
    assert envelope["format"] == "vivim.key-export/v1" and envelope["did"] == kp.did
    assert envelope["kdf"] == {"name": "argon2id", "salt": envelope["kdf"]["salt"], **FAST}
    assert kp.private_key.hex() not in json.dumps(envelope)
    back = keyexport.import_key(keyexport.loads(keyexport.dumps(envelope)), "correct horse battery")
    assert back == kp and back.did == kp.did


def test_the_envelope_can_be_opened_with_only_the_documented_primitives() -> None:
    kp = generate_keypair()
    env = keyexport.export_key(kp, "pässphrase!", **FAST)
    key = Argon2id(
        salt=b64decode(env["kdf"]["salt"]), length=32, iterations=env["kdf"]["iterations"],
        lanes=env["kdf"]["lanes"], memory_cost=env["kdf"]["memory_kib"],
    ).derive("pässphrase!".encode())
    aad = f"vivim.key-export/v1\n{env['did']}\n{env['public_key']}".encode()
    private = AESGCM(key).decrypt(b64decode(env["cipher"]["nonce"]), b64decode(env["ciphertext"]), aad)
    assert private == kp.private_key


def test_a_wrong_passphrase_or_an_altered_envelope_is_refused() -> None:
    kp, other = generate_keypair(), generate_keypair()
    env = keyexport.export_key(kp, "correct horse battery", **FAST)
    with pytest.raises(keyexport.BadPassphrase):
        keyexport.import_key(env, "correct horse battery!")
    ct = bytearray(b64decode(env["ciphertext"]))
    ct[0] ^= 1
    with pytest.raises(keyexport.BadPassphrase):
        keyexport.import_key({**env, "ciphertext": base64.urlsafe_b64encode(bytes(ct)).rstrip(b"=").decode()},
                             "correct horse battery")
    # Another identity's name on this ciphertext: the AAD no longer matches.
    with pytest.raises(keyexport.BadPassphrase):
        keyexport.import_key({**env, "did": other.did, "public_key": other.public_key_b64}, "correct horse battery")
    with pytest.raises(keyexport.KeyExportError):
        keyexport.import_key({**env, "public_key": other.public_key_b64}, "correct horse battery")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something/v9"}, "not a vivim key export"),
        ({"key_type": "RSA"}, "only Ed25519"),
        ({"did": "did:web:example.com"}, "did:key"),
        ({"kdf": {"name": "pbkdf2"}}, "unsupported kdf"),
        ({"cipher": {"name": "aes-128-cbc", "nonce": "AAAA"}}, "unsupported cipher"),
        ({"ciphertext": "AAAA"}, "ciphertext must be 48 bytes"),
    ],
)
def test_malformed_envelopes_are_refused_with_the_reason(change: dict[str, object], message: str) -> None:
    env = keyexport.export_key(generate_keypair(), "correct horse battery", **FAST)
    with pytest.raises(keyexport.KeyExportError, match=message):
        keyexport.import_key({**env, **change}, "correct horse battery")


def test_an_envelope_cannot_demand_a_huge_key_derivation() -> None:
    env = keyexport.export_key(generate_keypair(), "correct horse battery", **FAST)
    for kdf in ({"memory_kib": 64 * 1024 * 1024}, {"iterations": 10_000}, {"lanes": 1024}, {"memory_kib": True}):
        with pytest.raises(keyexport.KeyExportError, match="kdf"):
            keyexport.import_key({**env, "kdf": {**env["kdf"], **kdf}}, "correct horse battery")


def test_short_passphrases_and_non_json_files_are_refused() -> None:
    with pytest.raises(keyexport.BadPassphrase, match="at least 8"):
        keyexport.export_key(generate_keypair(), "short", **FAST)
    with pytest.raises(keyexport.KeyExportError, match="not JSON"):
        keyexport.loads(b"\x00\x01 not json")
    with pytest.raises(keyexport.KeyExportError, match="JSON object"):
        keyexport.loads("[1, 2]")


def test_the_passphrase_is_normalised_so_composed_and_decomposed_forms_match() -> None:
    kp = generate_keypair()
    env = keyexport.export_key(kp, "caf\u00e9 au lait", **FAST)
    assert keyexport.import_key(env, "cafe\u0301 au lait") == kp


# -- rate limits -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_continuously() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    rule = Rule("login", 3, 60.0)  # one token every 20 s
    for _ in range(3):
        limiter.hit(rule, "1.2.3.4")
    with pytest.raises(RateLimited) as info:
        limiter.hit(rule, "1.2.3.4")
    assert info.value.retry_after == 20
    clock.now += 10
    with pytest.raises(RateLimited) as info:
        limiter.hit(rule, "1.2.3.4")
    assert info.value.retry_after == 10
    clock.now += 10
    limiter.hit(rule, "1.2.3.4")
    limiter.hit(rule, "5.6.7.8")  # other keys have their own bucket
    clock.now += 3600
    for _ in range(3):  # never more than the burst, however long it rested
        limiter.hit(rule, "1.2.3.4")
    with pytest.raises(RateLimited):
        limiter.hit(rule, "1.2.3.4")


def test_rules_with_the_same_key_do_not_share_a_bucket() -> None:
    limiter = RateLimiter(clock=Clock())
    limiter.hit(Rule("a", 1, 60.0), "k")
    limiter.hit(Rule("b", 1, 60.0), "k")
    with pytest.raises(RateLimited):
        limiter.hit(Rule("a", 1, 60.0), "k")


def test_the_number_of_buckets_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(max_buckets=100, idle_horizon_s=60.0, clock=clock)
    rule = Rule("r", 5, 60.0)
    for i in range(100):
        limiter.hit(rule, f"old-{i}")
    clock.now += 61
    for i in range(1000):
        limiter.hit(rule, f"new-{i}")
        clock.now += 0.001
    assert len(limiter) <= 101


# -- API helpers -----------------------------------------------------------------------------


def test_cursors_round_trip_and_refuse_tampering_or_another_listing() -> None:
    cursor = encode_cursor("conversations", ["2026-01-01T00:00:00.000000Z", "abc"])
    assert decode_cursor(cursor, "conversations", 2) == ["2026-01-01T00:00:00.000000Z", "abc"]
    assert decode_cursor(None, "conversations", 2) is None
    for bad, kind in ((cursor, "units"), ("%%%", "conversations"), (encode_cursor("conversations", ["x"]), "conversations"),
                      (base64.urlsafe_b64encode(b'{"k":"conversations","v":[[1],2]}').decode(), "conversations")):
        with pytest.raises(ApiError) as info:
            decode_cursor(bad, kind, 2)
        assert info.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("conversations.json", "conversations.json"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\export.zip", "export.zip"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("a\x00b\nc.json", "a_b_c.json"),
        ("x" * 500 + ".json", "x" * 200),
    ],
)
def test_uploaded_file_names_cannot_leave_their_folder(given: str | None, expected: str) -> None:
    assert safe_filename(given) == expected


def test_a_device_signature_made_by_an_independent_library_verifies() -> None:
    # cryptography's Ed25519 here, vivim's verify in the server: the formats must agree.
    sk = Ed25519PrivateKey.generate()
    public = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = sk.sign(b"message")
    assert verify(public, signature, b"message") and not verify(public, signature, b"messagf")
