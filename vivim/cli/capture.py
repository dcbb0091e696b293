"""`vivim import`, `vivim conversations ...`, `vivim stats`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vivim.capture.importer import FileSummary, Importer
from vivim.cli.context import err, out, print_json, state
from vivim.cli.search import start_background_index
from vivim.domain.errors import InvalidInput, NotFound
from vivim.store.master import captures
from vivim.store.user import conversations as conv_store

conversations_app = typer.Typer(help="Browse captured conversations.", no_args_is_help=True)


class _RichProgress:
    """Progress bar over bytes read, per input file."""

    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._task: int | None = None
        self._name = ""

    def start_file(self, name: str, total_bytes: int | None) -> None:
        self._name = Path(name).name
        self._task = self._p.add_task(self._name, total=total_bytes)

    def advance(self, n_bytes: int) -> None:
        if self._task is not None:
            self._p.advance(self._task, n_bytes)

    def conversation(self, status: str) -> None:
        pass

    def end_file(self, summary: FileSummary) -> None:
        if self._task is not None:
            task = self._p.tasks[self._task]
            if task.total is not None:
                self._p.update(self._task, completed=task.total)
        _print_file(summary, self._p.console)
        self._task = None


def _print_file(fs: FileSummary, console: object = out) -> None:
    if fs.status == "skipped":
        console.print(f"[dim]skipped   {escape(fs.source)} (no conversations in it)[/dim]")  # type: ignore[attr-defined]
        return
    colour = {"imported": "green", "unchanged": "cyan", "partial": "yellow", "failed": "red"}[fs.status]
    line = (
        f"[{colour}]{fs.status:9}[/{colour}] {fs.source}"
        + (f" ({fs.format})" if fs.format else "")
        + f": {fs.created} new, {fs.updated} updated, {fs.unchanged} unchanged"
        + (f", {fs.failed} failed" if fs.failed else "")
        + f"; {fs.new_messages} new messages"
    )
    line = line.replace(fs.source, escape(fs.source))
    console.print(line, highlight=False)  # type: ignore[attr-defined]
    for e in fs.errors[:20]:
        where = escape(f" [{e['record']}]") if e.get("record") else ""
        console.print(f"   [red]error[/red]{where}: {escape(e['message'])}", highlight=False)  # type: ignore[attr-defined]
    if len(fs.errors) > 20:
        console.print(f"   ... and {len(fs.errors) - 20} more errors")  # type: ignore[attr-defined]


def import_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Export files, folders, zip archives or saved share pages."),
    provider: str | None = typer.Option(
        None, "--provider", "-p", help="Skip detection: the format or provider."
    ),
    force: bool = typer.Option(False, "--force", help="Re-read files already imported unchanged."),
    as_json: bool = typer.Option(
        False, "--json", help="Print a machine-readable summary instead of progress."
    ),
    index: bool = typer.Option(
        True,
        "--index/--no-index",
        help="Index what was imported in the background (`vivim index` shows progress).",
    ),
) -> None:
    """Import AI conversations: ChatGPT, Claude, Gemini, AI Studio, Open WebUI exports,
    vivim-json files, and saved share pages (ChatGPT, Claude, DeepSeek, Grok, Kimi, z.ai, LMArena)."""
    st = state(ctx)
    v = st.vivim
    user = st.current_user()
    store = v.store(user)
    importer = Importer(store=store, master=v.master, user_id=user.id, provider_hint=provider, force=force)
    if as_json or not sys.stderr.isatty():
        summary = importer.import_paths(paths)
        if as_json:
            print_json(summary.to_json())
        else:
            for fs in summary.files:
                _print_file(fs)
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            importer.progress = _RichProgress(progress)
            summary = importer.import_paths(paths)
    if not as_json:
        t = summary.totals()
        out.print(
            f"{t['files']} file(s): {t['created']} conversations new, {t['updated']} updated, "
            f"{t['unchanged']} unchanged, {t['failed']} failed; {t['new_messages']} new messages",
            highlight=False,
        )
    if not summary.ok:
        raise typer.Exit(1)
    if index and (summary.totals()["created"] or summary.totals()["updated"]):
        start_background_index(str(v.settings.data_dir), user.id)
        if not as_json:
            out.print("indexing in the background; `vivim index` shows progress and waits for it")


@conversations_app.command("list")
def list_conversations(
    ctx: typer.Context,
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="How many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List conversations, newest captured first."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).read() as conn:
        rows = conv_store.list_conversations(conn, provider=provider, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no conversations yet: `vivim import PATH`")
        return
    table = Table("id", "provider", "title", "messages", "tokens", "created")
    for r in rows:
        table.add_row(
            r["id"][:12],
            r["provider"],
            (r["title"] or "")[:60],
            str(r["message_count"]),
            str(r["total_tokens"] or 0),
            (r["created_at"] or "")[:16].replace("T", " "),
        )
    out.print(table)


@conversations_app.command("show")
def show_conversation(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Conversation id (or a unique prefix, or the provider's id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a conversation: messages in order with role, author, parts, parent and provider ids."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).read() as conn:
        cid = conv_store.find_conversation_id(conn, ref)
        if cid is None:
            raise NotFound(f"no conversation {ref!r}; see `vivim conversations list`")
        conv = conv_store.get_conversation(conn, cid)
        messages = conv_store.get_messages(conn, cid)
    assert conv is not None
    if as_json:
        print_json({**conv, "messages": messages})
        return
    out.print(
        f"[bold]{conv['title']}[/bold]  ({conv['provider']}, {conv['message_count']} messages, v{conv['version']})"
    )
    out.print(
        f"id {conv['id']}  provider id {conv['source_id']}"
        + (f"  {conv['source_url']}" if conv["source_url"] else "")
    )
    for m in messages:
        flags = []
        if m["hidden"]:
            flags.append("hidden")
        if not m["on_current_path"]:
            flags.append("other branch")
        head = f"[bold]#{m['message_index']} {m['role']}[/bold]" + (
            f" ({m['author']})" if m["author"] else ""
        )
        out.print(f"\n{head}  [dim]{m['source_id']}{' ' + ', '.join(flags) if flags else ''}[/dim]")
        for p in m["parts"]:
            out.print(_render_part(p), highlight=False, markup=False)


def _render_part(p: dict) -> str:
    t = p.get("type")
    if t == "text":
        return p["text"]
    if t == "code":
        return f"```{p.get('language') or ''}\n{p['code']}\n```"
    if t == "thinking":
        return f"[thinking] {p.get('text', '')[:500]}"
    if t == "tool_call":
        return f"[tool call {p.get('name')}] {str(p.get('arguments'))[:500]}"
    if t == "tool_result":
        return f"[tool result] {str(p.get('content'))[:500]}"
    if t == "image":
        return f"[image {p.get('ref')}]"
    if t == "table":
        return "\n".join(" | ".join(map(str, r)) for r in [p.get("headers", []), *p.get("rows", [])])
    if t == "latex":
        return f"$$ {p['latex']} $$"
    if t == "mermaid":
        return f"```mermaid\n{p['mermaid']}\n```"
    if t == "citation":
        return f"[cite] {p.get('title') or ''} {p.get('url') or ''}"
    if t == "attachment":
        return f"[attachment {p.get('name')}] {(p.get('extracted_text') or '')[:200]}"
    return f"[{t} {p.get('original_type') or ''}]"


def stats_command(
    ctx: typer.Context,
    limit: int = typer.Option(10, "--recent", help="How many recent capture attempts to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per-provider capture statistics and recent capture attempts."""
    st = state(ctx)
    v = st.vivim
    user = st.current_user()
    with v.master.session() as s:
        stats = captures.provider_stats(s, user_id=user.id)
        recent = captures.recent_attempts(s, user_id=user.id, limit=limit)
    with v.store(user).read() as conn:
        counts = conv_store.count_conversations(conn)
    if as_json:
        print_json({"conversations": counts, "providers": stats, "recent_attempts": recent})
        return
    table = Table(
        "provider", "conversations", "captures", "ok", "failed", "avg msgs", "avg ms", "messages", "last"
    )
    for s_ in stats:
        table.add_row(
            s_["provider"],
            str(counts.get(s_["provider"], "")),
            str(s_["total_captures"]),
            str(s_["successful_captures"]),
            str(s_["failed_captures"]),
            f"{s_['avg_message_count'] or 0:.1f}",
            f"{s_['avg_duration'] or 0:.1f}",
            str(s_["total_messages"]),
            str(s_["last_capture_at"] or "")[:16],
        )
    out.print(table)
    if recent:
        rt = Table("when", "status", "provider", "source", "error")
        for a in recent:
            rt.add_row(
                str(a["started_at"])[:19],
                a["status"],
                a["provider"] or "",
                a["source_url"][-60:],
                (a["error_message"] or "")[:60],
            )
        out.print(rt)


def export_command(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="File to write (default: standard output)."),
    fmt: str = typer.Option(
        "vivim-json", "--format", help="Export format: vivim-json (vivim.conversations/v1)."
    ),
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider's conversations."),
) -> None:
    """Export your conversations losslessly (vivim.conversations/v1; docs/FORMATS.md).
    Importing the file into another vivim gives back the same conversations."""
    from vivim.capture.export import stored_conversations
    from vivim.capture.generic import write_document

    if fmt != "vivim-json":
        raise InvalidInput(f"unknown export format {fmt!r}; supported: vivim-json")
    st = state(ctx)
    store = st.vivim.store(st.current_user())
    with store.read() as conn:
        if path is None or str(path) == "-":
            count = write_document(stored_conversations(conn, provider=provider), sys.stdout)
        else:
            tmp = path.with_name(path.name + ".partial")
            with open(tmp, "w", encoding="utf-8") as f:
                count = write_document(stored_conversations(conn, provider=provider), f)
            tmp.replace(path)  # never a half-written export at the path asked for
            err.print(f"exported {count} conversations to {path}")
