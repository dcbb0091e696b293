"""`vivim db ...`: schema versions and migrations."""

from __future__ import annotations

import typer

from vivim.cli.context import out, print_json, state

app = typer.Typer(help="Inspect the databases.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Master URL (without password), user count, schema versions, pending migrations."""
    s = state(ctx).vivim.status()
    if as_json:
        print_json(s)
        return
    m, u = s["master"], s["user_db"]
    out.print(f"data dir        {s['data_dir']}")
    out.print(f"master          {m['url']}")
    out.print(f"master schema   {m['current_revision'] or '(empty)'} (head {m['head_revision']})")
    pending = m["pending_migrations"]
    out.print(
        f"pending         {', '.join(pending) if pending else 'none'}"
        + ("  -> run `vivim init`" if pending else "")
    )
    out.print(f"users           {s['users']}")
    versions = ", ".join(f"v{k}: {n}" for k, n in u["versions"].items()) or "-"
    out.print(f"user DBs        head v{u['head_version']} ({u['head_migration']}); {versions}")
    if u["behind_head"]:
        out.print(f"                {u['behind_head']} user DBs migrate to head when next opened")
    for p in u["problems"]:
        out.print(f"[red]problem[/red]         {p['user']}: {p['error']}")
