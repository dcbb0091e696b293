from pathlib import Path

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vivim.identity.did import InvalidDid, did_from_public_key, public_key_from_did
from vivim.identity.keys import KeyError_, KeyVault, generate_keypair


def test_did_key_is_multicodec_ed25519_in_base58btc() -> None:
    kp = generate_keypair()
    did = kp.did
    assert did.startswith("did:key:z6Mk")  # every Ed25519 did:key starts like this
    raw = base58.b58decode(did[len("did:key:z") :])
    assert raw[:2] == b"\xed\x01" and raw[2:] == kp.public_key
    assert public_key_from_did(did) == kp.public_key


def test_the_did_key_spec_example_round_trips() -> None:
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert did_from_public_key(public_key_from_did(did)) == did


@pytest.mark.parametrize("bad", ["did:web:example.com", "did:key:zzzz", "did:key:z0OIl"])
def test_malformed_dids_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidDid):
        public_key_from_did(bad)


def test_signatures_verify_with_an_independent_verifier() -> None:
    kp = generate_keypair()
    sig = kp.sign(b"hello")
    Ed25519PublicKey.from_public_bytes(kp.public_key).verify(sig, b"hello")


def test_private_keys_are_stored_encrypted_and_bound_to_their_owner(tmp_path: Path) -> None:
    vault = KeyVault.for_data_dir(tmp_path)
    assert (tmp_path / "secrets" / "kek").stat().st_mode & 0o077 == 0
    kp = generate_keypair()
    blob = vault.encrypt(kp.private_key, user_id="u1", did=kp.did)
    assert kp.private_key.hex() not in blob
    assert vault.decrypt(blob, user_id="u1", did=kp.did) == kp
    with pytest.raises(KeyError_):
        vault.decrypt(blob, user_id="u2", did=kp.did)
    with pytest.raises(KeyError_):
        KeyVault(b"\x01" * 32).decrypt(blob, user_id="u1", did=kp.did)
