"""The `vivim` command: global options, sub-commands, and errors as one clear line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from vivim.cli import bundle as context_cli
from vivim.cli import capture, db, devices, keys, search, serve, users
from vivim.cli import mcp as mcp_cli
from vivim.cli import memory as memory_cli
from vivim.cli import social as social_cli
from vivim.cli import sync as sync_cli
from vivim.cli.context import USER_ENV, CliState, err, out, print_json, state
from vivim.domain.errors import VivimError
from vivim.settings import DATA_DIR_ENV

app = typer.Typer(
    name="vivim",
    help="vivim: your AI conversations, captured, searchable and yours.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(users.app, name="user")
app.add_typer(db.app, name="db")
app.add_typer(capture.conversations_app, name="conversations")
app.command("import")(capture.import_command)
app.command("stats")(capture.stats_command)
app.command("export")(capture.export_command)
app.command("index")(search.index_command)
app.command("search")(search.search_command)
app.command("verify")(search.verify_command)
app.add_typer(search.units_app, name="units")
app.add_typer(keys.app, name="keys")
app.add_typer(devices.devices_app, name="devices")
app.add_typer(devices.tokens_app, name="tokens")
app.command("serve")(serve.serve_command)
app.command("context")(context_cli.context_command)
app.add_typer(context_cli.settings_app, name="settings")
app.command("mcp")(mcp_cli.mcp_command)
app.add_typer(memory_cli.memory_app, name="memory")
app.add_typer(memory_cli.facts_app, name="facts")
app.add_typer(memory_cli.profiles_app, name="profiles")
app.add_typer(memory_cli.instructions_app, name="instructions")
app.add_typer(memory_cli.personas_app, name="personas")
app.add_typer(memory_cli.notebooks_app, name="notebooks")
app.add_typer(sync_cli.app, name="sync")
app.add_typer(social_cli.circles_app, name="circles")
app.add_typer(social_cli.friends_app, name="friends")
app.add_typer(social_cli.shared_app, name="shared")
app.command("follow")(social_cli.follow_command)
app.command("unfollow")(social_cli.unfollow_command)
app.command("follows")(social_cli.follows_command)
app.command("block")(social_cli.block_command)
app.command("unblock")(social_cli.unblock_command)
app.command("share")(social_cli.share_command)
app.command("unshare")(social_cli.unshare_command)
app.command("reciprocity")(social_cli.reciprocity_command)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar=DATA_DIR_ENV,
        help="Where vivim keeps its data (default: your platform's data folder).",
    ),
    user: str | None = typer.Option(
        None, "--user", "-u", envvar=USER_ENV, help="The user to act as (name or id)."
    ),
) -> None:
    ctx.obj = CliState(data_dir=data_dir, user=user)
    ctx.call_on_close(ctx.obj.close)


@app.command("init")
def init(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the data directory and bring the master database to the latest schema."""
    v = state(ctx).vivim
    applied = v.init()
    if as_json:
        print_json(
            {"data_dir": str(v.settings.data_dir), "master": v.master.url_for_display, "applied": applied}
        )
        return
    out.print(f"vivim data directory: {v.settings.data_dir}")
    out.print(f"master database: {v.master.url_for_display}")
    out.print(f"applied {len(applied)} migration(s)" if applied else "schema is up to date")


def run(args: list[str] | None = None) -> None:
    """Console-script entry point: domain errors become one line on stderr and exit 1."""
    try:
        code = app(args=args, standalone_mode=False)
        # Without standalone mode, click returns a command's Exit code instead of exiting.
        if isinstance(code, int) and code:
            sys.exit(code)
    except VivimError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors are handled below; anything else is a bug
        # Usage errors (bad option, missing argument) know how to show themselves.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("VIVIM_DEBUG"):
            raise
        err.print(
            f"[red]error:[/red] {type(exc).__name__}: {exc} (set VIVIM_DEBUG=1 for details)", highlight=False
        )
        sys.exit(2)


if __name__ == "__main__":
    run()
