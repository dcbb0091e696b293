"""`vivim memory|facts|profiles|instructions|personas|notebooks ...`: what vivim knows about you.

Every command takes ``--json``; ids may be given as an unambiguous prefix (6+ characters).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from vivim.cli.context import out, print_json, state
from vivim.domain.errors import VivimError
from vivim.memory import facts as fact_ops
from vivim.memory import instructions as instr_ops
from vivim.memory import memories as memory_ops
from vivim.memory import notebooks as nb_ops
from vivim.memory import profiles as profile_ops
from vivim.memory.pipeline import extract_memories
from vivim.search.indexer import IndexBusy, index_lock
from vivim.store.user.db import UserStore

memory_app = typer.Typer(
    help="Memories: what vivim remembers about you (added by you or extracted from your conversations).",
    no_args_is_help=True,
)
facts_app = typer.Typer(help="Short facts about you (name, place, work, family) that lead every context.",
                        no_args_is_help=True)
profiles_app = typer.Typer(help="Topics and entities (people, tools, projects, places) built from your vault.",
                           no_args_is_help=True)
instructions_app = typer.Typer(help="Custom instructions for AI assistants (yours and those found in exports).",
                               no_args_is_help=True)
personas_app = typer.Typer(help="AI personas: a name, a system prompt and the words that trigger it.",
                           no_args_is_help=True)
notebooks_app = typer.Typer(help="Notebooks: your own collections of units, memories and notes.",
                            no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


def _store(ctx: typer.Context) -> UserStore:
    st = state(ctx)
    return st.vivim.store(st.current_user())


def _short(text: str | None, n: int = 70) -> str:
    t = (text or "").replace("\n", " ")
    return escape(t if len(t) <= n else t[: n - 1] + "…")


def _done(as_json: bool, data: Any, message: str) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(message)


# --- memories ------------------------------------------------------------------------------------
def _memory_table(rows: list[dict[str, Any]], score: bool = False) -> None:
    cols = ["id", "type", "imp", "pin", "content"] + (["score"] if score else [])
    table = Table(*cols)
    for m in rows:
        cells = [m["id"][:10], m["memory_type"], str(m["importance"]), "*" if m["pinned"] else "",
                 _short(m["content"]) + (" [dim](archived)[/dim]" if m["archived"] else "")]
        if score:
            cells.append(f"{m['score']:.3f}")
        table.add_row(*cells)
    out.print(table)


@memory_app.command("add")
def memory_add(
    ctx: typer.Context,
    content: str = typer.Argument(..., help="What to remember."),
    memory_type: str = typer.Option("SEMANTIC", "--type", "-t", help="EPISODIC, SEMANTIC, PROCEDURAL, FACTUAL, "
                                    "PREFERENCE, IDENTITY, RELATIONSHIP, GOAL, PROJECT or CUSTOM."),
    category: str | None = typer.Option(None, "--category", "-c", help="A free category label."),
    importance: int = typer.Option(5, "--importance", "-i", min=0, max=10, help="0 (trivial) to 10 (essential)."),
    summary: str | None = typer.Option(None, "--summary", help="A short summary (default: derived)."),
    pin: bool = typer.Option(False, "--pin", help="Always include it in context."),
    as_json: bool = JSON_OPT,
) -> None:
    """Remember something. Saying the same thing twice keeps one memory."""
    m = memory_ops.create_memory(_store(ctx), content, memory_type=memory_type, category=category,
                                 importance=importance, summary=summary, pinned=pin)
    _done(as_json, m, f"{'already remembered' if m['merged'] else 'remembered'}: {m['id']}")


@memory_app.command("list")
def memory_list(
    ctx: typer.Context,
    memory_type: str | None = typer.Option(None, "--type", "-t", help="Only this type."),
    category: str | None = typer.Option(None, "--category", "-c", help="Only this category."),
    pinned: bool = typer.Option(False, "--pinned", help="Only pinned memories."),
    archived: bool = typer.Option(False, "--archived", help="Only archived memories."),
    show_all: bool = typer.Option(False, "--all", help="Archived and active memories."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="How many."),
    as_json: bool = JSON_OPT,
) -> None:
    """Your memories: pinned first, then the most important."""
    rows = memory_ops.list_memories(_store(ctx), memory_type=memory_type, category=category,
                                    pinned=True if pinned else None, archived=None if show_all else archived,
                                    limit=limit)
    if as_json:
        print_json(rows)
    elif not rows:
        out.print("no memories yet: `vivim memory add TEXT`, or `vivim memory extract` after an import")
    else:
        _memory_table(rows)


@memory_app.command("show")
def memory_show(ctx: typer.Context, memory_id: str = typer.Argument(..., help="Memory id (or prefix)."),
                as_json: bool = JSON_OPT) -> None:
    """A memory with where it came from (every message it was said in)."""
    m = memory_ops.get_memory(_store(ctx), memory_id, touch=True)
    if as_json:
        print_json(m)
        return
    flags = [f for f, on in (("pinned", m["pinned"]), ("archived", m["archived"])) if on]
    out.print(f"[bold]{m['memory_type']}[/bold] · {m['category'] or '-'} · importance {m['importance']}"
              + (f" · {', '.join(flags)}" if flags else ""))
    out.print(escape(m["content"]))
    if m["summary"] and m["summary"] != m["content"]:
        out.print(f"[dim]{escape(m['summary'])}[/dim]")
    for s in m["sources"]:
        out.print(f"  from “{escape(s['conversation_title'] or '')}” message {s['message_source_id'] or s['message_id']}"
                  + (f" unit {s['unit_id']}" if s["unit_id"] else ""))
    out.print(f"[dim]{m['id']} · accessed {m['access_count']} times[/dim]")


@memory_app.command("edit")
def memory_edit(
    ctx: typer.Context,
    memory_id: str = typer.Argument(..., help="Memory id (or prefix)."),
    content: str | None = typer.Option(None, "--content", help="New text."),
    summary: str | None = typer.Option(None, "--summary", help="New summary."),
    memory_type: str | None = typer.Option(None, "--type", "-t", help="New type."),
    category: str | None = typer.Option(None, "--category", "-c", help="New category."),
    importance: int | None = typer.Option(None, "--importance", "-i", min=0, max=10, help="New importance."),
    as_json: bool = JSON_OPT,
) -> None:
    """Change a memory."""
    m = memory_ops.update_memory(_store(ctx), memory_id, content=content, summary=summary, memory_type=memory_type,
                                 category=category, importance=importance)
    _done(as_json, m, f"updated {m['id']}")


def _flag(name: str, field: str, value: bool, help_text: str) -> None:
    @memory_app.command(name, help=help_text)
    def command(ctx: typer.Context, memory_id: str = typer.Argument(..., help="Memory id (or prefix)."),
                as_json: bool = JSON_OPT) -> None:
        m = memory_ops.update_memory(_store(ctx), memory_id, **{field: value})
        _done(as_json, m, f"{name}ned {m['id']}" if name.endswith("pin") else f"{name}d {m['id']}")


_flag("pin", "pinned", True, "Pin a memory: always included in context.")
_flag("unpin", "pinned", False, "Unpin a memory.")
_flag("archive", "archived", True, "Archive a memory: kept, but left out of context and search.")
_flag("unarchive", "archived", False, "Bring an archived memory back.")


@memory_app.command("delete")
def memory_delete(ctx: typer.Context, memory_id: str = typer.Argument(..., help="Memory id (or prefix)."),
                  as_json: bool = JSON_OPT) -> None:
    """Delete a memory for good (an extracted one is not extracted again)."""
    mid = memory_ops.delete_memory(_store(ctx), memory_id)
    _done(as_json, {"deleted": mid}, f"deleted {mid}")


@memory_app.command("search")
def memory_search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for."),
    limit: int = typer.Option(10, "--limit", "-k", min=1, max=1000, help="How many."),
    memory_type: str | None = typer.Option(None, "--type", "-t", help="Only this type."),
    archived: bool = typer.Option(False, "--archived", help="Include archived memories."),
    vectors: bool = typer.Option(True, "--vectors/--no-vectors", help="Also match by meaning (local model)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Search memories by words and by meaning."""
    st = state(ctx)
    store = st.vivim.store(st.current_user())
    embedder = st.vivim.embedder if vectors else None
    if embedder is not None:
        memory_ops.embed_missing(store, embedder)
    rows = memory_ops.search_memories(store, query, embedder=embedder, limit=limit, memory_type=memory_type,
                                      include_archived=archived)
    if as_json:
        print_json({"query": query, "hits": rows})
    elif not rows:
        out.print("no matching memories")
    else:
        _memory_table(rows, score=True)


