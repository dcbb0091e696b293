"""`vivim index`, `vivim search`, `vivim units ...`, `vivim verify`."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from vivim.cli.context import err, out, print_json, state
from vivim.domain.errors import NotFound, VivimError
from vivim.identity.signing import verify_unit
from vivim.memory.after_index import after_index
from vivim.search.engine import Filters
from vivim.search.indexer import IndexBusy, index_lock
from vivim.store.user import units as unit_store

units_app = typer.Typer(
    help="Browse atomic chat units (the pieces conversations are split into).", no_args_is_help=True
)


def index_command(
    ctx: typer.Context,
    embed: bool = typer.Option(True, "--embed/--no-embed", help="Also compute vectors (slow; resumable)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Split new or changed conversations into units and index them (full text at once,
    vectors in batches). Safe to interrupt: a later run continues where this one stopped."""
    st = state(ctx)
    v = st.vivim
    user = st.current_user()
    store = v.store(user)
    try:
        with index_lock(store):
            if as_json or quiet or not sys.stderr.isatty():
                report = v.indexer(user, embed=embed).run(embed=embed)
            else:
                with Progress(
                    TextColumn("{task.description:8}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=err,
                ) as progress:
                    tasks: dict[str, int] = {}

                    def on_progress(phase: str, done: int, total: int) -> None:
                        if phase not in tasks:
                            tasks[phase] = progress.add_task(phase, total=total)
                        progress.update(tasks[phase], completed=done, total=total)

                    report = v.indexer(user, progress=on_progress, embed=embed).run(embed=embed)
            memory = after_index(v, user, embed=embed)  # memories from the new conversations
    except IndexBusy as exc:
        raise VivimError(str(exc)) from None
    with store.read() as conn:
        total, embedded = unit_store.count_units(conn)
    data = {**report.to_json(), "units_total": total, "units_embedded_total": embedded, **memory}
    if as_json:
        print_json(data)
    elif not quiet:
        out.print(
            f"{report.conversations} conversations indexed: {report.units_added} units added, "
            f"{report.units_removed} removed, {report.units_embedded} embedded in {report.seconds:.1f} s; "
            f"{embedded}/{total} units have vectors"
        )
        for e in report.errors[:20]:
            out.print(f"[red]error[/red] {escape(e)}")
        found = memory["memories"]
        out.print(f"memories: {found['memories_added']} added, {found['memories_merged']} repeats merged")


def start_background_index(data_dir: str, user_id: str) -> None:
    """Run `vivim index` detached, so a finished import returns at once."""
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vivim.cli.main",
            "--data-dir",
            data_dir,
            "--user",
            user_id,
            "index",
            "--quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def search_command(
    ctx: typer.Context,
    query: str | None = typer.Argument(None, help="What to look for (omit with --stdin)."),
    limit: int = typer.Option(10, "--limit", "-k", min=1, max=1000, help="How many hits."),
    stdin: bool = typer.Option(
        False, "--stdin", help="Read one query per line; print one JSON line per query."
    ),
    provider: str | None = typer.Option(None, "--provider", help="Only units from this provider."),
    conversation: str | None = typer.Option(None, "--conversation", help="Only this conversation (id)."),
    unit_type: str | None = typer.Option(
        None, "--type", help="Only this unit type (question, code_snippet, ...)."
    ),
    role: str | None = typer.Option(
        None, "--role", help="Only units from user/assistant/system/tool messages."
    ),
    since: str | None = typer.Option(None, "--since", help="Only messages at or after this time (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Only messages before this time (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Hybrid search (full text + vectors) over your units."""
    st = state(ctx)
    v = st.vivim
    store = v.store(st.current_user())
    engine = v.search_engine()
    filters = Filters(
        provider=provider, conversation_id=conversation, type=unit_type, role=role, since=since, until=until
    )
    if stdin:
        for line in sys.stdin:
            q = line.rstrip("\n")
            hits = engine.search(store, q, limit=limit, filters=filters)
            sys.stdout.write(
                json.dumps({"query": q, "hits": [h.to_json() for h in hits]}, ensure_ascii=False) + "\n"
            )
            sys.stdout.flush()
        return
    if query is None:
        raise VivimError("give a QUERY, or --stdin to read queries from standard input")
    hits = engine.search(store, query, limit=limit, filters=filters)
    if as_json:
        print_json({"query": query, "hits": [h.to_json() for h in hits]})
        return
    if not hits:
        out.print("no matches (new imports are searchable once `vivim index` has run)")
        return
    for i, h in enumerate(hits, 1):
        head = f"{i:>2}. {h.score:.3f}  {h.provider or ''} · {h.conversation_title or ''} · {h.author or h.role or ''}"
        out.print(f"[bold]{escape(head)}[/bold]  [dim]{h.unit_id}[/dim]")
        text = h.text if len(h.text) <= 400 else h.text[:400] + "…"
        out.print("    " + escape(text).replace("\n", "\n    "))


@units_app.command("list")
def list_units(
    ctx: typer.Context,
    conversation: str | None = typer.Option(None, "--conversation", help="Only this conversation (id)."),
    unit_type: str | None = typer.Option(None, "--type", help="Only this unit type."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="How many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List units (newest first, or in reading order within a conversation)."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).read() as conn:
        rows = unit_store.list_units(conn, conversation_id=conversation, type=unit_type, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "type", "category", "quality", "content")
    for r in rows:
        table.add_row(
            r["id"][:12],
            r["type"],
            r["category"],
            f"{r['quality_overall'] or 0:.2f}",
            escape(r["content"][:70].replace("\n", " ")),
        )
    out.print(table)


@units_app.command("show")
def show_unit(
    ctx: typer.Context,
    unit_id: str = typer.Argument(..., help="Unit id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a unit with its scores, lineage, signature and links."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).read() as conn:
        unit = unit_store.get_unit(conn, unit_id)
        if unit is None:
            raise NotFound(f"no unit {unit_id!r}")
        links = unit_store.get_links(conn, unit_id)
    if as_json:
        print_json({**unit, "links": links})
        return
    out.print(
        f"[bold]{unit['type']}[/bold] · {unit['category']} · quality {unit['quality_overall'] or 0:.2f}"
    )
    out.print(escape(unit["content"]))
    out.print(
        f"[dim]conversation {unit['conversation_id']} message {unit['message_source_id']} "
        f"signed by {unit['author_did']}[/dim]"
    )
    for link in links:
        other = link["target_id"] if link["direction"] == "out" else link["source_id"]
        out.print(
            f"  {link['relation']} {'->' if link['direction'] == 'out' else '<-'} {other} ({link['weight']:.2f})"
        )


def verify_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="List every unit, not only the invalid ones."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check every unit's Ed25519 signature against its author's DID (detects content
    edited behind vivim's back). Exits 1 if any unit is invalid."""
    st = state(ctx)
    results = []
    with st.vivim.store(st.current_user()).read() as conn:
        for unit, signature in unit_store.signed_fields(conn):
            ok, reason = verify_unit(unit, signature)
            results.append({"unit_id": unit["id"], "valid": ok, "reason": reason})
    invalid = [r for r in results if not r["valid"]]
    shown = results if show_all else invalid
    if as_json:
        print_json(
            {
                "units": len(results),
                "valid": len(results) - len(invalid),
                "invalid": len(invalid),
                "results": shown,
            }
        )
    else:
        for r in shown:
            mark = "[green]valid[/green]  " if r["valid"] else "[red]INVALID[/red]"
            out.print(f"{mark} {r['unit_id']}  {escape(r['reason'])}")
        out.print(f"{len(results)} units: {len(results) - len(invalid)} valid, {len(invalid)} invalid")
    if invalid:
        raise typer.Exit(1)
