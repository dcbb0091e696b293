from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

DEVICE_ID = r"^[0-9a-f]{32}$"
B64 = r"^[A-Za-z0-9_\-+/]+=*$"


class ChallengeRequest(BaseModel):
    did: str | None = Field(default=None, max_length=255, description="The user's DID (or give handle).")
    handle: str | None = Field(default=None, min_length=1, max_length=64, description="The user's handle.")
    device_id: str | None = Field(
        default=None,
        pattern=DEVICE_ID,
        description="A registered device to sign with; omit to sign with the user's own key and enrol a device.",
    )

    @model_validator(mode="after")
    def _one_identifier(self) -> ChallengeRequest:
        if (self.did is None) == (self.handle is None):
            raise ValueError("give exactly one of did or handle")
        return self


class ChallengeResponse(BaseModel):
    challenge_id: str
    nonce: str
    message: str = Field(description="Sign exactly these UTF-8 bytes with Ed25519.")
    signer: Literal["device", "user"]
    did: str
    device_id: str | None
    origin: str = Field(description="Clients must check this is the server they meant to reach.")
    expires_at: datetime


class DeviceEnrollment(BaseModel):
    public_key: str = Field(min_length=43, max_length=44, pattern=B64, description="Raw Ed25519 key, base64url.")
    signature: str = Field(min_length=86, max_length=88, pattern=B64, description="The device key's signature of the challenge message.")
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(default="unknown", min_length=1, max_length=64)
    platform: str = Field(default="unknown", min_length=1, max_length=64)


class TokenRequest(BaseModel):
    challenge_id: str = Field(min_length=1, max_length=36)
    signature: str = Field(min_length=86, max_length=88, pattern=B64, description="Ed25519 signature of the challenge message, base64url.")
    device: DeviceEnrollment | None = Field(
        default=None, description="Required when the challenge is signed with the user's key: the device to enrol."
    )


class TokenResponse(BaseModel):
    token_type: Literal["bearer"] = "bearer"
    access_token: str
    expires_at: datetime
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_at: datetime
    session_id: str
    user_id: str
    device_id: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=100)
