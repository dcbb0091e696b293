"""Identity operations on a :class:`~vivim.app.Vivim`: key export and import, profile and
account status, devices and personal API tokens.

Plain functions taking the ``Vivim`` (the composition root stays small); the CLI and the
HTTP API both call these, so both behave the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from vivim.app import UserRecord, Vivim
from vivim.domain.errors import InvalidIdentifier, NotFound
from vivim.domain.times import utcnow
from vivim.identity import auth, devices, keyexport, tokens
from vivim.identity.keys import KeyPair
from vivim.store.master import users as master_users
from vivim.store.master.models import AccountStatus, User

_users = User.__table__
MAX_DISPLAY_NAME = 255


def user_record(principal: auth.Principal) -> UserRecord:
    """The :class:`UserRecord` of an authenticated principal (no extra query)."""
    return UserRecord(
        id=principal.user_id,
        handle=principal.handle,
        did=principal.did,
        email=principal.email,
        display_name=principal.display_name,
        status=principal.status,
        created_at=principal.created_at,
        public_key=principal.public_key,
        key_type=principal.key_type,
    )


# -- keys ------------------------------------------------------------------------------------


def export_key(v: Vivim, user: UserRecord, passphrase: str, **kdf: int) -> dict[str, Any]:
    """The user's identity key as a passphrase-protected envelope (keyexport.FORMAT)."""
    return keyexport.export_key(v.keypair(user), passphrase, **kdf)


def read_key_export(data: bytes | str, passphrase: str) -> KeyPair:
    return keyexport.import_key(keyexport.loads(data), passphrase)


def import_user(
    v: Vivim,
    name: str,
    data: bytes | str,
    passphrase: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
) -> UserRecord:
    """Create a user on this instance with an exported key: same key pair, same DID."""
    keypair = read_key_export(data, passphrase)
    return v.create_user(name, email=email, display_name=display_name, keypair=keypair)


# -- profile and status ----------------------------------------------------------------------


def update_profile(v: Vivim, user: UserRecord, *, display_name: str | None) -> UserRecord:
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > MAX_DISPLAY_NAME or "\x00" in display_name:
            raise InvalidIdentifier(f"a display name is at most {MAX_DISPLAY_NAME} characters, without NUL")
    with v.master.connect() as c:
        c.execute(
            update(_users).where(_users.c.id == user.id).values(display_name=display_name or None, updated_at=utcnow())
        )
    return v.get_user(user.id)


def set_account_status(v: Vivim, user: UserRecord, status: AccountStatus | str) -> UserRecord:
    """Change an account's status; anything but ACTIVE also revokes its open sessions.

    Authentication checks the status on every request anyway; revoking the sessions means
    that reactivating the account does not bring old tokens back to life.
    """
    try:
        value = AccountStatus(status)
    except ValueError:
        raise InvalidIdentifier(
            f"unknown account status {status!r}; one of {', '.join(s.value for s in AccountStatus)}"
        ) from None
    with v.master.connect() as c:
        changed = c.execute(
            update(_users).where(_users.c.id == user.id).values(status=value, updated_at=utcnow())
        ).rowcount
        if changed == 0:
            raise NotFound(f"no user {user.id}")
        if value is not AccountStatus.ACTIVE:
            auth.revoke_user_sessions(c, user_id=user.id, reason=f"account_{value.value.lower()}")
    return v.get_user(user.id)


# -- devices ---------------------------------------------------------------------------------


def register_device(
    v: Vivim,
    user: UserRecord,
    *,
    public_key: bytes,
    name: str,
    device_type: str = "unknown",
    platform: str = "unknown",
    trusted: bool = False,
) -> devices.DeviceRecord:
    with v.master.connect() as c:
        return devices.register_device(
            c, user_id=user.id, public_key=public_key, name=name, device_type=device_type,
            platform=platform, trusted=trusted,
        )


def list_devices(
    v: Vivim, user: UserRecord, *, include_revoked: bool = True, limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[devices.DeviceRecord]:
    with v.master.connect() as c:
        return devices.list_devices(c, user_id=user.id, include_revoked=include_revoked, limit=limit, after=after)


def get_device(v: Vivim, user: UserRecord, device_id: str) -> devices.DeviceRecord:
    with v.master.connect() as c:
        return devices.get_device(c, user_id=user.id, device_id=device_id)


def rename_device(
    v: Vivim, user: UserRecord, device_id: str, *, name: str | None = None, trusted: bool | None = None
) -> devices.DeviceRecord:
    with v.master.connect() as c:
        return devices.update_device(c, user_id=user.id, device_id=device_id, name=name, trusted=trusted)


def revoke_device(v: Vivim, user: UserRecord, device_id: str) -> devices.DeviceRecord:
    with v.master.connect() as c:
        return devices.revoke_device(c, user_id=user.id, device_id=device_id)


# -- personal API tokens ---------------------------------------------------------------------


def create_api_token(
    v: Vivim, user: UserRecord, name: str, *, expires_in_days: int | None = None
) -> tuple[tokens.ApiTokenRecord, str]:
    auth.check_account(user.status)
    with v.master.connect() as c:
        return tokens.create_api_token(c, user_id=user.id, name=name, expires_in_days=expires_in_days)


def list_api_tokens(
    v: Vivim, user: UserRecord, *, include_revoked: bool = True, limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[tokens.ApiTokenRecord]:
    with v.master.connect() as c:
        return tokens.list_api_tokens(c, user_id=user.id, include_revoked=include_revoked, limit=limit, after=after)


def get_api_token(v: Vivim, user: UserRecord, token_id: str) -> tokens.ApiTokenRecord:
    with v.master.connect() as c:
        return tokens.get_api_token(c, user_id=user.id, token_id=token_id)


def revoke_api_token(v: Vivim, user: UserRecord, token_id: str) -> tokens.ApiTokenRecord:
    with v.master.connect() as c:
        return tokens.revoke_api_token(c, user_id=user.id, token_id=token_id)


def resolve_user(v: Vivim, *, did: str | None = None, handle: str | None = None) -> master_users.UserRecord:
    with v.master.connect() as c:
        return auth.resolve_user(c, did=did, handle=handle)


__all__ = [
    "create_api_token",
    "export_key",
    "get_api_token",
    "get_device",
    "import_user",
    "list_api_tokens",
    "list_devices",
    "read_key_export",
    "register_device",
    "rename_device",
    "resolve_user",
    "revoke_api_token",
    "revoke_device",
    "set_account_status",
    "update_profile",
    "user_record",
]
