"""Request and response schemas for circles, relations, sharing and reciprocity."""

from __future__ import annotations

from pydantic import BaseModel, Field

# -- circles --------------------------------------------------------------------------------------


class CircleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    is_public: bool = Field(default=False, description="Anyone may discover and join it.")


class CirclePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    is_public: bool | None = Field(default=None, description="Owner only.")


class CircleOut(BaseModel):
    id: str
    name: str
    description: str | None
    is_public: bool
    owner: str | None
    owner_did: str
    members: int
    my_role: str | None = Field(description="owner, admin, member, or null when only invited or browsing.")
    can_invite: bool
    can_share: bool
    created_at: str | None


class CircleList(BaseModel):
    items: list[CircleOut]


class MemberOut(BaseModel):
    user_id: str
    handle: str | None
    did: str
    role: str
    can_invite: bool
    can_share: bool
    joined_at: str | None


class MemberList(BaseModel):
    items: list[MemberOut]


class MemberPatch(BaseModel):
    role: str | None = Field(default=None, pattern="^(admin|member)$")
    can_invite: bool | None = None
    can_share: bool | None = None


class MemberChanged(BaseModel):
    circle_id: str
    user_id: str
    handle: str | None
    role: str
    can_invite: bool
    can_share: bool


class InviteIn(BaseModel):
    user: str = Field(min_length=1, max_length=255, description="Handle, id or DID of the invitee.")
    role: str = Field(default="member", pattern="^(admin|member)$")
    can_invite: bool = False
    can_share: bool = True


class InvitationOut(BaseModel):
    id: str
    circle_id: str
    circle_name: str
    inviter: str | None
    invitee: str | None
    role: str
    can_invite: bool
    can_share: bool
    status: str
    created_at: str | None


class InvitationList(BaseModel):
    items: list[InvitationOut]


# -- relations --------------------------------------------------------------------------------


class UserRef(BaseModel):
    user: str = Field(min_length=1, max_length=255, description="Handle, id or DID.")


class FriendOut(BaseModel):
    id: str
    user: str | None
    did: str
    status: str
    direction: str = Field(description="outgoing (you asked) or incoming.")
    created_at: str | None
    updated_at: str | None


class FriendList(BaseModel):
    items: list[FriendOut]


class PersonOut(BaseModel):
    user: str | None
    did: str


class FollowsOut(BaseModel):
    following: list[PersonOut]
    followers: list[PersonOut]


class FollowOut(BaseModel):
    following: str | None
    did: str


class BlockOut(BaseModel):
    user: str | None
    did: str
    created_at: str | None = None


class BlockList(BaseModel):
    items: list[BlockOut]


class PeerIn(BaseModel):
    peer_did: str = Field(min_length=8, max_length=255)
    trust_level: int | None = Field(default=None, ge=0, le=100)
    status: str | None = Field(default=None, pattern="^(pending|active|blocked|closed)$")


class PeerOut(BaseModel):
    id: str
    peer_did: str
    peer_user_id: str | None
    status: str
    trust_level: int
    last_seen_at: str | None
    updated_at: str | None


class PeerList(BaseModel):
    items: list[PeerOut]
