"""Master DB models: identity and everything that spans users (seed 000: MASTER, CROSS, SYSTEM).

Attribute and column names are the seeds' camelCase fields in snake_case; table names are
the seeds' ``@@map`` names. ``docs/SCHEMA.md`` lists every table, field and deviation.

Hand-written migrations in ``migrations/versions`` create exactly this schema; the test
suite compares the two with Alembic's ``compare_metadata`` on SQLite and PostgreSQL, so a
change here without a migration (or the reverse) fails CI.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from vivim.domain.ids import new_id
from vivim.domain.times import utcnow
from vivim.store.master.types import UTCDateTime

# Deterministic constraint names: migrations (and SQLite batch rebuilds) refer to
# constraints by name, and engines would otherwise invent different ones.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)  # our ids are 32 hex characters; 36 also admits dashed UUIDs from elsewhere
DID = String(255)
EMPTY_JSON_OBJECT = text("'{}'")
EMPTY_JSON_ARRAY = text("'[]'")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now())


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_cls]


def _enum(enum_cls: type[enum.Enum], name: str, length: int) -> Enum:
    # VARCHAR + CHECK rather than a native PostgreSQL enum: adding a value later is then an
    # ordinary batch migration on both engines instead of ALTER TYPE outside a transaction.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_values,
        validate_strings=True,
    )


class AccountStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"
    DELETING = "DELETING"
    DELETED = "DELETED"


class FriendStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    BLOCKED = "blocked"


class PeerConnectionStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    BLOCKED = "blocked"
    CLOSED = "closed"


class SystemActionStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# --------------------------------------------------------------------------- identity


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # unique=True with index=True yields one unique index: it is both the seed's @unique
    # and its @@index, without a second, redundant index on the same column.
    did: Mapped[str] = mapped_column(DID, unique=True, index=True)
    handle: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), unique=True, index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    avatar_url: Mapped[str | None] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    key_type: Mapped[str] = mapped_column(String(32), default="Ed25519", server_default="Ed25519")
    encrypted_private_key: Mapped[str | None] = mapped_column(Text)
    verification_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    trust_score: Mapped[float] = mapped_column(Float, default=50.0, server_default=text("50"))
    status: Mapped[AccountStatus] = mapped_column(
        _enum(AccountStatus, "account_status", 16),
        default=AccountStatus.ACTIVE,
        server_default=AccountStatus.ACTIVE.value,
    )
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mfa_secret: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_JSON_OBJECT)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    last_seen_at: Mapped[datetime] = _created()

    devices: Mapped[list[Device]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    database: Mapped[UserDatabase | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    circles_owned: Mapped[list[Circle]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )
    circle_memberships: Mapped[list[CircleMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_user_id_is_active", "user_id", "is_active"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    device_name: Mapped[str] = mapped_column(String(255))
    device_type: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    last_seen_at: Mapped[datetime] = _created()
    # "metadata" is reserved on declarative classes; the column keeps the seed's name.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default=EMPTY_JSON_OBJECT
    )

    user: Mapped[User] = relationship(back_populates="devices")


class UserDatabase(Base):
    """Where a user's SQLite file lives: the placement lookup the router consults."""

    __tablename__ = "user_databases"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Relative to the data dir so a whole deployment can move; unique because two users
    # sharing one file would break isolation.
    path: Mapped[str] = mapped_column(String(512), unique=True)
    schema_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    node: Mapped[str] = mapped_column(String(255), default="local", server_default="local")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    user: Mapped[User] = relationship(back_populates="database")


# --------------------------------------------------------------------------- social


class Circle(Base):
    __tablename__ = "circles"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    icon: Mapped[str | None] = mapped_column(String(255))
    color: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default=EMPTY_JSON_OBJECT
    )

    owner: Mapped[User] = relationship(back_populates="circles_owned")
    members: Mapped[list[CircleMember]] = relationship(
        back_populates="circle", cascade="all, delete-orphan", passive_deletes=True
    )


