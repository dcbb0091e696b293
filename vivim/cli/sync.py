"""`vivim sync ...`: sync this vault with a vivim server as one of the user's devices.

Set-up (docs/SYNC.md): the same user on both sides (`vivim keys export` on one, `vivim keys
import` on the other: same DID), then `vivim sync login --remote URL` once to register this
vivim as a device; after that `vivim sync` (or `vivim sync --remote URL`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vivim.cli.context import out, print_json, state
from vivim.domain.errors import InvalidInput
from vivim.identity.keys import keypair_from_private
from vivim.store.user import oplog
from vivim.sync import exchange, presence, remote
from vivim.sync.client import sync as run_sync

app = typer.Typer(
    help="Sync this vault with a vivim server (pull, then push; resumable).",
    invoke_without_command=True,
    no_args_is_help=False,
)

_REMOTE = typer.Option(None, "--remote", "-r", help="The server, e.g. https://vivim.example (default: the only one set up).")


def _client(url: str) -> Any:
    import httpx

    return httpx.Client(base_url=url, timeout=httpx.Timeout(300.0, connect=10.0))


@app.callback()
def sync_command(
    ctx: typer.Context,
    remote_url: str | None = _REMOTE,
    page_size: int = typer.Option(exchange.DEFAULT_PAGE, "--page-size", min=1, max=exchange.MAX_PAGE,
                                  help="Operations per page."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pull what the server has, then push what this vault has made since the last sync."""
    if ctx.invoked_subcommand is not None:
        return
    st = state(ctx)
    user = st.current_user()
    creds = remote.load(st.vivim.settings.data_dir, user.id, remote_url)
    store = st.vivim.store(user)
    with _client(creds.remote) as http:
        report = run_sync(store, remote.HttpPeer(http, creds), page_size=page_size)
    if as_json:
        print_json({"remote": creds.remote, **report.to_json()})
        return
    here, there = report.local, report.remote
    out.print(f"synced with {creds.remote} in {report.seconds:.2f} s", highlight=False)
    out.print(f"  pulled {report.pulled} operation(s): {here.applied} applied, {here.skipped} already here or older, "
              f"{here.rejected} rejected")
    out.print(f"  pushed {report.pushed} operation(s): {there.applied} applied, {there.skipped} already there or older, "
              f"{there.rejected} rejected")
    conflicts = here.conflicts + there.conflicts
    if conflicts:
        out.print(f"  {conflicts} conflict(s) settled: `vivim sync conflicts` shows what was overwritten")
    if report.too_large:
        out.print(f"  [yellow]{report.too_large} record(s) too large to push[/yellow]")
    for line in [*here.errors, *there.errors][:10]:
        out.print(f"  [red]rejected[/red] {line}", highlight=False)


@app.command("login")
def login(
    ctx: typer.Context,
    remote_url: str = typer.Option(..., "--remote", "-r", help="The server, e.g. https://vivim.example."),
    name: str = typer.Option("vivim", "--name", help="A name for this device on the server."),
    device_key: Path | None = typer.Option(
        None, "--device-key",
        help="Use a device key registered on the server already (`vivim devices register --key-out`).",
    ),
    device_type: str = typer.Option("desktop", "--type", help="desktop, mobile, server, ..."),
    platform: str = typer.Option("unknown", "--platform", help="linux, macos, windows, ..."),
) -> None:
    """Register this vivim as a device of your account on a server (signs with your identity key)."""
    st = state(ctx)
    user = st.current_user()
    url = remote.normalize_remote(remote_url)
    with _client(url) as http:
        if device_key is not None:
            data = json.loads(device_key.read_text(encoding="utf-8"))
            if data.get("did") != user.did:
                raise InvalidInput(f"{device_key} belongs to {data.get('did')}, not to {user.did}")
            kp = keypair_from_private(remote.unb64(data["private_key"]))
            creds = remote.DeviceCredentials(url, user.did, data["device_id"], remote.b64(kp.private_key))
            remote.HttpPeer(http, creds).login()  # proves the key works before saving it
        else:
            creds = remote.enrol(
                http, identity=st.vivim.keypair(user), name=name, device_type=device_type, platform=platform
            )
    path = remote.save(st.vivim.settings.data_dir, user.id, creds)
    out.print(f"this vivim is device {creds.device_id} of {user.did} on {url}", highlight=False)
    out.print(f"  credentials in {path} (keep it private); now run `vivim sync`", highlight=False)


