"""`vivim context MESSAGE` and `vivim settings context ...`: context bundles from the CLI."""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape

from vivim.cli.context import err, out, print_json, state
from vivim.context.bundle import ContextEngine
from vivim.context.render import render, style_for, summary_line
from vivim.context.settings import PRESETS, apply_preset, load_settings, save_settings, update_settings
from vivim.domain.errors import InvalidInput

settings_app = typer.Typer(help="Your settings.", no_args_is_help=True)
context_settings_app = typer.Typer(
    help="How context bundles are shaped: preset, budget, layer shares, exclusions.", no_args_is_help=True
)
settings_app.add_typer(context_settings_app, name="context")


def context_command(
    ctx: typer.Context,
    message: str = typer.Argument(..., help="The message to build context for."),
    budget: int | None = typer.Option(
        None, "--budget", "-b", help="Token budget (cl100k); default from your settings."
    ),
    conversation: str | None = typer.Option(
        None, "--conversation", "-c", help="The conversation the message belongs to (id or provider id)."
    ),
    persona: str | None = typer.Option(None, "--persona", "-p", help="A persona by name."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, markdown or json."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (same as --format json)."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Assemble afresh even if a cached bundle is valid."
    ),
    full_text_only: bool = typer.Option(
        False, "--no-vectors", help="Retrieve units by full text only (skips loading the embedding model)."
    ),
) -> None:
    """Assemble what an AI should know for MESSAGE within a token budget: facts about you,
    your instructions and persona, the active topic, people and projects mentioned, the
    conversation (compacted when long), relevant units and memories, recent history."""
    st = state(ctx)
    v = st.vivim
    fmt = "json" if as_json else fmt
    style = style_for(fmt)
    store = v.store(st.current_user())
    from vivim.search.engine import SearchEngine

    search = SearchEngine(None) if full_text_only else v.search_engine()
    bundle = ContextEngine(store, search).build(
        message,
        conversation_id=conversation,
        persona=persona,
        budget=budget,
        style=style,
        use_cache=not no_cache,
    )
    sys.stdout.write(render(bundle, fmt) + "\n")
    if fmt != "json" and sys.stderr.isatty():
        err.print(f"[dim]{escape(summary_line(bundle))}[/dim]")


def _show(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    out.print(f"preset: {data['preset']}   max context tokens: {data['max_context_tokens']}")
    out.print(f"similarity threshold: {data['similarity_threshold']}")
    layers = data["layers"]
    assert isinstance(layers, dict)
    for name, share in layers.items():
        state_ = "on " if share["enabled"] else "off"
        out.print(
            f"  {name:13} {state_}  min {share['min']:.2f}  ideal {share['ideal']:.2f}  max {share['max']:.2f}"
        )
    if data["exclusions"]:
        out.print(f"exclusions: {json.dumps(data['exclusions'])}")
    if data["extra"]:
        out.print(f"other: {json.dumps(data['extra'])}")


@context_settings_app.command("show")
def show_settings(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show your context settings (the preset's layer shares with your overrides)."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).read() as conn:
        _show(load_settings(conn).to_json(), as_json)


@context_settings_app.command("presets")
def list_presets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the presets."""
    data = [
        {"name": p.name, "description": p.description, "max_context_tokens": p.max_context_tokens}
        for p in PRESETS.values()
    ]
    if as_json:
        print_json(data)
        return
    for p in data:
        out.print(
            f"[bold]{p['name']}[/bold] ({p['max_context_tokens']} tokens): {escape(str(p['description']))}"
        )


@context_settings_app.command("preset")
def set_preset(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="minimal, balanced, knowledge, developer or privacy."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Switch to a preset (drops your layer overrides and exclusions)."""
    st = state(ctx)
    with st.vivim.store(st.current_user()).transaction() as conn:
        _show(apply_preset(conn, name).to_json(), as_json)


def _parse_layer(spec: str) -> tuple[str, dict[str, object]]:
    # LAYER=off | LAYER=on | LAYER=MIN,IDEAL,MAX
    if "=" not in spec:
        raise InvalidInput(f"{spec!r}: use LAYER=MIN,IDEAL,MAX, LAYER=off or LAYER=on")
    name, value = spec.split("=", 1)
    value = value.strip().lower()
    if value in ("off", "on"):
        return name.strip(), {"enabled": value == "on"}
    try:
        lo, ideal, hi = (float(x) for x in value.split(","))
    except ValueError:
        raise InvalidInput(f"{spec!r}: shares are three numbers, e.g. retrieval=0.2,0.4,0.7") from None
    return name.strip(), {"min": lo, "ideal": ideal, "max": hi}


@context_settings_app.command("set")
def set_settings(
    ctx: typer.Context,
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Default budget in tokens."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Minimum relevance for retrieval (0-1)."
    ),
    layer: list[str] = typer.Option(
        [], "--layer", help="LAYER=MIN,IDEAL,MAX shares, or LAYER=off / LAYER=on (repeatable)."
    ),
    exclude: list[str] = typer.Option(
        [],
        "--exclude",
        help="KIND=VALUE,... e.g. providers=gemini or memory_types=RELATIONSHIP (repeatable).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Change your context settings (merged over what you have)."""
    overrides = dict(_parse_layer(s) for s in layer) or None
    exclusions: dict[str, list[str]] | None = None
    for spec in exclude:
        if "=" not in spec:
            raise InvalidInput(f"{spec!r}: use KIND=VALUE,VALUE")
        kind, values = spec.split("=", 1)
        exclusions = exclusions or {}
        exclusions[kind.strip()] = [x.strip() for x in values.split(",") if x.strip()]
    st = state(ctx)
    with st.vivim.store(st.current_user()).transaction() as conn:
        current = load_settings(conn)
        new = update_settings(
            current,
            max_context_tokens=max_tokens,
            similarity_threshold=threshold,
            layer_overrides=overrides,
            exclusions=exclusions,
        )
        _show(save_settings(conn, new).to_json(), as_json)
