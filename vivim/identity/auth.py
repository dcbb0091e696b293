"""Challenge-response login, device sessions, and resolving a bearer token to a principal.

Flow (docs/API.md, docs/SECURITY.md):

1. ``create_challenge``: the server stores a random nonce for (user, device) with a short
   expiry and hands back the exact bytes to sign (``challenge_message``).
2. ``exchange_challenge``: the challenge is consumed first, in its own committed
   transaction (single use even when what follows fails), then the signature is checked
   with the device's key, or, to enrol a device, with the user's own key plus the new
   device's signature over the same message. A session is created with an access token
   (short-lived) and a refresh token.
3. ``refresh``: rotates both tokens; presenting a refresh token that was already rotated
   away revokes the whole session (it was copied).
4. ``authenticate``: on every request, one indexed query joins the token's session (or
   personal API token) with its device and user, so a revoked device, a revoked token or
   a suspended account is refused from the very next request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from vivim.domain.errors import AlreadyExists, InvalidIdentifier, NotFound, VivimError
from vivim.domain.ids import new_id, validate_user_name
from vivim.domain.times import to_iso, utcnow
from vivim.identity import devices as device_store
from vivim.identity.keys import b64decode, verify
from vivim.identity.tokens import (
    ACCESS_PREFIX,
    API_TOKEN_PREFIX,
    REFRESH_PREFIX,
    hash_token,
    looks_like_token,
    new_token,
)
from vivim.store.master import users as master_users
from vivim.store.master.db import MasterDB
from vivim.store.master.models import (
    AccountStatus,
    ApiToken,
    AuthChallenge,
    AuthSession,
    Device,
    User,
)

CHALLENGE_CONTEXT = "vivim-auth:v1"
_challenges = AuthChallenge.__table__
_sessions = AuthSession.__table__
_api_tokens = ApiToken.__table__
_devices = Device.__table__
_users = User.__table__

# A used or expired challenge is kept this long (so a replay is reported as such), then swept.
_CHALLENGE_KEEP = timedelta(hours=1)
# last_used_at is a convenience for people, not an audit: write it at most once a minute per
# credential so that authenticated reads do not each become a write.
_TOUCH_EVERY = timedelta(seconds=60)


# -- errors ----------------------------------------------------------------------------------


class AuthError(VivimError):
    """The request is not authenticated (HTTP 401)."""

    code = "unauthorized"


class InvalidCredentials(AuthError):
    """Unknown user or device, or a device that cannot sign in."""

    code = "invalid_credentials"


class InvalidChallenge(AuthError):
    code = "invalid_challenge"


class ChallengeExpired(AuthError):
    code = "challenge_expired"


class ChallengeUsed(AuthError):
    """A challenge is single use; this one was already presented."""

    code = "challenge_used"


class InvalidSignature(AuthError):
    code = "invalid_signature"


class InvalidToken(AuthError):
    code = "invalid_token"


class TokenExpired(AuthError):
    code = "token_expired"


class TokenRevoked(AuthError):
    code = "token_revoked"


class DeviceRevoked(AuthError):
    code = "device_revoked"


class RefreshTokenReused(AuthError):
    """A rotated-away refresh token came back: the session is revoked."""

    code = "refresh_token_reused"


class AccountNotActive(VivimError):
    """The account is suspended, banned, being deleted or deleted."""

    code = "account_inactive"

    def __init__(self, status: str) -> None:
        self.status = status
        self.code = f"account_{status.lower()}"
        super().__init__(f"this account is {status.lower()}")


class SessionRequired(VivimError):
    """The operation needs a device session; a personal API token is not enough."""

    code = "session_required"


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSettings:
    challenge_ttl: timedelta = timedelta(minutes=2)
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for, and through which credential."""

    user_id: str
    did: str
    handle: str | None
    display_name: str | None
    email: str | None
    status: str
    created_at: datetime
    public_key: str
    key_type: str
    kind: str
    """``session`` (a device's access token) or ``api_token``."""
    session_id: str | None = None
    device_pk: str | None = None
    device_id: str | None = None
    api_token_id: str | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    nonce: str
    message: str
    expires_at: datetime
    signer: str
    """``device`` (sign with the device key) or ``user`` (the user's own key, to enrol)."""
    did: str
    device_id: str | None
    origin: str


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A new device to register while signing in with the user's own key."""

    public_key: bytes
    signature: bytes
    name: str
    device_type: str = "unknown"
    platform: str = "unknown"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: str
    user_id: str
    device_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "token_type": "bearer",
            "access_token": self.access_token,
            "expires_at": self.access_expires_at,
            "expires_in": max(0, int((self.access_expires_at - utcnow()).total_seconds())),
            "refresh_token": self.refresh_token,
            "refresh_expires_at": self.refresh_expires_at,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "device_id": self.device_id,
        }