@app.command("status")
def status_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """This vault's log and where each server's sync stands."""
    st = state(ctx)
    user = st.current_user()
    store = st.vivim.store(user)
    data = exchange.status(store)
    with store.read() as conn:
        cursors = conn.execute(
            "SELECT device_id, remote, last_seq, updated_at FROM sync_cursors WHERE table_name = '*' ORDER BY device_id"
        ).fetchall()
    data["remotes"] = sorted(remote.load_all(st.vivim.settings.data_dir, user.id))
    data["cursors"] = [{"peer": c[0], "direction": c[1], "seq": c[2], "updated_at": c[3]} for c in cursors]
    if as_json:
        print_json(data)
        return
    out.print(f"sync id {data['node']}  clock {data['clock']}", highlight=False)
    out.print(f"{data['records']} record(s), {data['tombstones']} tombstone(s), {data['conflicts']} conflict(s) recorded")
    for r in data["remotes"]:
        out.print(f"server {r}", highlight=False)
    for c in data["cursors"]:
        out.print(f"  {c['direction']:4} {c['peer']} up to seq {c['seq']} ({c['updated_at']})", highlight=False)


@app.command("conflicts")
def conflicts_command(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="How many, newest first."),
    on_server: bool = typer.Option(False, "--server", help="Show the server's record instead of this vault's."),
    remote_url: str | None = _REMOTE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What merges overwrote or refused: the losing version of each record is kept here."""
    st = state(ctx)
    user = st.current_user()
    if on_server:
        creds = remote.load(st.vivim.settings.data_dir, user.id, remote_url)
        with _client(creds.remote) as http:
            rows = remote.HttpPeer(http, creds).conflicts(limit)["items"]
    else:
        rows = exchange.conflicts(st.vivim.store(user), limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no conflicts recorded")
        return
    for r in rows:
        when = r["created_at"][:19].replace("T", " ")
        out.print(f"{when}  {r['kind']}  {r['table_name']} {r['record_id']}", highlight=False)
        lost = f"{r['loser_operation'] or '?'} at {r['loser_hlc'] or '?'} by device {r['loser_device'] or '?'}"
        if r["kind"] == "rejected":
            out.print(f"    refused: {lost}: {r['detail']}", highlight=False)
            continue
        out.print(f"    kept:    {r['winner_hlc']} by device {r['winner_device']}", highlight=False)
        out.print(f"    lost:    {lost}{'  (' + r['detail'] + ')' if r['detail'] else ''}", highlight=False)
        if r["loser_payload"]:
            out.print(f"    its row: {r['loser_payload'][:300]}", highlight=False)


@app.command("presence")
def presence_command(
    ctx: typer.Context,
    conversation: str | None = typer.Option(None, "--conversation", "-c", help="The conversation open on this device."),
    status: str = typer.Option("online", "--status", help="online, away or offline."),
    visible: list[str] = typer.Option([], "--visible", help="An item on screen (repeatable)."),
    remote_url: str | None = _REMOTE,
    local: bool = typer.Option(False, "--local", help="Record it in this vault instead of on the server."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Report what this device is doing; a context bundle for the conversation is built ahead."""
    st = state(ctx)
    user = st.current_user()
    body = {"status": status, "active_conversation_id": conversation, "visible_items": visible}
    if local:
        store = st.vivim.store(user)
        with store.transaction() as conn:
            node = oplog.node_id(conn)
        presence.update(store, device_id=node, status=status, active_conversation_id=conversation,
                        visible_items=visible)
        presence.precompute_quietly(store, node)
        rows = [p.to_json() for p in presence.list_presence(store)]
    else:
        creds = remote.load(st.vivim.settings.data_dir, user.id, remote_url)
        with _client(creds.remote) as http:
            peer = remote.HttpPeer(http, creds)
            peer.presence(body)
            rows = peer.presence()["items"]
    if as_json:
        print_json(rows)
        return
    table = Table("device", "status", "active conversation", "visible", "last seen", "bundle")
    for p in rows:
        table.add_row(p["device_id"], p["status"], p["active_conversation_id"] or "", str(len(p["visible_items"])),
                      p["last_seen_at"][:19].replace("T", " "), p["bundle_id"] or "")
    out.print(table)
