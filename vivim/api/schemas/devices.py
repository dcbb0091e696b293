from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from vivim.api.schemas.auth import B64


class DeviceOut(BaseModel):
    device_id: str = Field(description="First 32 hex characters of the key's SHA-256 fingerprint.")
    name: str
    type: str
    platform: str
    fingerprint: str | None
    public_key: str
    is_active: bool
    is_trusted: bool
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    revoked_at: str | None
    current: bool = Field(description="True for the device this request was made from.")


class DeviceList(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class DeviceCreate(BaseModel):
    public_key: str = Field(min_length=43, max_length=44, pattern=B64, description="Raw Ed25519 key, base64url.")
    signature: str = Field(
        min_length=86,
        max_length=88,
        pattern=B64,
        description="Proof of possession: the device key's signature of "
        "`vivim-device-registration:v1\\ndid:<user did>\\npublic_key:<public_key>`.",
    )
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(default="unknown", min_length=1, max_length=64)
    platform: str = Field(default="unknown", min_length=1, max_length=64)


class DevicePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    is_trusted: bool | None = None