# -- helpers ---------------------------------------------------------------------------------


def check_account(status: object) -> None:
    value = getattr(status, "value", status)
    if value != AccountStatus.ACTIVE.value:
        raise AccountNotActive(str(value))


def resolve_user(conn: Connection, *, did: str | None = None, handle: str | None = None) -> master_users.UserRecord:
    """The user named by exactly one of ``did`` or ``handle``; unknown is InvalidCredentials."""
    if (did is None) == (handle is None):
        raise InvalidIdentifier("give exactly one of did or handle")
    if did is not None:
        row = master_users.get_user_by_did(conn, did)
    else:
        validate_user_name(handle)
        row = master_users.get_user_by_handle(conn, handle)  # type: ignore[arg-type]
    if row is None:
        raise InvalidCredentials("unknown user")
    return row


def challenge_message(
    *, challenge_id: str, nonce: str, did: str, device_id: str | None, origin: str, expires_at: datetime
) -> str:
    """The exact text a client signs (UTF-8), one ``key:value`` per line."""
    return "\n".join(
        [
            CHALLENGE_CONTEXT,
            f"challenge:{challenge_id}",
            f"nonce:{nonce}",
            f"did:{did}",
            f"device:{device_id or '-'}",
            f"origin:{origin}",
            f"expires:{to_iso(expires_at)}",
        ]
    )


# -- challenges ------------------------------------------------------------------------------


def create_challenge(
    conn: Connection,
    *,
    user: master_users.UserRecord,
    device_id: str | None,
    origin: str,
    ip_address: str | None = None,
    settings: AuthSettings | None = None,
) -> Challenge:
    settings = settings or AuthSettings()
    check_account(user.status)
    device_pk = None
    if device_id is not None:
        try:
            device = device_store.get_device(conn, user_id=user.id, device_id=device_id)
        except NotFound:
            raise InvalidCredentials("unknown device") from None
        if not device.is_active:
            raise DeviceRevoked("this device was revoked")
        device_pk = device.id
    now = utcnow()
    conn.execute(delete(_challenges).where(_challenges.c.expires_at < now - _CHALLENGE_KEEP))
    challenge_id = new_id()
    nonce = secrets.token_urlsafe(32)
    expires = now + settings.challenge_ttl
    conn.execute(
        insert(_challenges),
        {
            "id": challenge_id,
            "user_id": user.id,
            "device_id": device_pk,
            "nonce": nonce,
            "origin": origin[:512],
            "ip_address": ip_address,
            "created_at": now,
            "expires_at": expires,
            "used_at": None,
        },
    )
    return Challenge(
        id=challenge_id,
        nonce=nonce,
        message=challenge_message(
            challenge_id=challenge_id, nonce=nonce, did=user.did, device_id=device_id, origin=origin[:512],
            expires_at=expires,
        ),
        expires_at=expires,
        signer="device" if device_id else "user",
        did=user.did,
        device_id=device_id,
        origin=origin[:512],
    )


def challenge_user_id(conn: Connection, challenge_id: str) -> str | None:
    """Whose challenge this is (for per-user rate limits before any check), or None."""
    if not isinstance(challenge_id, str) or len(challenge_id) > 36:
        return None
    row = conn.execute(select(_challenges.c.user_id).where(_challenges.c.id == challenge_id)).first()
    return None if row is None else row.user_id


