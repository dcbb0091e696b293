"""Devices, sessions and API tokens on real master databases (SQLite and PostgreSQL).

The HTTP tests cover the same rules end to end on SQLite; these make sure the single-use,
rotation and cascade guarantees hold on PostgreSQL too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select, update

from vivim.app import UserRecord, Vivim, open_vivim
from vivim.domain.errors import AlreadyExists, InvalidIdentifier, NotFound
from vivim.domain.times import utcnow
from vivim.identity import auth, service
from vivim.identity.devices import device_id_for, fingerprint
from vivim.store.master.drift import schema_differences
from vivim.store.master.models import ApiToken, AuthChallenge, AuthSession, Device


@pytest.fixture
def v(master_url: str, tmp_path: Path) -> Iterator[Vivim]:
    vivim = open_vivim(tmp_path / "data", master_url=master_url)
    vivim.init()
    try:
        yield vivim
    finally:
        vivim.close()


def _key() -> tuple[Ed25519PrivateKey, bytes]:
    sk = Ed25519PrivateKey.generate()
    return sk, sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _count(v: Vivim, table: object, **where: object) -> int:
    q = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for column, value in where.items():
        q = q.where(table.c[column] == value)  # type: ignore[attr-defined]
    with v.master.connect() as c:
        return int(c.execute(q).scalar_one())


def _sign_in(v: Vivim, user: UserRecord, sk: Ed25519PrivateKey, device_id: str) -> auth.IssuedTokens:
    with v.master.connect() as c:
        row = service.resolve_user(v, did=user.did)
        ch = auth.create_challenge(c, user=row, device_id=device_id, origin="https://vivim.test")
    return auth.exchange_challenge(v.master, challenge_id=ch.id, signature=sk.sign(ch.message.encode()))


def test_the_migrated_schema_matches_the_models(v: Vivim) -> None:
    with v.master.engine.connect() as c:
        assert schema_differences(c) == []


def test_a_device_is_named_by_its_key_and_listed_renamed_and_revoked(v: Vivim) -> None:
    alice = v.create_user("alice")
    _sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop", device_type="desktop", platform="linux")
    assert device.device_id == device_id_for(public) == fingerprint(public)[:32]
    assert device.fingerprint == fingerprint(public) and len(device.fingerprint) == 64
    assert [d.device_id for d in service.list_devices(v, alice)] == [device.device_id]
    renamed = service.rename_device(v, alice, device.device_id, name="old laptop", trusted=True)
    assert renamed.device_name == "old laptop" and renamed.is_trusted
    revoked = service.revoke_device(v, alice, device.device_id)
    assert not revoked.is_active and revoked.metadata_["revoked_at"].endswith("Z")
    assert service.list_devices(v, alice, include_revoked=False) == []


def test_a_key_is_registered_once_in_the_whole_deployment(v: Vivim) -> None:
    alice, bob = v.create_user("alice"), v.create_user("bob")
    _sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    for who in (alice, bob):
        with pytest.raises(AlreadyExists):
            service.register_device(v, who, public_key=public, name="again")
    service.revoke_device(v, alice, device.device_id)
    with pytest.raises(AlreadyExists):  # revoked keys stay burnt
        service.register_device(v, alice, public_key=public, name="again")
    with pytest.raises(InvalidIdentifier):
        service.register_device(v, alice, public_key=b"short", name="x")
    with pytest.raises(InvalidIdentifier):
        service.register_device(v, alice, public_key=_key()[1], name="  ")


def test_another_users_device_or_token_is_not_found(v: Vivim) -> None:
    alice, bob = v.create_user("alice"), v.create_user("bob")
    device = service.register_device(v, alice, public_key=_key()[1], name="laptop")
    token, _plain = service.create_api_token(v, alice, "script")
    for action in (
        lambda: service.get_device(v, bob, device.device_id),
        lambda: service.rename_device(v, bob, device.device_id, name="mine now"),
        lambda: service.revoke_device(v, bob, device.device_id),
        lambda: service.get_api_token(v, bob, token.id),
        lambda: service.revoke_api_token(v, bob, token.id),
    ):
        with pytest.raises(NotFound):
            action()
    assert service.get_device(v, alice, device.device_id).is_active
    assert service.get_api_token(v, alice, token.id).is_active


def test_a_challenge_is_consumed_once_even_when_presented_twice(v: Vivim) -> None:
    alice = v.create_user("alice")
    sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    with v.master.connect() as c:
        ch = auth.create_challenge(c, user=service.resolve_user(v, handle="alice"), device_id=device.device_id,
                                   origin="https://vivim.test")
    signature = sk.sign(ch.message.encode())
    issued = auth.exchange_challenge(v.master, challenge_id=ch.id, signature=signature)
    assert issued.device_id == device.device_id
    with pytest.raises(auth.ChallengeUsed):
        auth.exchange_challenge(v.master, challenge_id=ch.id, signature=signature)
    assert _count(v, AuthSession.__table__) == 1


def test_an_expired_challenge_is_refused(v: Vivim) -> None:
    alice = v.create_user("alice")
    sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    with v.master.connect() as c:
        ch = auth.create_challenge(
            c, user=service.resolve_user(v, handle="alice"), device_id=device.device_id, origin="o",
            settings=auth.AuthSettings(challenge_ttl=timedelta(seconds=-1)),
        )
    with pytest.raises(auth.ChallengeExpired):
        auth.exchange_challenge(v.master, challenge_id=ch.id, signature=sk.sign(ch.message.encode()))


def test_tokens_resolve_to_their_user_and_stop_when_the_device_is_revoked(v: Vivim) -> None:
    alice = v.create_user("alice")
    sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    issued = _sign_in(v, alice, sk, device.device_id)
    principal = auth.authenticate(v.master, issued.access_token)
    assert (principal.user_id, principal.did, principal.kind, principal.device_id) == (
        alice.id, alice.did, "session", device.device_id
    )
    service.revoke_device(v, alice, device.device_id)
    with pytest.raises((auth.TokenRevoked, auth.DeviceRevoked)):
        auth.authenticate(v.master, issued.access_token)
    with pytest.raises(auth.AuthError):
        auth.refresh(v.master, issued.refresh_token)
    assert _count(v, AuthSession.__table__, revoke_reason="device_revoked") == 1


def test_refresh_rotation_and_reuse_detection(v: Vivim) -> None:
    alice = v.create_user("alice")
    sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    first = _sign_in(v, alice, sk, device.device_id)
    second = auth.refresh(v.master, first.refresh_token)
    assert second.session_id == first.session_id and second.access_token != first.access_token
    with pytest.raises(auth.InvalidToken):
        auth.authenticate(v.master, first.access_token)
    assert auth.authenticate(v.master, second.access_token).session_id == first.session_id
    with pytest.raises(auth.RefreshTokenReused):
        auth.refresh(v.master, first.refresh_token)
    with pytest.raises(auth.TokenRevoked):
        auth.authenticate(v.master, second.access_token)


def test_api_tokens_are_stored_only_as_hashes_and_revocable(v: Vivim) -> None:
    alice = v.create_user("alice")
    record, plaintext = service.create_api_token(v, alice, "backup", expires_in_days=7)
    with v.master.connect() as c:
        stored = c.execute(select(ApiToken.__table__)).one()._mapping
    assert plaintext not in {str(value) for value in stored.values()}
    assert stored["token_prefix"] == plaintext[:12]
    assert auth.authenticate(v.master, plaintext).api_token_id == record.id
    service.revoke_api_token(v, alice, record.id)
    with pytest.raises(auth.TokenRevoked):
        auth.authenticate(v.master, plaintext)
    # Expiry is checked too.
    short, second = service.create_api_token(v, alice, "short")
    with v.master.connect() as c:
        c.execute(
            update(ApiToken.__table__)
            .where(ApiToken.__table__.c.id == short.id)
            .values(expires_at=short.created_at - timedelta(days=1))
        )
    with pytest.raises(auth.TokenExpired):
        auth.authenticate(v.master, second)


def test_many_requests_at_once_with_one_token_all_authenticate(v: Vivim) -> None:
    # Each check may record the token's last use. Recording it inside the check's read
    # transaction let concurrent checks collide on SQLite ("database is locked", a 500).
    alice = v.create_user("alice")
    _record, plaintext = service.create_api_token(v, alice, "script")
    sk, pk = _key()
    device = service.register_device(v, alice, name="laptop", public_key=pk)
    session = _sign_in(v, alice, sk, device.device_id)
    long_ago = utcnow() - timedelta(days=1)
    failures: list[BaseException] = []
    for _round in range(5):
        with v.master.connect() as c:
            c.execute(update(ApiToken.__table__).values(last_used_at=long_ago))
            c.execute(update(AuthSession.__table__).values(last_used_at=long_ago))
        start = threading.Barrier(8)

        def check(token: str, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                auth.authenticate(v.master, token)
            except BaseException as exc:  # collected: a thread's exception would be lost
                failures.append(exc)

        threads = [
            threading.Thread(target=check, args=(plaintext if i % 2 else session.access_token,)) for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
    with v.master.connect() as c:
        assert c.execute(select(ApiToken.__table__.c.last_used_at)).scalar_one() > long_ago


def test_an_inactive_account_cannot_authenticate_or_get_tokens(v: Vivim) -> None:
    alice = v.create_user("alice")
    _record, plaintext = service.create_api_token(v, alice, "s")
    suspended = service.set_account_status(v, alice, "SUSPENDED")
    assert suspended.status == "SUSPENDED"
    with pytest.raises(auth.AccountNotActive) as info:
        auth.authenticate(v.master, plaintext)
    assert info.value.code == "account_suspended"
    with pytest.raises(auth.AccountNotActive):
        service.create_api_token(v, suspended, "more")
    with pytest.raises(InvalidIdentifier):
        service.set_account_status(v, alice, "FROZEN")


def test_deleting_a_user_deletes_their_devices_sessions_challenges_and_tokens(v: Vivim) -> None:
    alice = v.create_user("alice")
    sk, public = _key()
    device = service.register_device(v, alice, public_key=public, name="laptop")
    _sign_in(v, alice, sk, device.device_id)
    service.create_api_token(v, alice, "s")
    tables = (Device.__table__, AuthSession.__table__, AuthChallenge.__table__, ApiToken.__table__)
    assert [_count(v, t) for t in tables] == [1, 1, 1, 1]
    v.delete_user("alice")
    assert [_count(v, t) for t in tables] == [0, 0, 0, 0]