@memory_app.command("extract")
def memory_extract(
    ctx: typer.Context,
    rescan: bool = typer.Option(False, "--rescan", help="Read every conversation again, not only new ones."),
    embed: bool = typer.Option(True, "--embed/--no-embed", help="Compute vectors for new memories."),
    as_json: bool = JSON_OPT,
) -> None:
    """Find memories in your conversations (no AI model involved): what you said about
    yourself, your preferences, projects and goals. Runs after `vivim index` too."""
    st = state(ctx)
    store = st.vivim.store(st.current_user())
    # The indexer (run in the background after an import) extracts too: wait for neither,
    # say so instead of failing on a locked database.
    try:
        with index_lock(store):
            report = extract_memories(store, embedder=st.vivim.embedder if embed else None, rescan=rescan)
            landed = instr_ops.land_export_instructions(store)
    except IndexBusy as exc:
        raise VivimError(f"{exc}; it extracts memories too when it finishes") from None
    data = {**report.to_json(), "instructions_added": landed}
    _done(as_json, data, f"{report.conversations} conversations read: {report.memories_added} memories added, "
          f"{report.memories_merged} repeats merged, {report.facts_added} facts added, "
          f"{landed} custom instructions found")


# --- facts ----------------------------------------------------------------------------------------
@facts_app.command("add")
def fact_add(
    ctx: typer.Context,
    content: str = typer.Argument(..., help="The fact, e.g. \"Lives in Lisbon\"."),
    category: str = typer.Option("general", "--category", "-c", help="name, location, occupation, family, ..."),
    importance: int = typer.Option(7, "--importance", "-i", min=0, max=10, help="0 to 10."),
    pin: bool = typer.Option(False, "--pin", help="Pin it."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a fact about yourself."""
    f = fact_ops.add_fact(_store(ctx), content, category=category, importance=importance, pinned=pin)
    _done(as_json, f, f"{'already known' if f['merged'] else 'added'}: {f['id']}")


@facts_app.command("list")
def fact_list(
    ctx: typer.Context,
    category: str | None = typer.Option(None, "--category", "-c", help="Only this category."),
    show_all: bool = typer.Option(False, "--all", help="Include archived facts."),
    as_json: bool = JSON_OPT,
) -> None:
    """Facts about you."""
    rows = fact_ops.list_facts(_store(ctx), category=category, archived=None if show_all else False, limit=1000)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "category", "conf", "pin", "fact")
    for f in rows:
        table.add_row(f["id"][:10], f["category"], f"{f['confidence']:.1f}", "*" if f["pinned"] else "",
                      _short(f["content"]) + (" [dim](archived)[/dim]" if f["archived"] else ""))
    out.print(table if rows else "no facts yet: `vivim facts add TEXT`")


@facts_app.command("show")
def fact_show(ctx: typer.Context, fact_id: str = typer.Argument(..., help="Fact id (or prefix)."),
              as_json: bool = JSON_OPT) -> None:
    """One fact."""
    f = fact_ops.get_fact(_store(ctx), fact_id)
    _done(as_json, f, f"{escape(f['content'])}\n[dim]{f['id']} · {f['category']} · confidence {f['confidence']}"
          f" · from conversation {f['source_conversation_id'] or '-'}[/dim]")


@facts_app.command("edit")
def fact_edit(
    ctx: typer.Context,
    fact_id: str = typer.Argument(..., help="Fact id (or prefix)."),
    content: str | None = typer.Option(None, "--content", help="New text."),
    category: str | None = typer.Option(None, "--category", "-c", help="New category."),
    importance: int | None = typer.Option(None, "--importance", "-i", min=0, max=10, help="New importance."),
    pin: bool | None = typer.Option(None, "--pin/--unpin", help="Pin or unpin."),
    archive: bool | None = typer.Option(None, "--archive/--unarchive", help="Archive or bring back."),
    as_json: bool = JSON_OPT,
) -> None:
    """Change a fact (text, category, importance, pinned, archived)."""
    f = fact_ops.update_fact(_store(ctx), fact_id, content=content, category=category, importance=importance,
                             pinned=pin, archived=archive)
    _done(as_json, f, f"updated {f['id']}")


@facts_app.command("delete")
def fact_delete(ctx: typer.Context, fact_id: str = typer.Argument(..., help="Fact id (or prefix)."),
                as_json: bool = JSON_OPT) -> None:
    """Delete a fact."""
    fid = fact_ops.delete_fact(_store(ctx), fact_id)
    _done(as_json, {"deleted": fid}, f"deleted {fid}")


# --- profiles -------------------------------------------------------------------------------------
def _maybe_build(store: UserStore, rebuild: bool) -> dict[str, Any] | None:
    if rebuild:
        return profile_ops.rebuild_profiles(store).to_json()
    report = profile_ops.ensure_profiles(store)
    return report.to_json() if report else None


@profiles_app.command("topics")
def profile_topics(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Recompute every profile now."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="How many."),
    as_json: bool = JSON_OPT,
) -> None:
    """Topics you talk about, most important first (rebuilt when new data arrived)."""
    store = _store(ctx)
    built = _maybe_build(store, rebuild)
    rows = profile_ops.list_topics(store, limit=limit)
    if as_json:
        print_json({"rebuilt": built, "topics": rows})
        return
    table = Table("topic", "keyphrases", "conversations", "messages", "importance", "last engaged")
    for t in rows:
        table.add_row(escape(t["label"]), escape(", ".join(t["keyphrases"])), str(t["conversation_count"]),
                      str(t["message_count"]), f"{t['importance']:.2f}", (t["last_engaged_at"] or "")[:10])
    out.print(table if rows else "no topics yet (topics need a keyphrase shared by two conversations)")


@profiles_app.command("topic")
def profile_topic(ctx: typer.Context, ref: str = typer.Argument(..., help="Topic slug or id."),
                  as_json: bool = JSON_OPT) -> None:
    """One topic with its conversations."""
    t = profile_ops.get_topic(_store(ctx), ref)
    if as_json:
        print_json(t)
        return
    out.print(f"[bold]{escape(t['label'])}[/bold]  {escape(t['description'] or '')}")
    for c in t["conversations"]:
        out.print(f"  {c['relevance']:.2f}  {escape(c['title'] or '')}  [dim]{c['conversation_id']}[/dim]")


@profiles_app.command("entities")
def profile_entities(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Recompute every profile now."),
    entity_type: str | None = typer.Option(None, "--type", "-t", help="person, pet, project, place, tool, other."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, max=10_000, help="How many."),
    as_json: bool = JSON_OPT,
) -> None:
    """People, pets, projects, places and tools in your conversations."""
    store = _store(ctx)
    built = _maybe_build(store, rebuild)
    rows = profile_ops.list_entities(store, entity_type=entity_type, limit=limit)
    if as_json:
        print_json({"rebuilt": built, "entities": rows})
        return
    table = Table("name", "type", "mentions", "conversations", "importance", "last seen")
    for e in rows:
        table.add_row(escape(e["name"]), e["entity_type"], str(e["mention_count"]), str(e["conversation_count"]),
                      f"{e['importance']:.2f}", (e["last_seen_at"] or "")[:10])
    out.print(table if rows else "no entities found")


# --- instructions ---------------------------------------------------------------------------------
@instructions_app.command("add")
def instruction_add(
    ctx: typer.Context,
    content: str = typer.Argument(..., help="The instruction, e.g. \"Answer in British English\"."),
    scope: str = typer.Option("global", "--scope", help="global, topic, conversation or persona."),
    tags: list[str] = typer.Option([], "--tag", help="Topic tag (repeatable; for --scope topic)."),
    priority: int = typer.Option(0, "--priority", "-p", help="Higher comes first."),
    persona: str | None = typer.Option(None, "--persona", help="Persona this belongs to (--scope persona)."),
    inactive: bool = typer.Option(False, "--inactive", help="Add it switched off."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a custom instruction."""
    i = instr_ops.add_instruction(_store(ctx), content, scope=scope, topic_tags=tags, priority=priority,
                                  active=not inactive, persona=persona)
    _done(as_json, i, f"added {i['id']}")


@instructions_app.command("list")
def instruction_list(
    ctx: typer.Context,
    active: bool = typer.Option(False, "--active", help="Only active ones."),
    scope: str | None = typer.Option(None, "--scope", help="Only this scope."),
    as_json: bool = JSON_OPT,
) -> None:
    """Custom instructions, highest priority first."""
    rows = instr_ops.list_instructions(_store(ctx), active=True if active else None, scope=scope)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "scope", "prio", "active", "source", "instruction")
    for i in rows:
        table.add_row(i["id"][:10], i["scope"] + (f" {','.join(i['topic_tags'])}" if i["topic_tags"] else ""),
                      str(i["priority"]), "yes" if i["is_active"] else "no", i["source"], _short(i["content"]))
    out.print(table if rows else "no custom instructions yet")


@instructions_app.command("show")
def instruction_show(ctx: typer.Context, instruction_id: str = typer.Argument(..., help="Id (or prefix)."),
                     as_json: bool = JSON_OPT) -> None:
    """One instruction in full."""
    i = instr_ops.get_instruction(_store(ctx), instruction_id)
    _done(as_json, i, f"{escape(i['content'])}\n[dim]{i['id']} · {i['scope']} · priority {i['priority']} · "
          f"{'active' if i['is_active'] else 'inactive'} · {i['source']}[/dim]")


@instructions_app.command("edit")
def instruction_edit(
    ctx: typer.Context,
    instruction_id: str = typer.Argument(..., help="Id (or prefix)."),
    content: str | None = typer.Option(None, "--content", help="New text."),
    scope: str | None = typer.Option(None, "--scope", help="New scope."),
    tags: list[str] | None = typer.Option(None, "--tag", help="New topic tags (repeatable)."),
    priority: int | None = typer.Option(None, "--priority", "-p", help="New priority."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Switch on or off."),
    as_json: bool = JSON_OPT,
) -> None:
    """Change an instruction."""
    i = instr_ops.update_instruction(_store(ctx), instruction_id, content=content, scope=scope,
                                     topic_tags=tags or None, priority=priority, active=active)
    _done(as_json, i, f"updated {i['id']}")


@instructions_app.command("delete")
def instruction_delete(ctx: typer.Context, instruction_id: str = typer.Argument(..., help="Id (or prefix)."),
                       as_json: bool = JSON_OPT) -> None:
    """Delete an instruction."""
    iid = instr_ops.delete_instruction(_store(ctx), instruction_id)
    _done(as_json, {"deleted": iid}, f"deleted {iid}")


@instructions_app.command("import")
def instruction_import(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Add custom instructions found in your stored ChatGPT conversations ("about me",
    "how to respond") that are not in the list yet."""
    n = instr_ops.land_export_instructions(_store(ctx))
    _done(as_json, {"added": n}, f"{n} custom instructions added")


# --- personas -------------------------------------------------------------------------------------
@personas_app.command("add")
def persona_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The persona's name."),
    prompt: str = typer.Option(..., "--prompt", help="Its system prompt."),
    description: str | None = typer.Option(None, "--description", help="What it is for."),
    triggers: list[str] = typer.Option([], "--trigger", help="A word that selects it (repeatable)."),
    default: bool = typer.Option(False, "--default", help="Use it when no other persona is triggered."),
    inactive: bool = typer.Option(False, "--inactive", help="Add it switched off."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add an AI persona."""
    p = instr_ops.add_persona(_store(ctx), name, prompt, description=description, triggers=triggers,
                              active=not inactive, default=default)
    _done(as_json, p, f"added persona {p['name']} ({p['id']})")


@personas_app.command("list")
def persona_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your personas."""
    rows = instr_ops.list_personas(_store(ctx))
    if as_json:
        print_json(rows)
        return
    table = Table("name", "default", "active", "triggers", "prompt")
    for p in rows:
        table.add_row(escape(p["name"]), "yes" if p["is_default"] else "", "yes" if p["is_active"] else "no",
                      escape(", ".join(p["triggers"])), _short(p["system_prompt"], 50))
    out.print(table if rows else "no personas yet: `vivim personas add NAME --prompt TEXT`")


@personas_app.command("show")
def persona_show(ctx: typer.Context, persona: str = typer.Argument(..., help="Name or id."),
                 as_json: bool = JSON_OPT) -> None:
    """One persona in full."""
    p = instr_ops.get_persona(_store(ctx), persona)
    _done(as_json, p, f"[bold]{escape(p['name'])}[/bold] {escape(p['description'] or '')}\n"
          f"{escape(p['system_prompt'])}\n[dim]triggers: {escape(', '.join(p['triggers']) or '-')}[/dim]")


@personas_app.command("edit")
def persona_edit(
    ctx: typer.Context,
    persona: str = typer.Argument(..., help="Name or id."),
    name: str | None = typer.Option(None, "--name", help="New name."),
    prompt: str | None = typer.Option(None, "--prompt", help="New system prompt."),
    description: str | None = typer.Option(None, "--description", help="New description."),
    triggers: list[str] | None = typer.Option(None, "--trigger", help="New trigger words (repeatable)."),
    default: bool | None = typer.Option(None, "--default/--not-default", help="Make it (not) the default."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Switch on or off."),
    as_json: bool = JSON_OPT,
) -> None:
    """Change a persona."""
    p = instr_ops.update_persona(_store(ctx), persona, name=name, system_prompt=prompt, description=description,
                                 triggers=triggers or None, default=default, active=active)
    _done(as_json, p, f"updated persona {p['name']}")


@personas_app.command("delete")
def persona_delete(ctx: typer.Context, persona: str = typer.Argument(..., help="Name or id."),
                   as_json: bool = JSON_OPT) -> None:
    """Delete a persona (and the instructions scoped to it)."""
    pid = instr_ops.delete_persona(_store(ctx), persona)
    _done(as_json, {"deleted": pid}, f"deleted {pid}")


# --- notebooks ------------------------------------------------------------------------------------
@notebooks_app.command("create")
def notebook_create(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="Title."),
    description: str | None = typer.Option(None, "--description", help="What it collects."),
    pin: bool = typer.Option(False, "--pin", help="Pin it."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create a notebook."""
    nb = nb_ops.create_notebook(_store(ctx), title, description=description, pinned=pin)
    _done(as_json, nb, f"created notebook {nb['id']}")


@notebooks_app.command("list")
def notebook_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your notebooks."""
    rows = nb_ops.list_notebooks(_store(ctx))
    if as_json:
        print_json(rows)
        return
    table = Table("id", "title", "entries", "updated")
    for nb in rows:
        table.add_row(nb["id"][:10], ("* " if nb["pinned"] else "") + escape(nb["title"]), str(nb["entry_count"]),
                      nb["updated_at"][:16].replace("T", " "))
    out.print(table if rows else "no notebooks yet: `vivim notebooks create TITLE`")


@notebooks_app.command("show")
def notebook_show(ctx: typer.Context, notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
                  as_json: bool = JSON_OPT) -> None:
    """A notebook and its entries in order."""
    nb = nb_ops.get_notebook(_store(ctx), notebook_id)
    if as_json:
        print_json(nb)
        return
    out.print(f"[bold]{escape(nb['title'])}[/bold] {escape(nb['description'] or '')}")
    for e in nb["entries"]:
        out.print(f"{e['position']:>3}. [{e['entry_type']}] {_short(e.get('text'), 90)}  [dim]{e['id'][:10]}[/dim]")


@notebooks_app.command("edit")
def notebook_edit(
    ctx: typer.Context,
    notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
    title: str | None = typer.Option(None, "--title", help="New title."),
    description: str | None = typer.Option(None, "--description", help="New description."),
    pin: bool | None = typer.Option(None, "--pin/--unpin", help="Pin or unpin."),
    as_json: bool = JSON_OPT,
) -> None:
    """Rename, describe, pin or unpin a notebook."""
    nb = nb_ops.update_notebook(_store(ctx), notebook_id, title=title, description=description, pinned=pin)
    _done(as_json, nb, f"updated notebook {nb['id']}")


@notebooks_app.command("delete")
def notebook_delete(ctx: typer.Context, notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
                    as_json: bool = JSON_OPT) -> None:
    """Delete a notebook (its units and memories stay)."""
    nid = nb_ops.delete_notebook(_store(ctx), notebook_id)
    _done(as_json, {"deleted": nid}, f"deleted notebook {nid}")


@notebooks_app.command("add")
def notebook_add(
    ctx: typer.Context,
    notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
    unit: str | None = typer.Option(None, "--unit", help="A unit id to add."),
    memory: str | None = typer.Option(None, "--memory", help="A memory id to add."),
    note: str | None = typer.Option(None, "--note", help="A note to add."),
    position: int | None = typer.Option(None, "--position", min=0, help="Where (0 = first; default: last)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a unit, a memory or a note to a notebook."""
    e = nb_ops.add_entry(_store(ctx), notebook_id, unit_id=unit, memory_id=memory, note=note, position=position)
    _done(as_json, e, f"added {e['entry_type']} entry {e['id']} at position {e['position']}")


@notebooks_app.command("move")
def notebook_move(
    ctx: typer.Context,
    notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
    entry_id: str = typer.Argument(..., help="Entry id (or prefix)."),
    position: int = typer.Argument(..., min=0, help="New position (0 = first)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Move an entry within its notebook."""
    e = nb_ops.update_entry(_store(ctx), notebook_id, entry_id, position=position)
    _done(as_json, e, f"moved {e['id']} to position {e['position']}")


@notebooks_app.command("note")
def notebook_note(
    ctx: typer.Context,
    notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
    entry_id: str = typer.Argument(..., help="Note entry id (or prefix)."),
    text: str = typer.Argument(..., help="The note's new text."),
    as_json: bool = JSON_OPT,
) -> None:
    """Edit a note entry."""
    e = nb_ops.update_entry(_store(ctx), notebook_id, entry_id, note=text)
    _done(as_json, e, f"updated note {e['id']}")


@notebooks_app.command("remove")
def notebook_remove(
    ctx: typer.Context,
    notebook_id: str = typer.Argument(..., help="Notebook id (or prefix)."),
    entry_id: str = typer.Argument(..., help="Entry id (or prefix)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Remove an entry from a notebook (the unit or memory itself stays)."""
    eid = nb_ops.remove_entry(_store(ctx), notebook_id, entry_id)
    _done(as_json, {"removed": eid}, f"removed {eid}")
