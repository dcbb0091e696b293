"""`vivim keys ...`: show, export and import a user's identity key (their DID)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from vivim.cli.context import out, print_json, state
from vivim.identity import keyexport, service
from vivim.identity.devices import fingerprint
from vivim.identity.keys import b64decode

app = typer.Typer(help="Export and import identity keys (keep your DID across vivim instances).", no_args_is_help=True)


def _passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        text = passphrase_file.read_text(encoding="utf-8")
        # A trailing newline from `echo` or an editor is not part of the passphrase.
        return text[:-1] if text.endswith("\n") else text
    return typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)


@app.command("show")
def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the current user's DID and public key."""
    st = state(ctx)
    user = st.current_user()
    data = {
        "user": user.handle,
        "did": user.did,
        "key_type": user.key_type,
        "public_key": user.public_key,
        "fingerprint": fingerprint(b64decode(user.public_key)),
    }
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        out.print(f"{key:12} {value}", highlight=False)


@app.command("export")
def export(
    ctx: typer.Context,
    out_path: Path = typer.Option(..., "--out", "-o", help="File to write the passphrase-protected key to."),
    passphrase_file: Path | None = typer.Option(
        None, "--passphrase-file", help="Read the passphrase from this file instead of prompting."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Export the current user's identity key, locked with a passphrase (Argon2id + AES-256-GCM)."""
    st = state(ctx)
    user = st.current_user()
    passphrase = _passphrase(passphrase_file, confirm=True)
    envelope = service.export_key(st.vivim, user, passphrase)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(out_path, flags, 0o600)
    except FileExistsError:
        raise keyexport.KeyExportError(f"{out_path} exists; pass --force to overwrite it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(keyexport.dumps(envelope))
    os.chmod(out_path, 0o600)
    out.print(f"exported the key of {user.handle} ({user.did}) to {out_path}", highlight=False)


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A file written by `vivim keys export`."),
    name: str = typer.Argument(..., help="Handle for the new user on this instance."),
    passphrase_file: Path | None = typer.Option(
        None, "--passphrase-file", help="Read the passphrase from this file instead of prompting."
    ),
    email: str | None = typer.Option(None, "--email", help="Email address (optional, unique)."),
    display_name: str | None = typer.Option(None, "--display-name", help="Name shown to others."),
    as_json: bool = typer.Option(False, "--json", help="Print the user as JSON."),
) -> None:
    """Create a user here with an exported key: the same key pair, so the same DID."""
    if not path.is_file():
        raise keyexport.KeyExportError(f"{path}: no such file")
    data = path.read_bytes()
    passphrase = _passphrase(passphrase_file, confirm=False)
    user = service.import_user(state(ctx).vivim, name, data, passphrase, email=email, display_name=display_name)
    if as_json:
        print_json(user.to_json())
        return
    out.print(f"created user [bold]{user.handle}[/bold] with the imported key")
    out.print(f"  id  {user.id}")
    out.print(f"  did {user.did}")
