"""Signing in over HTTP: challenges, tokens, refresh, logout, revocation, account status,
personal API tokens, rate limits and key export."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.e2e.test_api_support import (
    API,
    Account,
    b64,
    challenge,
    device_sign_in,
    enrol,
    new_account,
    raw_public,
)
from vivim.api.app import create_app
from vivim.api.config import ApiConfig, RateLimits
from vivim.app import Vivim, open_vivim
from vivim.identity import keyexport, service
from vivim.identity.auth import AuthSettings
from vivim.identity.devices import device_id_for, registration_message
from vivim.identity.ratelimit import Rule

FAST_KDF = {"key_export_memory_kib": 8 * 1024, "key_export_iterations": 1}


@pytest.fixture
def client(vivim: Vivim) -> Iterator[TestClient]:
    with TestClient(create_app(vivim, config=ApiConfig(**FAST_KDF))) as c:
        yield c


@pytest.fixture
def alice(client: TestClient, vivim: Vivim) -> Account:
    return new_account(client, vivim, "alice")


def error_code(response: object) -> str:
    return response.json()["error"]["code"]  # type: ignore[attr-defined]


# -- signing in ------------------------------------------------------------------------------


def test_enrolling_a_device_with_the_user_key_gives_tokens_for_that_device(client: TestClient, alice: Account) -> None:
    assert alice.access.startswith("vat_") and alice.refresh.startswith("vrt_")
    assert alice.device_id == device_id_for(raw_public(alice.device_key))
    me = client.get(f"{API}/users/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["did"] == alice.user.did and me.json()["handle"] == "alice"
    [device] = client.get(f"{API}/devices", headers=alice.headers).json()["items"]
    assert device["device_id"] == alice.device_id and device["current"] is True
    assert device["name"] == "laptop" and device["platform"] == "linux" and device["is_active"] is True


def test_a_registered_device_signs_in_with_its_own_key(client: TestClient, alice: Account) -> None:
    r = device_sign_in(client, alice)
    assert r.status_code == 200, r.text
    assert r.json()["device_id"] == alice.device_id
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.get(f"{API}/users/me", headers=headers).status_code == 200


def test_the_challenge_message_binds_nonce_did_device_and_server(client: TestClient, alice: Account) -> None:
    ch = challenge(client, did=alice.user.did, device_id=alice.device_id)
    lines = ch["message"].split("\n")
    assert lines[0] == "vivim-auth:v1"
    assert lines[1:6] == [
        f"challenge:{ch['challenge_id']}",
        f"nonce:{ch['nonce']}",
        f"did:{alice.user.did}",
        f"device:{alice.device_id}",
        "origin:http://testserver",
    ]
    assert lines[6].startswith("expires:") and ch["signer"] == "device"


def test_a_challenge_is_single_use_even_after_a_successful_sign_in(client: TestClient, alice: Account) -> None:
    ch = challenge(client, did=alice.user.did, device_id=alice.device_id)
    body = {"challenge_id": ch["challenge_id"], "signature": b64(alice.device_key.sign(ch["message"].encode()))}
    assert client.post(f"{API}/auth/token", json=body).status_code == 200
    replay = client.post(f"{API}/auth/token", json=body)
    assert replay.status_code == 401 and error_code(replay) == "challenge_used"


def test_a_failed_signature_uses_up_the_challenge(client: TestClient, alice: Account) -> None:
    ch = challenge(client, did=alice.user.did, device_id=alice.device_id)
    wrong = Ed25519PrivateKey.generate().sign(ch["message"].encode())
    r = client.post(f"{API}/auth/token", json={"challenge_id": ch["challenge_id"], "signature": b64(wrong)})
    assert r.status_code == 401 and error_code(r) == "invalid_signature"
    right = alice.device_key.sign(ch["message"].encode())
    again = client.post(f"{API}/auth/token", json={"challenge_id": ch["challenge_id"], "signature": b64(right)})
    assert again.status_code == 401 and error_code(again) == "challenge_used"


def test_a_signature_over_another_message_is_refused(client: TestClient, alice: Account) -> None:
    ch = challenge(client, did=alice.user.did, device_id=alice.device_id)
    forged = alice.device_key.sign(ch["nonce"].encode())  # the nonce alone, not the message
    r = client.post(f"{API}/auth/token", json={"challenge_id": ch["challenge_id"], "signature": b64(forged)})
    assert r.status_code == 401 and error_code(r) == "invalid_signature"


def test_an_expired_challenge_is_refused(vivim: Vivim) -> None:
    config = ApiConfig(auth=AuthSettings(challenge_ttl=timedelta(milliseconds=50)))
    with TestClient(create_app(vivim, config=config)) as c:
        account = new_account(c, vivim, "alice")
        ch = challenge(c, did=account.user.did, device_id=account.device_id)
        time.sleep(0.1)
        body = {"challenge_id": ch["challenge_id"], "signature": b64(account.device_key.sign(ch["message"].encode()))}
        r = c.post(f"{API}/auth/token", json=body)
        assert r.status_code == 401 and error_code(r) == "challenge_expired"


def test_an_unknown_challenge_user_or_device_is_refused(client: TestClient, alice: Account) -> None:
    r = client.post(f"{API}/auth/token", json={"challenge_id": "0" * 32, "signature": b64(b"\0" * 64)})
    assert r.status_code == 401 and error_code(r) == "invalid_challenge"
    r = client.post(f"{API}/auth/challenge", json={"handle": "nobody"})
    assert r.status_code == 401 and error_code(r) == "invalid_credentials"
    r = client.post(f"{API}/auth/challenge", json={"handle": "alice", "device_id": "f" * 32})
    assert r.status_code == 401 and error_code(r) == "invalid_credentials"
    r = client.post(f"{API}/auth/challenge", json={"handle": "alice", "did": alice.user.did})
    assert r.status_code == 422 and error_code(r) == "validation_error"


def test_signing_in_with_the_user_key_requires_a_device_to_enrol(client: TestClient, alice: Account) -> None:
    ch = challenge(client, handle="alice")
    r = client.post(
        f"{API}/auth/token",
        json={"challenge_id": ch["challenge_id"], "signature": b64(alice.identity.sign(ch["message"].encode()))},
    )
    assert r.status_code == 422 and "enrols a device" in r.json()["error"]["message"]


def test_enrolling_needs_the_new_device_to_sign_too(client: TestClient, alice: Account) -> None:
    ch = challenge(client, handle="alice")
    message = ch["message"].encode()
    device = Ed25519PrivateKey.generate()
    r = client.post(
        f"{API}/auth/token",
        json={
            "challenge_id": ch["challenge_id"],
            "signature": b64(alice.identity.sign(message)),
            "device": {"public_key": b64(raw_public(device)), "signature": b64(alice.identity.sign(message)), "name": "x"},
        },
    )
    assert r.status_code == 401 and error_code(r) == "invalid_signature"
    assert len(client.get(f"{API}/devices", headers=alice.headers).json()["items"]) == 1


# -- tokens ----------------------------------------------------------------------------------


def test_refresh_rotates_both_tokens_and_the_old_ones_stop_working(client: TestClient, alice: Account) -> None:
    r = client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["access_token"] != alice.access and fresh["refresh_token"] != alice.refresh
    old = client.get(f"{API}/users/me", headers=alice.headers)
    assert old.status_code == 401 and error_code(old) == "invalid_token"
    new_headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert client.get(f"{API}/users/me", headers=new_headers).status_code == 200


def test_a_refresh_token_used_twice_revokes_the_session(client: TestClient, alice: Account) -> None:
    fresh = client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh}).json()
    reuse = client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh})
    assert reuse.status_code == 401 and error_code(reuse) == "refresh_token_reused"
    # Whoever holds the newer tokens (possibly a thief) is locked out too.
    r = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert r.status_code == 401 and error_code(r) == "token_revoked"
    r = client.post(f"{API}/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert r.status_code == 401 and error_code(r) == "token_revoked"


def test_a_refresh_token_is_not_an_access_token(client: TestClient, alice: Account) -> None:
    r = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {alice.refresh}"})
    assert r.status_code == 401 and error_code(r) == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"


def test_logout_ends_the_session_at_once(client: TestClient, alice: Account) -> None:
    assert client.post(f"{API}/auth/logout", headers=alice.headers).status_code == 204
    r = client.get(f"{API}/users/me", headers=alice.headers)
    assert r.status_code == 401 and error_code(r) == "token_revoked"
    r = client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh})
    assert r.status_code == 401 and error_code(r) == "token_revoked"


def test_an_expired_access_token_is_refused_and_refreshing_gives_a_working_one(vivim: Vivim) -> None:
    config = ApiConfig(auth=AuthSettings(access_ttl=timedelta(milliseconds=50)))
    with TestClient(create_app(vivim, config=config)) as c:
        account = new_account(c, vivim, "alice")
        time.sleep(0.1)
        r = c.get(f"{API}/users/me", headers=account.headers)
        assert r.status_code == 401 and error_code(r) == "token_expired"
        assert c.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh}).status_code == 200


def test_a_revoked_device_is_refused_on_its_very_next_request(client: TestClient, vivim: Vivim, alice: Account) -> None:
    phone = Account(user=alice.user, identity=alice.identity, device_key=Ed25519PrivateKey.generate())
    tokens = enrol(client, phone, name="phone")
    phone.device_id, phone.access, phone.refresh = tokens["device_id"], tokens["access_token"], tokens["refresh_token"]
    assert client.get(f"{API}/users/me", headers=phone.headers).status_code == 200
    revoked = client.delete(f"{API}/devices/{phone.device_id}", headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False and revoked.json()["revoked_at"]
    r = client.get(f"{API}/users/me", headers=phone.headers)
    assert r.status_code == 401 and error_code(r) in {"device_revoked", "token_revoked"}
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": phone.refresh}).status_code == 401
    r = client.post(f"{API}/auth/challenge", json={"did": alice.user.did, "device_id": phone.device_id})
    assert r.status_code == 401 and error_code(r) == "device_revoked"
    # The other device is untouched.
    assert client.get(f"{API}/users/me", headers=alice.headers).status_code == 200


def test_a_device_revoked_behind_the_sessions_back_is_refused_too(client: TestClient, vivim: Vivim, alice: Account) -> None:
    from sqlalchemy import update

    from vivim.store.master.models import Device

    # Only the device row changes (no session revoked): the per-request join must catch it.
    with vivim.master.connect() as c:
        c.execute(update(Device.__table__).where(Device.__table__.c.device_id == alice.device_id).values(is_active=False))
    r = client.get(f"{API}/users/me", headers=alice.headers)
    assert r.status_code == 401 and error_code(r) == "device_revoked"


def test_personal_api_tokens_are_shown_once_work_and_stop_when_revoked(client: TestClient, alice: Account) -> None:
    created = client.post(f"{API}/tokens", json={"name": "backup script", "expires_in_days": 30}, headers=alice.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("vpt_") and created.json()["token_prefix"] == token[:12]
    script = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/conversations", headers=script).status_code == 200
    listed = client.get(f"{API}/tokens", headers=alice.headers).json()["items"]
    assert [t["name"] for t in listed] == ["backup script"] and "token" not in listed[0]
    assert token not in client.get(f"{API}/tokens/{listed[0]['id']}", headers=alice.headers).text
    revoked = client.delete(f"{API}/tokens/{listed[0]['id']}", headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False
    r = client.get(f"{API}/conversations", headers=script)
    assert r.status_code == 401 and error_code(r) == "token_revoked"


def test_an_api_token_cannot_mint_tokens_enrol_devices_or_export_the_key(client: TestClient, alice: Account) -> None:
    token = client.post(f"{API}/tokens", json={"name": "s"}, headers=alice.headers).json()["token"]
    script = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("POST", "/tokens", {"name": "more"}),
        ("POST", "/users/me/key-export", {"passphrase": "correct horse battery"}),
        ("POST", "/devices", {"public_key": "A" * 43, "signature": "A" * 86, "name": "x"}),
    ]:
        r = client.request(method, f"{API}{path}", json=body, headers=script)
        assert r.status_code == 403 and error_code(r) == "session_required", path


def test_logout_with_an_api_token_revokes_that_token(client: TestClient, alice: Account) -> None:
    token = client.post(f"{API}/tokens", json={"name": "s"}, headers=alice.headers).json()["token"]
    script = {"Authorization": f"Bearer {token}"}
    assert client.post(f"{API}/auth/logout", headers=script).status_code == 204
    assert client.get(f"{API}/users/me", headers=script).status_code == 401
    assert client.get(f"{API}/users/me", headers=alice.headers).status_code == 200


# -- account status --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "http", "code"),
    [
        ("SUSPENDED", 403, "account_suspended"),
        ("BANNED", 403, "account_banned"),
        ("DELETING", 403, "account_deleting"),
        ("DELETED", 401, "account_deleted"),
    ],
)
def test_an_inactive_account_is_refused_everywhere(
    client: TestClient, vivim: Vivim, alice: Account, status: str, http: int, code: str
) -> None:
    token = client.post(f"{API}/tokens", json={"name": "s"}, headers=alice.headers).json()["token"]
    # Suspend through the master DB alone (no session revocation): the per-request status
    # check is what must refuse.
    from sqlalchemy import update

    from vivim.store.master.models import User

    with vivim.master.connect() as c:
        c.execute(update(User.__table__).where(User.__table__.c.id == alice.user.id).values(status=status))
    for headers in (alice.headers, {"Authorization": f"Bearer {token}"}):
        r = client.get(f"{API}/conversations", headers=headers)
        assert r.status_code == http and error_code(r) == code
    r = client.post(f"{API}/auth/challenge", json={"handle": "alice"})
    assert r.status_code == http and error_code(r) == code


def test_suspending_revokes_sessions_so_reactivation_needs_a_new_sign_in(
    client: TestClient, vivim: Vivim, alice: Account
) -> None:
    service.set_account_status(vivim, alice.user, "SUSPENDED")
    service.set_account_status(vivim, alice.user, "ACTIVE")
    r = client.get(f"{API}/users/me", headers=alice.headers)
    assert r.status_code == 401 and error_code(r) == "token_revoked"
    assert device_sign_in(client, alice).status_code == 200


# -- rate limits -----------------------------------------------------------------------------


def test_login_is_rate_limited_per_ip_with_retry_after(vivim: Vivim) -> None:
    limits = RateLimits(login_per_ip=Rule("login_ip", 3, 60.0))
    with TestClient(create_app(vivim, config=ApiConfig(rate_limits=limits))) as c:
        vivim.create_user("alice")
        codes = [c.post(f"{API}/auth/challenge", json={"handle": "alice"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.post(f"{API}/auth/refresh", json={"refresh_token": "vrt_" + "a" * 43})
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1


def test_login_is_rate_limited_per_user_whatever_the_ip(vivim: Vivim) -> None:
    limits = RateLimits(login_per_user=Rule("login_user", 2, 60.0))
    config = ApiConfig(rate_limits=limits, trust_proxy_headers=True)
    with TestClient(create_app(vivim, config=config)) as c:
        vivim.create_user("alice")
        vivim.create_user("bob")
        codes = [
            c.post(f"{API}/auth/challenge", json={"handle": "alice"}, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]
        assert c.post(f"{API}/auth/challenge", json={"handle": "bob"}).status_code == 200


# -- profile, devices, key export ------------------------------------------------------------


def test_the_display_name_can_be_set_and_cleared(client: TestClient, alice: Account) -> None:
    r = client.patch(f"{API}/users/me", json={"display_name": "Alice A."}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["display_name"] == "Alice A."
    assert client.patch(f"{API}/users/me", json={}, headers=alice.headers).json()["display_name"] == "Alice A."
    assert client.patch(f"{API}/users/me", json={"display_name": None}, headers=alice.headers).json()["display_name"] is None


def test_a_device_registers_with_proof_of_its_key_and_can_be_renamed(client: TestClient, alice: Account) -> None:
    key = Ed25519PrivateKey.generate()
    public = raw_public(key)
    proof = key.sign(registration_message(alice.user.did, public))
    body = {"public_key": b64(public), "signature": b64(proof), "name": "tablet", "type": "tablet", "platform": "android"}
    r = client.post(f"{API}/devices", json=body, headers=alice.headers)
    assert r.status_code == 201 and r.json()["device_id"] == device_id_for(public) and r.json()["current"] is False
    again = client.post(f"{API}/devices", json=body, headers=alice.headers)
    assert again.status_code == 409 and error_code(again) == "already_exists"
    bad = {**body, "public_key": b64(raw_public(Ed25519PrivateKey.generate()))}
    r = client.post(f"{API}/devices", json=bad, headers=alice.headers)
    assert r.status_code == 422 and "possession" in r.json()["error"]["message"]
    renamed = client.patch(f"{API}/devices/{device_id_for(public)}", json={"name": "old tablet", "is_trusted": True},
                           headers=alice.headers)
    assert renamed.json()["name"] == "old tablet" and renamed.json()["is_trusted"] is True


def test_the_exported_key_imports_on_another_instance_with_the_same_did(
    client: TestClient, alice: Account, tmp_path: Path
) -> None:
    r = client.post(f"{API}/users/me/key-export", json={"passphrase": "correct horse battery"}, headers=alice.headers)
    assert r.status_code == 200
    envelope = r.json()
    assert envelope["format"] == "vivim.key-export/v1" and envelope["did"] == alice.user.did
    assert "private" not in r.text and alice.identity.private_key.hex() not in r.text
    with open_vivim(tmp_path / "elsewhere") as other:
        other.init()
        moved = service.import_user(other, "alice2", keyexport.dumps(envelope), "correct horse battery")
        assert moved.did == alice.user.did and moved.public_key == alice.user.public_key
        assert other.keypair(moved).private_key == alice.identity.private_key
    with pytest.raises(keyexport.BadPassphrase):
        keyexport.import_key(envelope, "wrong horse battery")


def test_oversized_json_bodies_are_refused(client: TestClient, alice: Account) -> None:
    r = client.post(f"{API}/auth/challenge", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "payload_too_large"
