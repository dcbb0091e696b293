"""`vivim devices ...` and `vivim tokens ...`: a user's devices and personal API tokens,
managed locally (no server needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from vivim.cli.context import out, print_json, state
from vivim.domain.errors import AlreadyExists
from vivim.identity import service
from vivim.identity.devices import decode_public_key
from vivim.identity.keys import b64encode, generate_keypair

devices_app = typer.Typer(help="List, register, rename and revoke a user's devices.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke personal API tokens for scripts.", no_args_is_help=True)

DEVICE_KEY_FORMAT = "vivim.device-key/v1"


def _when(value: object) -> str:
    return str(value)[:16].replace("T", " ") if value else ""


@devices_app.command("list")
def list_devices(
    ctx: typer.Context,
    active: bool = typer.Option(False, "--active", help="Only devices that are not revoked."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The current user's devices."""
    st = state(ctx)
    rows = service.list_devices(st.vivim, st.current_user(), include_revoked=not active)
    if as_json:
        print_json([d.to_json() for d in rows])
        return
    if not rows:
        out.print("no devices yet: `vivim devices register NAME --key-out FILE`")
        return
    table = Table("device id", "name", "type", "platform", "active", "trusted", "last seen")
    for d in rows:
        table.add_row(d.device_id, d.device_name, d.device_type, d.platform, "yes" if d.is_active else "revoked",
                      "yes" if d.is_trusted else "", _when(d.last_seen_at))
    out.print(table)


@devices_app.command("register")
def register(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the device."),
    public_key: str | None = typer.Option(None, "--public-key", help="The device's Ed25519 public key (base64url)."),
    key_out: Path | None = typer.Option(
        None, "--key-out", help="Generate a new key pair for the device and write it here (mode 0600)."
    ),
    device_type: str = typer.Option("unknown", "--type", help="desktop, mobile, server, script, ..."),
    platform: str = typer.Option("unknown", "--platform", help="linux, macos, windows, ios, android, web, ..."),
    trusted: bool = typer.Option(False, "--trusted", help="Mark the device trusted."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a device key for the current user (give --public-key, or --key-out to make one)."""
    if (public_key is None) == (key_out is None):
        raise typer.BadParameter("give exactly one of --public-key or --key-out")
    st = state(ctx)
    user = st.current_user()
    keypair = None
    if key_out is not None:
        if key_out.exists():
            raise AlreadyExists(f"{key_out} exists; choose another path")
        keypair = generate_keypair()
        raw_public = keypair.public_key
    else:
        raw_public = decode_public_key(public_key or "")
    device = service.register_device(
        st.vivim, user, public_key=raw_public, name=name, device_type=device_type, platform=platform, trusted=trusted
    )
    if keypair is not None and key_out is not None:
        fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "format": DEVICE_KEY_FORMAT,
                    "device_id": device.device_id,
                    "did": user.did,
                    "public_key": b64encode(keypair.public_key),
                    "private_key": b64encode(keypair.private_key),
                },
                f,
                indent=2,
            )
            f.write("\n")
    if as_json:
        print_json(device.to_json())
        return
    out.print(f"registered device [bold]{device.device_name}[/bold] {device.device_id}")
    if key_out is not None:
        out.print(f"  private key written to {key_out} (keep it secret)", highlight=False)


@devices_app.command("rename")
def rename(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., help="The device id (see `vivim devices list`)."),
    name: str = typer.Argument(..., help="The new name."),
) -> None:
    """Rename a device."""
    st = state(ctx)
    device = service.rename_device(st.vivim, st.current_user(), device_id, name=name)
    out.print(f"renamed {device.device_id} to {device.device_name}", highlight=False)


@devices_app.command("revoke")
def revoke(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., help="The device id (see `vivim devices list`)."),
) -> None:
    """Revoke a device: its sessions end at once and its key can never sign in again."""
    st = state(ctx)
    device = service.revoke_device(st.vivim, st.current_user(), device_id)
    out.print(f"revoked {device.device_id} ({device.device_name})", highlight=False)


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the token is for."),
    expires_days: int | None = typer.Option(None, "--expires-days", min=1, max=3650, help="Expire after N days."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (includes the token)."),
) -> None:
    """Create a personal API token. It is printed once; only its hash is kept."""
    st = state(ctx)
    record, plaintext = service.create_api_token(st.vivim, st.current_user(), name, expires_in_days=expires_days)
    if as_json:
        print_json({**record.to_json(), "token": plaintext})
        return
    out.print(plaintext, highlight=False)
    out.print(f"[dim]token {record.id} ({record.name}); it will not be shown again[/dim]")


@tokens_app.command("list")
def list_tokens(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The current user's API tokens (never the tokens themselves)."""
    st = state(ctx)
    rows = service.list_api_tokens(st.vivim, st.current_user())
    if as_json:
        print_json([t.to_json() for t in rows])
        return
    if not rows:
        out.print("no API tokens: `vivim tokens create NAME`")
        return
    table = Table("id", "name", "prefix", "created", "expires", "last used", "state")
    for t in rows:
        table.add_row(t.id, t.name, t.token_prefix + "...", _when(t.created_at), _when(t.expires_at),
                      _when(t.last_used_at), "active" if t.is_active else ("revoked" if t.revoked_at else "expired"))
    out.print(table)


@tokens_app.command("revoke")
def revoke_token(ctx: typer.Context, token_id: str = typer.Argument(..., help="The token's id.")) -> None:
    """Revoke an API token; requests with it fail from now on."""
    st = state(ctx)
    token = service.revoke_api_token(st.vivim, st.current_user(), token_id)
    out.print(f"revoked token {token.id} ({token.name})", highlight=False)