def _consume_challenge(master: MasterDB, challenge_id: str) -> Any:
    """Mark the challenge used in its own committed transaction and return its row."""
    if not isinstance(challenge_id, str) or len(challenge_id) > 36:
        raise InvalidChallenge("unknown challenge")
    with master.connect() as c:
        used = c.execute(
            update(_challenges)
            .where(_challenges.c.id == challenge_id, _challenges.c.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        row = c.execute(select(_challenges).where(_challenges.c.id == challenge_id)).first()
    if row is None:
        raise InvalidChallenge("unknown challenge")
    if used != 1:
        raise ChallengeUsed("this challenge was already used; ask for a new one")
    if row.expires_at <= utcnow():
        raise ChallengeExpired("this challenge has expired; ask for a new one")
    return row


def exchange_challenge(
    master: MasterDB,
    *,
    challenge_id: str,
    signature: bytes,
    enrollment: Enrollment | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    settings: AuthSettings | None = None,
) -> IssuedTokens:
    """Check a signed challenge and open a session; see the module docstring."""
    settings = settings or AuthSettings()
    row = _consume_challenge(master, challenge_id)
    with master.connect() as c:
        user = master_users.get_user_by_id(c, row.user_id)
        if user is None:
            raise InvalidCredentials("unknown user")
        check_account(user.status)
        device_row = None
        if row.device_id is not None:
            device_row = c.execute(select(_devices).where(_devices.c.id == row.device_id)).first()
            if device_row is None:
                raise InvalidCredentials("unknown device")
            if not device_row.is_active:
                raise DeviceRevoked("this device was revoked")
        device_public_id = device_row.device_id if device_row is not None else None
        message = challenge_message(
            challenge_id=row.id, nonce=row.nonce, did=user.did, device_id=device_public_id, origin=row.origin,
            expires_at=row.expires_at,
        ).encode()
        if device_row is not None:
            if not verify(device_store.decode_public_key(device_row.public_key), signature, message):
                raise InvalidSignature("the signature does not verify with this device's key")
            device_pk, device_id = device_row.id, device_row.device_id
            if enrollment is not None:
                raise InvalidIdentifier("a device challenge cannot enrol another device")
        else:
            if not verify(b64decode(user.public_key), signature, message):
                raise InvalidSignature("the signature does not verify with the user's key")
            if enrollment is None:
                raise InvalidIdentifier(
                    "signing in with the user's own key enrols a device: send device "
                    "(public_key, name, signature by the device key over the same message)"
                )
            if not verify(enrollment.public_key, enrollment.signature, message):
                raise InvalidSignature("the device signature does not verify with the device's key")
            device_pk, device_id = _enrol(c, user.id, enrollment)
        device_store.touch_device(c, device_pk)
        return _open_session(c, user.id, device_pk, device_id, ip_address, user_agent, settings)


def _enrol(conn: Connection, user_id: str, enrollment: Enrollment) -> tuple[str, str]:
    device_id = device_store.device_id_for(enrollment.public_key)
    existing = conn.execute(select(_devices).where(_devices.c.device_id == device_id)).first()
    if existing is not None:
        if existing.user_id != user_id:
            raise AlreadyExists("this device key is registered to another account")
        if not existing.is_active:
            raise DeviceRevoked("this device key was revoked; generate a new one")
        return existing.id, existing.device_id
    device = device_store.register_device(
        conn,
        user_id=user_id,
        public_key=enrollment.public_key,
        name=enrollment.name,
        device_type=enrollment.device_type,
        platform=enrollment.platform,
    )
    return device.id, device.device_id


def _open_session(
    conn: Connection,
    user_id: str,
    device_pk: str,
    device_id: str,
    ip_address: str | None,
    user_agent: str | None,
    settings: AuthSettings,
) -> IssuedTokens:
    access, access_hash = new_token(ACCESS_PREFIX)
    refresh_token, refresh_hash = new_token(REFRESH_PREFIX)
    now = utcnow()
    session_id = new_id()
    conn.execute(
        insert(_sessions),
        {
            "id": session_id,
            "user_id": user_id,
            "device_id": device_pk,
            "access_token_hash": access_hash,
            "access_expires_at": now + settings.access_ttl,
            "refresh_token_hash": refresh_hash,
            "previous_refresh_hash": None,
            "refresh_expires_at": now + settings.refresh_ttl,
            "created_at": now,
            "refreshed_at": None,
            "last_used_at": now,
            "revoked_at": None,
            "revoke_reason": None,
            "ip_address": ip_address,
            "user_agent": (user_agent or "")[:1000] or None,
        },
    )
    return IssuedTokens(
        access_token=access,
        access_expires_at=now + settings.access_ttl,
        refresh_token=refresh_token,
        refresh_expires_at=now + settings.refresh_ttl,
        session_id=session_id,
        user_id=user_id,
        device_id=device_id,
    )


# -- refresh and logout ----------------------------------------------------------------------


def refresh(master: MasterDB, refresh_token: str, *, settings: AuthSettings | None = None) -> IssuedTokens:
    settings = settings or AuthSettings()
    if not isinstance(refresh_token, str) or not looks_like_token(refresh_token, REFRESH_PREFIX):
        raise InvalidToken("not a refresh token")
    digest = hash_token(refresh_token)
    reuse_detected = False
    with master.connect() as c:
        row = c.execute(select(_sessions).where(_sessions.c.refresh_token_hash == digest)).first()
        if row is None:
            reused = c.execute(
                select(_sessions.c.id).where(
                    _sessions.c.previous_refresh_hash == digest, _sessions.c.revoked_at.is_(None)
                )
            ).first()
            if reused is not None:
                c.execute(
                    update(_sessions)
                    .where(_sessions.c.id == reused.id)
                    .values(revoked_at=utcnow(), revoke_reason="refresh_reuse")
                )
                reuse_detected = True
    # Raised after the block so that the revocation above is committed.
    if row is None:
        if reuse_detected:
            raise RefreshTokenReused("this refresh token was already used; the session is revoked")
        raise InvalidToken("unknown refresh token")
    with master.connect() as c:
        if row.revoked_at is not None:
            raise TokenRevoked("this session was revoked")
        now = utcnow()
        if row.refresh_expires_at <= now:
            raise TokenExpired("the refresh token has expired; sign in again")
        device = c.execute(select(_devices.c.is_active, _devices.c.device_id).where(_devices.c.id == row.device_id)).first()
        if device is None or not device.is_active:
            raise DeviceRevoked("this device was revoked")
        user = c.execute(select(_users.c.status).where(_users.c.id == row.user_id)).first()
        if user is None:
            raise InvalidCredentials("unknown user")
        check_account(user.status)
        access, access_hash = new_token(ACCESS_PREFIX)
        new_refresh, new_refresh_hash = new_token(REFRESH_PREFIX)
        changed = c.execute(
            update(_sessions)
            .where(
                _sessions.c.id == row.id,
                _sessions.c.refresh_token_hash == digest,
                _sessions.c.revoked_at.is_(None),
            )
            .values(
                access_token_hash=access_hash,
                access_expires_at=now + settings.access_ttl,
                refresh_token_hash=new_refresh_hash,
                previous_refresh_hash=digest,
                refresh_expires_at=now + settings.refresh_ttl,
                refreshed_at=now,
                last_used_at=now,
            )
        ).rowcount
        if changed != 1:  # a concurrent refresh (or revocation) got there first
            raise InvalidToken("this refresh token was just used or revoked")
        device_store.touch_device(c, row.device_id)
    return IssuedTokens(
        access_token=access,
        access_expires_at=now + settings.access_ttl,
        refresh_token=new_refresh,
        refresh_expires_at=now + settings.refresh_ttl,
        session_id=row.id,
        user_id=row.user_id,
        device_id=device.device_id,
    )


def logout(master: MasterDB, principal: Principal) -> None:
    """End the credential the request was made with: its session, or its API token."""
    now = utcnow()
    with master.connect() as c:
        if principal.session_id is not None:
            c.execute(
                update(_sessions)
                .where(_sessions.c.id == principal.session_id, _sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason="logout")
            )
        elif principal.api_token_id is not None:
            c.execute(
                update(_api_tokens)
                .where(_api_tokens.c.id == principal.api_token_id, _api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )


# -- every request ---------------------------------------------------------------------------

_PRINCIPAL_USER_COLUMNS = (
    _users.c.id.label("user_id"),
    _users.c.did,
    _users.c.handle,
    _users.c.display_name,
    _users.c.email,
    _users.c.status,
    _users.c.created_at.label("user_created_at"),
    _users.c.public_key,
    _users.c.key_type,
)


# Built once: constructing the statement on every request cost more than running it
# (0.26 ms against 0.09 ms a check on SQLite; SQLAlchemy caches the compiled form either way).
_SESSION_BY_TOKEN = (
    select(
        _sessions.c.id.label("session_id"),
        _sessions.c.access_expires_at,
        _sessions.c.revoked_at,
        _sessions.c.last_used_at,
        _devices.c.id.label("device_pk"),
        _devices.c.device_id,
        _devices.c.is_active.label("device_active"),
        *_PRINCIPAL_USER_COLUMNS,
    )
    .select_from(
        _sessions.join(_devices, _devices.c.id == _sessions.c.device_id).join(
            _users, _users.c.id == _sessions.c.user_id
        )
    )
    .where(_sessions.c.access_token_hash == bindparam("digest"))
)
_API_TOKEN_BY_TOKEN = (
    select(
        _api_tokens.c.id.label("token_id"),
        _api_tokens.c.expires_at,
        _api_tokens.c.revoked_at,
        _api_tokens.c.last_used_at,
        *_PRINCIPAL_USER_COLUMNS,
    )
    .select_from(_api_tokens.join(_users, _users.c.id == _api_tokens.c.user_id))
    .where(_api_tokens.c.token_hash == bindparam("digest"))
)


def _principal(row: Any, **auth: Any) -> Principal:
    status = getattr(row.status, "value", row.status)
    return Principal(
        user_id=row.user_id,
        did=row.did,
        handle=row.handle,
        display_name=row.display_name,
        email=row.email,
        status=status,
        created_at=row.user_created_at,
        public_key=row.public_key,
        key_type=row.key_type,
        **auth,
    )


def authenticate(master: MasterDB, token: str) -> Principal:
    """Resolve a bearer token (access or personal API token) or raise an :class:`AuthError`
    (or :class:`AccountNotActive`)."""
    if not isinstance(token, str):
        raise InvalidToken("missing token")
    if looks_like_token(token, ACCESS_PREFIX):
        return _authenticate_session(master, hash_token(token))
    if looks_like_token(token, API_TOKEN_PREFIX):
        return _authenticate_api_token(master, hash_token(token))
    if token.startswith(REFRESH_PREFIX):
        raise InvalidToken("a refresh token cannot authenticate requests; use it at /auth/refresh")
    raise InvalidToken("not a vivim access token or API token")


def _authenticate_session(master: MasterDB, digest: str) -> Principal:
    with master.connect() as c:
        row = c.execute(_SESSION_BY_TOKEN, {"digest": digest}).first()
        if row is None:
            raise InvalidToken("unknown or replaced access token")
        now = utcnow()
        if row.revoked_at is not None:
            raise TokenRevoked("this session was revoked")
        if not row.device_active:
            raise DeviceRevoked("this device was revoked")
        if row.access_expires_at <= now:
            raise TokenExpired("the access token has expired; refresh it")
        check_account(row.status)
    if now - row.last_used_at >= _TOUCH_EVERY:
        _record_use(master, _sessions, row.session_id, now)
    return _principal(
        row, kind="session", session_id=row.session_id, device_pk=row.device_pk, device_id=row.device_id
    )


def _authenticate_api_token(master: MasterDB, digest: str) -> Principal:
    with master.connect() as c:
        row = c.execute(_API_TOKEN_BY_TOKEN, {"digest": digest}).first()
        if row is None:
            raise InvalidToken("unknown API token")
        now = utcnow()
        if row.revoked_at is not None:
            raise TokenRevoked("this API token was revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise TokenExpired("this API token has expired")
        check_account(row.status)
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        _record_use(master, _api_tokens, row.token_id, now)
    return _principal(row, kind="api_token", api_token_id=row.token_id)


def _record_use(master: MasterDB, table: Table, row_id: str, now: datetime) -> None:
    """Note a credential's last use, in a transaction of its own. Inside the check's read
    transaction, concurrent checks of one credential collided: SQLite refuses to turn a
    read into a write once another writer has committed since the read began ("database
    is locked", without waiting). The condition keeps concurrent checks to one write."""
    stale = or_(table.c.last_used_at.is_(None), table.c.last_used_at <= now - _TOUCH_EVERY)
    with master.connect() as c:
        c.execute(update(table).where(table.c.id == row_id, stale).values(last_used_at=now))


def revoke_user_sessions(conn: Connection, *, user_id: str, reason: str) -> int:
    """Revoke every open session of a user (e.g. when the account is suspended)."""
    return conn.execute(
        update(_sessions)
        .where(_sessions.c.user_id == user_id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason[:32])
    ).rowcount


__all__ = [
    "AccountNotActive",
    "AuthError",
    "AuthSettings",
    "Challenge",
    "ChallengeExpired",
    "ChallengeUsed",
    "DeviceRevoked",
    "Enrollment",
    "InvalidChallenge",
    "InvalidCredentials",
    "InvalidSignature",
    "InvalidToken",
    "IssuedTokens",
    "Principal",
    "RefreshTokenReused",
    "SessionRequired",
    "TokenExpired",
    "TokenRevoked",
    "authenticate",
    "challenge_message",
    "check_account",
    "create_challenge",
    "exchange_challenge",
    "logout",
    "refresh",
    "resolve_user",
]
