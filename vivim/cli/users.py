"""`vivim user ...`: create, list, delete and export users."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from vivim.cli.context import out, print_json, state

app = typer.Typer(
    help="Create, list, delete and export users (each has their own database).", no_args_is_help=True
)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user's handle: letters, digits, '_', '-', '.'."),
    email: str | None = typer.Option(None, "--email", help="Email address (optional, unique)."),
    display_name: str | None = typer.Option(None, "--display-name", help="Name shown to others."),
    as_json: bool = typer.Option(False, "--json", help="Print the user as JSON."),
) -> None:
    """Create a user with a new Ed25519 identity (DID) and their own database."""
    user = state(ctx).vivim.create_user(name, email=email, display_name=display_name)
    if as_json:
        print_json(user.to_json())
    else:
        out.print(f"created user [bold]{user.handle}[/bold]")
        out.print(f"  id  {user.id}")
        out.print(f"  did {user.did}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users."""
    users = state(ctx).vivim.list_users()
    if as_json:
        print_json([u.to_json() for u in users])
        return
    if not users:
        out.print("no users yet: `vivim user create NAME`")
        return
    table = Table("handle", "id", "did", "email", "status", "created")
    for u in users:
        table.add_row(
            u.handle or "",
            u.id,
            u.did,
            u.email or "",
            u.status,
            u.created_at.strftime("%Y-%m-%d %H:%M") if u.created_at else "",
        )
    out.print(table)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User handle or id."),
    yes: bool = typer.Option(True, "--yes/--ask", help="Ask for confirmation with --ask."),
) -> None:
    """Delete a user: their database file and every master row that belongs to them."""
    v = state(ctx).vivim
    user = v.get_user(name)
    if not yes:
        typer.confirm(f"delete {user.handle} and all their data?", abort=True)
    v.delete_user(user.id)
    out.print(f"deleted user {user.handle} ({user.id})")


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User handle or id."),
    path: Path = typer.Argument(..., help="Where to write the copy (a file, or a folder)."),
) -> None:
    """Write a consistent copy of the user's database (SQLite online backup)."""
    dest = state(ctx).vivim.export_user(name, path)
    out.print(f"exported to {dest}")
