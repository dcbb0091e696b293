"""Ed25519 key pairs and how private keys are kept encrypted at rest.

Scheme (docs/SECURITY.md): a private key is stored as
``v1.<base64url(nonce || AES-256-GCM(kek, nonce, raw_private_key, aad))>`` where the
additional data binds the ciphertext to its owner (``vivim:user-key:<user id>:<did>``), so
a ciphertext copied onto another user's row fails to decrypt. The key-encryption key (KEK)
is 32 random bytes read from ``VIVIM_SECRET_KEY`` (base64) or from
``<data dir>/secrets/kek``, created with mode 0600 on first use.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from vivim.domain.errors import VivimError
from vivim.identity.did import did_from_public_key

KEK_ENV = "VIVIM_SECRET_KEY"
_SCHEME = "v1"


class KeyError_(VivimError):
    """A key could not be decrypted or loaded."""

    code = "key_error"


@dataclass(frozen=True)
class KeyPair:
    private_key: bytes
    public_key: bytes

    # Cached: indexing signs every unit, and rebuilding the key object and re-encoding the
    # DID each time cost more than the signature itself.
    @cached_property
    def did(self) -> str:
        return did_from_public_key(self.public_key)

    @cached_property
    def _signer(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.private_key)

    @property
    def public_key_b64(self) -> str:
        return b64encode(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


def generate_keypair() -> KeyPair:
    sk = Ed25519PrivateKey.generate()
    return KeyPair(
        private_key=sk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        public_key=sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def keypair_from_private(private_key: bytes) -> KeyPair:
    sk = Ed25519PrivateKey.from_private_bytes(private_key)
    return KeyPair(private_key, sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except Exception:
        return False
    return True


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyVault:
    """Encrypts and decrypts users' private keys with the instance's KEK."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise KeyError_("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> KeyVault:
        env = os.environ.get(KEK_ENV)
        if env:
            return cls(b64decode(env.strip()))
        path = data_dir / "secrets" / "kek"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            # link() fails if another process created the key first: both then use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            os.unlink(tmp)
        return cls(path.read_bytes())

    @staticmethod
    def _aad(user_id: str, did: str) -> bytes:
        return f"vivim:user-key:{user_id}:{did}".encode()

    def encrypt(self, private_key: bytes, *, user_id: str, did: str) -> str:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, private_key, self._aad(user_id, did))
        return f"{_SCHEME}.{b64encode(nonce + ct)}"

    def decrypt(self, blob: str, *, user_id: str, did: str) -> KeyPair:
        scheme, _, body = blob.partition(".")
        if scheme != _SCHEME or not body:
            raise KeyError_("unknown private-key encryption scheme")
        raw = b64decode(body)
        try:
            sk = self._aead.decrypt(raw[:12], raw[12:], self._aad(user_id, did))
        except InvalidTag:
            raise KeyError_(
                "cannot decrypt the user's private key: wrong key-encryption key "
                f"({KEK_ENV} or secrets/kek) or tampered data"
            ) from None
        return keypair_from_private(sk)
