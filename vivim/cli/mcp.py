"""`vivim mcp`: serve the current user's vault to an AI client over MCP (stdio)."""

from __future__ import annotations

import typer

from vivim.cli.context import state
from vivim.domain.errors import VivimError


def mcp_command(ctx: typer.Context) -> None:
    """Run an MCP server on standard input/output for the current user (--user). Tools:
    search, get_context, add_memory, list_conversations, get_conversation. Point an MCP
    client at `vivim --user NAME mcp`."""
    try:
        from vivim.mcp.server import serve_stdio
    except ModuleNotFoundError as exc:  # the optional `mcp` package
        raise VivimError(f"the MCP server needs the `mcp` package ({exc}); pip install 'mcp>=2.3'") from None
    st = state(ctx)
    serve_stdio(st.vivim, st.current_user())
