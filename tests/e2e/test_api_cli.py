"""The identity side of the `vivim` CLI: keys, devices and API tokens, locally, no server."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.e2e.cli import vivim
from vivim.app import open_vivim
from vivim.cli import devices, keys, main, serve
from vivim.identity import auth
from vivim.identity.keys import b64decode, keypair_from_private


@pytest.fixture(autouse=True)
def _commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mount the identity commands on the real `vivim` app (main.py registers them too)."""
    groups = {g.name for g in main.app.registered_groups}
    monkeypatch.setattr(main.app, "registered_groups", list(main.app.registered_groups))
    monkeypatch.setattr(main.app, "registered_commands", list(main.app.registered_commands))
    for sub, name in ((keys.app, "keys"), (devices.devices_app, "devices"), (devices.tokens_app, "tokens")):
        if name not in groups:
            main.app.add_typer(sub, name=name)
    if "serve" not in {c.name for c in main.app.registered_commands}:
        main.app.command("serve")(serve.serve_command)


def test_a_key_exported_here_imports_elsewhere_with_the_same_did(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    created = vivim(capsys, "user", "create", "alice", "--json").json()
    secret = tmp_path / "pass.txt"
    secret.write_text("correct horse battery\n")
    exported = tmp_path / "alice.key.json"
    r = vivim(capsys, "--user", "alice", "keys", "export", "--out", str(exported), "--passphrase-file", str(secret))
    assert r.code == 0, r.err
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    envelope = json.loads(exported.read_text())
    assert envelope["did"] == created["did"] and envelope["format"] == "vivim.key-export/v1"
    # Not overwritten without --force.
    again = vivim(capsys, "--user", "alice", "keys", "export", "--out", str(exported), "--passphrase-file", str(secret))
    assert again.code == 1 and "--force" in again.err

    other = tmp_path / "other-instance"
    r = vivim(capsys, "--data-dir", str(other), "keys", "import", str(exported), "alice", "--passphrase-file",
              str(secret), "--json")
    assert r.code == 0, r.err
    moved = r.json()
    assert moved["did"] == created["did"] and moved["public_key"] == created["public_key"]
    assert moved["id"] != created["id"]
    shown = vivim(capsys, "--data-dir", str(other), "keys", "show", "--json").json()
    assert shown["did"] == created["did"]


def test_a_wrong_passphrase_is_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vivim(capsys, "user", "create", "alice")
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("correct horse battery")
    bad.write_text("wrong horse battery")
    exported = tmp_path / "k.json"
    assert vivim(capsys, "keys", "export", "-o", str(exported), "--passphrase-file", str(good)).code == 0
    r = vivim(capsys, "--data-dir", str(tmp_path / "x"), "keys", "import", str(exported), "bob", "--passphrase-file", str(bad))
    assert r.code == 1 and r.err.startswith("error:") and "wrong passphrase" in r.err
    assert r.err.strip().count("\n") == 0
    r = vivim(capsys, "keys", "import", str(tmp_path / "missing.json"), "bob", "--passphrase-file", str(good))
    assert r.code == 1 and "no such file" in r.err


def test_devices_register_list_rename_revoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vivim(capsys, "user", "create", "alice")
    key_file = tmp_path / "laptop.key"
    r = vivim(capsys, "devices", "register", "laptop", "--key-out", str(key_file), "--type", "desktop",
              "--platform", "linux", "--json")
    assert r.code == 0, r.err
    device = r.json()
    saved = json.loads(key_file.read_text())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert saved["device_id"] == device["device_id"] and saved["public_key"] == device["public_key"]
    assert keypair_from_private(b64decode(saved["private_key"])).public_key == b64decode(device["public_key"])
    listed = vivim(capsys, "devices", "list", "--json").json()
    assert [d["name"] for d in listed] == ["laptop"]
    assert vivim(capsys, "devices", "rename", device["device_id"], "work laptop").code == 0
    assert vivim(capsys, "devices", "revoke", device["device_id"]).code == 0
    [after] = vivim(capsys, "devices", "list", "--json").json()
    assert after["name"] == "work laptop" and after["is_active"] is False
    assert vivim(capsys, "devices", "list", "--active", "--json").json() == []
    # The saved key is the device's: it can sign in until revoked, and not after.
    with open_vivim(tmp_path / "data") as v:
        user = v.get_user("alice")
        with v.master.connect() as c, pytest.raises(auth.DeviceRevoked):
            auth.create_challenge(c, user=auth.resolve_user(c, handle="alice"), device_id=device["device_id"], origin="o")
        assert user.did == saved["did"]
    r = vivim(capsys, "devices", "revoke", "0" * 32)
    assert r.code == 1 and "no device" in r.err


def test_registering_by_public_key_and_refusing_it_twice(capsys: pytest.CaptureFixture[str]) -> None:
    vivim(capsys, "user", "create", "alice")
    public = "A" * 43
    assert vivim(capsys, "devices", "register", "phone", "--public-key", public).code == 0
    r = vivim(capsys, "devices", "register", "phone again", "--public-key", public)
    assert r.code == 1 and "already registered" in r.err
    r = vivim(capsys, "devices", "register", "neither")
    assert r.code != 0


def test_api_tokens_are_printed_once_listed_without_the_secret_and_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    vivim(capsys, "user", "create", "alice")
    created = vivim(capsys, "tokens", "create", "backup", "--expires-days", "30", "--json").json()
    token = created["token"]
    assert token.startswith("vpt_")
    listed = vivim(capsys, "tokens", "list", "--json")
    assert token not in listed.out
    [row] = listed.json()
    assert row["name"] == "backup" and row["token_prefix"] == token[:12] and row["is_active"] is True
    assert "backup" in vivim(capsys, "tokens", "list").out
    with open_vivim() as v:
        assert auth.authenticate(v.master, token).handle == "alice"
    assert vivim(capsys, "tokens", "revoke", created["id"]).code == 0
    with open_vivim() as v, pytest.raises(auth.TokenRevoked):
        auth.authenticate(v.master, token)


def test_serve_has_help_naming_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    r = vivim(capsys, "serve", "--help")
    assert r.code == 0 and "8420" in r.out and "127.0.0.1" in r.out