class CircleMember(Base):
    __tablename__ = "circle_members"
    __table_args__ = (UniqueConstraint("circle_id", "user_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="member", server_default="member")
    can_invite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_share: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    joined_at: Mapped[datetime] = _created()

    circle: Mapped[Circle] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="circle_memberships")


class PeerConnection(Base):
    """One user's view of a P2P peer (seed 000 names it; the fields are ours).

    Directed on purpose: A's trust in B and B's trust in A are separate rows. The peer is
    identified by DID because it may live on another node; ``peer_user_id`` is filled in
    when the peer is also a user here.
    """

    __tablename__ = "peer_connections"
    __table_args__ = (
        UniqueConstraint("user_id", "peer_did"),
        Index("ix_peer_connections_user_id_status", "user_id", "status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    peer_did: Mapped[str] = mapped_column(DID, index=True)
    peer_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[PeerConnectionStatus] = mapped_column(
        _enum(PeerConnectionStatus, "peer_connection_status", 16),
        default=PeerConnectionStatus.PENDING,
        server_default=PeerConnectionStatus.PENDING.value,
    )
    trust_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default=EMPTY_JSON_OBJECT
    )


class Friend(Base):
    __tablename__ = "friends"
    __table_args__ = (
        UniqueConstraint("requester_id", "addressee_id"),
        CheckConstraint("requester_id <> addressee_id", name="not_self"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    addressee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[FriendStatus] = mapped_column(
        _enum(FriendStatus, "friend_status", 16),
        default=FriendStatus.PENDING,
        server_default=FriendStatus.PENDING.value,
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    addressee: Mapped[User] = relationship(foreign_keys=[addressee_id])


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("follower_id", "following_id"),
        CheckConstraint("follower_id <> following_id", name="not_self"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    following_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()

    follower: Mapped[User] = relationship(foreign_keys=[follower_id])
    following: Mapped[User] = relationship(foreign_keys=[following_id])


# --------------------------------------------------------------------------- system


class CaptureAttempt(Base):
    __tablename__ = "capture_attempts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # Attribution: kept when the user is deleted (the audit outlives the account).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source_url: Mapped[str] = mapped_column(Text, index=True)
    provider: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_stack: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration: Mapped[int | None] = mapped_column(Integer)  # milliseconds
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # Lives in the user's own DB, so no foreign key can reach it from here.
    conversation_id: Mapped[str | None] = mapped_column(ID, index=True)
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    retry_of: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = _created()


class ProviderStats(Base):
    __tablename__ = "provider_stats"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # Deviation from the seed (provider alone was unique): stats are per user, so one
    # user's failures never show up in another's numbers. Global figures are a SUM.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64), index=True)
    total_captures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    successful_captures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    failed_captures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    avg_duration: Mapped[float | None] = mapped_column(Float)
    avg_message_count: Mapped[float | None] = mapped_column(Float)
    avg_token_count: Mapped[float | None] = mapped_column(Float)
    total_messages: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_code_blocks: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_images: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_tool_calls: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_capture_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = _updated()


class SystemCommand(Base):
    """A named administrative operation that can be enabled, configured and run."""

    __tablename__ = "system_commands"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    handler: Mapped[str] = mapped_column(String(255))  # dotted path of the Python callable
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_JSON_OBJECT)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class SystemAction(Base):
    """Audit of one run of a system command: who, with what, and how it ended."""

    __tablename__ = "system_actions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # SET NULL and a copy of the name: the audit must survive removing the command.
    command_id: Mapped[str | None] = mapped_column(
        ForeignKey("system_commands.id", ondelete="SET NULL"), index=True
    )
    command_name: Mapped[str] = mapped_column(String(128))
    actor_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[SystemActionStatus] = mapped_column(
        _enum(SystemActionStatus, "system_action_status", 16),
        default=SystemActionStatus.PENDING,
        server_default=SystemActionStatus.PENDING.value,
        index=True,
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_JSON_OBJECT)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _created()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    command: Mapped[SystemCommand | None] = relationship()


# --------------------------------------------------------------------------- reciprocity


class Contribution(Base):
    __tablename__ = "contributions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # DIDs, not user FKs: either side may be a peer on another node.
    contributor_did: Mapped[str] = mapped_column(DID, index=True)
    acu_id: Mapped[str] = mapped_column(String(64), index=True)
    recipient_dids: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=EMPTY_JSON_ARRAY)
    quality: Mapped[float] = mapped_column(Float, default=1.0, server_default=text("1"))
    timestamp: Mapped[datetime] = _created()
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    # 0005: what was given (share, reshare), through which share and circle. No foreign
    # keys: the record of giving outlives the share and the circle.
    kind: Mapped[str] = mapped_column(String(16), default="share", server_default="share")
    shared_unit_id: Mapped[str | None] = mapped_column(String(36), index=True)
    circle_id: Mapped[str | None] = mapped_column(String(36))


class Consumption(Base):
    __tablename__ = "consumptions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    consumer_did: Mapped[str] = mapped_column(DID, index=True)
    acu_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_did: Mapped[str] = mapped_column(DID, index=True)
    timestamp: Mapped[datetime] = _created()
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    # 0005: how it was taken (view, remix, context, annotate) and through which share/circle.
    kind: Mapped[str] = mapped_column(String(16), default="view", server_default="view")
    shared_unit_id: Mapped[str | None] = mapped_column(String(36), index=True)
    circle_id: Mapped[str | None] = mapped_column(String(36))


# Newest-first indexes from the seeds (``sort: Desc``); declared here because they need the
# mapped columns to express the sort order.
Index("ix_capture_attempts_created_at", CaptureAttempt.created_at.desc())
Index(
    "ix_capture_attempts_ip_address_created_at",
    CaptureAttempt.ip_address,
    CaptureAttempt.created_at.desc(),
)
Index(
    "ix_capture_attempts_user_id_created_at",
    CaptureAttempt.user_id,
    CaptureAttempt.created_at.desc(),
)
Index("ix_system_actions_started_at", SystemAction.started_at.desc())
Index("ix_contributions_timestamp", Contribution.timestamp.desc())
Index("ix_consumptions_timestamp", Consumption.timestamp.desc())


__all__ = [
    "AccountStatus",
    "Base",
    "CaptureAttempt",
    "Circle",
    "CircleMember",
    "Consumption",
    "Contribution",
    "Device",
    "Follow",
    "Friend",
    "FriendStatus",
    "PeerConnection",
    "PeerConnectionStatus",
    "ProviderStats",
    "SystemAction",
    "SystemActionStatus",
    "SystemCommand",
    "User",
    "UserDatabase",
]


# --------------------------------------------------------------------------- authentication
# Added by migration 0004_auth. Secrets are never stored: tokens are kept as SHA-256 hashes
# and looked up by them (docs/SECURITY.md).

TOKEN_HASH = String(64)  # hex SHA-256


class AuthChallenge(Base):
    """A login nonce: issued once, signed by a device (or the user's own key), used once."""

    __tablename__ = "auth_challenges"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # NULL: the challenge is to be signed with the user's own key (enrolling a device).
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    # The server the client believes it talks to; part of the signed message so a
    # signature made for one instance cannot be replayed at another holding the same DID.
    origin: Mapped[str] = mapped_column(String(512))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A device's login: the current access and refresh token hashes, rotated on refresh."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Every session belongs to a device, so revoking the device ends all of its sessions.
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    access_token_hash: Mapped[str] = mapped_column(TOKEN_HASH, unique=True, index=True)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_token_hash: Mapped[str] = mapped_column(TOKEN_HASH, unique=True, index=True)
    # The refresh token this one replaced: presenting it again means it was copied, and the
    # whole session is revoked (refresh-token reuse detection).
    previous_refresh_hash: Mapped[str | None] = mapped_column(TOKEN_HASH, index=True)
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(32))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A personal API token for scripts: shown once, stored as a hash, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(TOKEN_HASH, unique=True, index=True)
    # The first characters of the token, so a person can tell their tokens apart.
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


__all__ += ["ApiToken", "AuthChallenge", "AuthSession"]


# --------------------------------------------------------------------------- sharing
# Added by migration 0005_sharing (docs/SHARING.md). Cross-user reads never open another
# user's DB: a shared unit is published here, exactly as its audience may see it, and
# removed again when it is revoked. Expiry is checked at read time, never by a sweeper.


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"


class SharingPolicy(enum.StrEnum):
    CIRCLE = "circle"
    PUBLIC = "public"


class CircleInvitation(Base):
    """An invitation to a circle; membership begins only when the invitee accepts."""

    __tablename__ = "circle_invitations"
    __table_args__ = (UniqueConstraint("circle_id", "invitee_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    inviter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invitee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="member", server_default="member")
    can_invite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_share: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    status: Mapped[InvitationStatus] = mapped_column(
        _enum(InvitationStatus, "invitation_status", 16),
        default=InvitationStatus.PENDING,
        server_default=InvitationStatus.PENDING.value,
    )
    created_at: Mapped[datetime] = _created()
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Block(Base):
    """One user blocking another: hides each from the other everywhere sharing reaches."""

    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id"),
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    blocker_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    blocked_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()


class SharedUnit(Base):
    """A published copy of a signed unit: what its audience may see, and nothing more.

    The signed fields are copied verbatim (``unit_created_at`` keeps the exact text that was
    signed), so a reader verifies the author's signature from the DID alone. A reshare is
    another row with the same signed unit, another sharer, and ``reshared_from_id``; it goes
    when the share it came from goes.
    """

    __tablename__ = "shared_units"
    __table_args__ = (UniqueConstraint("sharer_id", "unit_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    sharer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The author may be a peer on another node: the DID is what verification needs.
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    author_did: Mapped[str] = mapped_column(DID)
    reshared_from_id: Mapped[str | None] = mapped_column(
        ForeignKey("shared_units.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    unit_created_at: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    language: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=EMPTY_JSON_ARRAY)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(128))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    policy: Mapped[SharingPolicy] = mapped_column(_enum(SharingPolicy, "sharing_policy", 16))
    can_view: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    can_annotate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_remix: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_reshare: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class SharedUnitCircle(Base):
    """Which circles a shared unit is shared with (its ``sharingCircles``)."""

    __tablename__ = "shared_unit_circles"

    shared_unit_id: Mapped[str] = mapped_column(
        ForeignKey("shared_units.id", ondelete="CASCADE"), primary_key=True
    )
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), primary_key=True)
    # Copied from the share so "newest in this circle" is one index range.
    published_at: Mapped[datetime] = _created()


class SharedUnitAccess(Base):
    """Who may read which circle share: grants x memberships, materialised.

    Kept exact by every change to a share, a grant or a membership, so "shared with me,
    newest first" is one index range per reader instead of a join over all their circles.
    Expiry is copied here and checked at read time.
    """

    __tablename__ = "shared_unit_access"

    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    shared_unit_id: Mapped[str] = mapped_column(
        ForeignKey("shared_units.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sharer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Annotation(Base):
    """A note on a shared unit, visible to that share's audience."""

    __tablename__ = "annotations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    shared_unit_id: Mapped[str] = mapped_column(ForeignKey("shared_units.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class SharingState(Base):
    """Counters shared by every process: ``generation`` changes whenever anyone's view of
    shared units may have changed, so per-process caches (the shared search index) know
    to reload."""

    __tablename__ = "sharing_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


# Feeds read newest first with (published_at, id) as the keyset; ascending composite keys are
# scanned backwards by both engines, so the sort never touches more rows than a page.
Index("ix_shared_units_sharer_id_published_at", SharedUnit.sharer_id, SharedUnit.published_at, SharedUnit.id)
# Public shares of the people a reader follows: one range per sharer, without touching
# that sharer's circle shares (whose rows carry the vectors).
Index(
    "ix_shared_units_policy_sharer_id_published_at",
    SharedUnit.policy,
    SharedUnit.sharer_id,
    SharedUnit.published_at,
    SharedUnit.id,
)
Index(
    "ix_shared_unit_circles_circle_id_published_at",
    SharedUnitCircle.circle_id,
    SharedUnitCircle.published_at,
    SharedUnitCircle.shared_unit_id,
)
Index(
    "ix_shared_unit_access_recipient_id_published_at",
    SharedUnitAccess.recipient_id,
    SharedUnitAccess.published_at,
    SharedUnitAccess.shared_unit_id,
)
Index(
    "ix_shared_unit_access_recipient_id_sharer_id_published_at",
    SharedUnitAccess.recipient_id,
    SharedUnitAccess.sharer_id,
    SharedUnitAccess.published_at,
    SharedUnitAccess.shared_unit_id,
)
Index("ix_annotations_shared_unit_id_created_at", Annotation.shared_unit_id, Annotation.created_at)


__all__ += [
    "Annotation",
    "Block",
    "CircleInvitation",
    "InvitationStatus",
    "SharedUnit",
    "SharedUnitAccess",
    "SharedUnitCircle",
    "SharingPolicy",
    "SharingState",
]
