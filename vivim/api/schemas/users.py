from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    id: str
    handle: str | None
    did: str
    email: str | None
    display_name: str | None
    status: str
    created_at: datetime | None
    public_key: str = Field(description="Raw Ed25519 public key, base64url.")
    key_type: str


class ProfilePatch(BaseModel):
    display_name: str | None = Field(default=None, max_length=255, description="null clears it.")


class KeyExportRequest(BaseModel):
    passphrase: str = Field(min_length=8, max_length=1024, description="Locks the exported key (Argon2id).")


class KdfParams(BaseModel):
    name: Literal["argon2id"]
    salt: str
    memory_kib: int
    iterations: int
    lanes: int


class CipherParams(BaseModel):
    name: Literal["aes-256-gcm"]
    nonce: str


class KeyExport(BaseModel):
    """The `vivim.key-export/v1` envelope (docs/SECURITY.md)."""

    format: Literal["vivim.key-export/v1"]
    did: str
    key_type: Literal["Ed25519"]
    public_key: str
    kdf: KdfParams
    cipher: CipherParams
    ciphertext: str
    created_at: str
