"""Schemas for sharing units: policies, shared units as readers see them, annotations, remix."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Grant(BaseModel):
    circles: list[str] = Field(default_factory=list, max_length=100, description="Circle ids.")
    public: bool = Field(default=False, description="Share publicly instead of with circles.")
    can_annotate: bool = False
    can_remix: bool = False
    can_reshare: bool = False
    expires_at: str | None = Field(
        default=None, max_length=40, description="ISO 8601, or a duration from now: 30m, 12h, 7d, 2w."
    )


class ShareIn(Grant):
    unit_id: str = Field(min_length=1, max_length=64, description="One of your units.")


class Verification(BaseModel):
    valid: bool
    reason: str
    tampered: bool = Field(description="Signed, but the published text no longer matches the signature.")


class Permissions(BaseModel):
    view: bool
    annotate: bool
    remix: bool
    reshare: bool


class Granted(BaseModel):
    can_view: bool
    can_annotate: bool
    can_remix: bool
    can_reshare: bool


class AnnotationOut(BaseModel):
    id: str
    author: str | None
    author_did: str
    body: str
    created_at: str | None


class AnnotationList(BaseModel):
    items: list[AnnotationOut]


class AnnotationIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)


class SharedUnitOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The share's id (a unit shared twice, e.g. reshared, has two).")
    unit_id: str
    content: str
    content_hash: str | None
    type: str
    category: str
    language: str | None
    tags: list[Any]
    author: str | None
    author_did: str
    sharer: str | None
    sharer_did: str
    reshared_from_id: str | None
    policy: str
    circles: list[str] = Field(description="The share's circles that you belong to (all of them, for the sharer).")
    permissions: Permissions = Field(description="What you may do with it.")
    granted: Granted = Field(description="What the share allows its audience.")
    expires_at: str | None
    expired: bool
    published_at: str | None
    unit_created_at: str
    signature: str | None
    verification: Verification
    annotations: list[AnnotationOut] | None = None
    audience: int | None = None
    score: float | None = None


class SharedUnitList(BaseModel):
    items: list[SharedUnitOut]
    next_cursor: str | None = None


class SharedSearchOut(BaseModel):
    query: str
    hits: list[SharedUnitOut]


class UnshareOut(BaseModel):
    unit_id: str
    policy: str = Field(description="What remains: circle, public, or self (not shared).")
    circles: list[str]


class RemixIn(BaseModel):
    content: str | None = Field(default=None, min_length=1, max_length=100_000, description="Your version; default unchanged.")


class RemixOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    unit_id: str
    derived_from: str | None
    created: bool


class ContextUseIn(BaseModel):
    shared_ids: list[str] = Field(max_length=1000)


class ContextUseOut(BaseModel):
    counted: int


class KindCounts(BaseModel):
    view: int
    remix: int
    context: int


class PeerReciprocity(BaseModel):
    did: str
    user: str | None
    given: KindCounts
    received: KindCounts
    shared_with_me: int
    balance: int


class CircleReciprocity(BaseModel):
    circle_id: str | None
    name: str | None
    shared: int
    given: KindCounts
    received: KindCounts


class ReciprocityOut(BaseModel):
    user: str | None
    did: str
    given: dict[str, int]
    received: dict[str, int]
    peers: list[PeerReciprocity]
    circles: list[CircleReciprocity]
