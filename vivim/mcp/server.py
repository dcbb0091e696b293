"""`vivim mcp`: a stdio MCP server over one user's vault.

Tools: ``search`` (hybrid search over units), ``get_context`` (a token-budgeted context
bundle for a message), ``add_memory``, ``list_conversations``, ``get_conversation``.
The server acts for exactly one user, chosen when it starts, and opens only their file.
Domain errors become tool errors with the same one-line message the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from vivim.app import UserRecord, Vivim
from vivim.context.bundle import ContextEngine
from vivim.context.render import style_for
from vivim.domain.errors import InvalidInput, NotFound, VivimError
from vivim.domain.parts import message_text
from vivim.search.engine import Filters
from vivim.store.user import conversations as conv_store

T = TypeVar("T")
MAX_LIMIT = 200


def build_server(v: Vivim, user: UserRecord) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from vivim import __version__

    server = MCPServer(
        name="vivim",
        version=__version__,
        instructions=(
            f"The personal AI-conversation vault of {user.handle or user.id}. Use get_context before answering"
            " to learn what the user has said before, search to find specific passages, add_memory to remember"
            " something the user wants kept."
        ),
    )

    def guarded(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except VivimError as exc:
            raise ToolError(str(exc)) from None

    def store() -> Any:
        return v.store(user)

    @server.tool()
    def search(query: str, limit: int = 10, conversation_id: str | None = None) -> dict[str, Any]:
        """Hybrid search (full text and vectors) over the user's conversations, split into units.
        Returns the best passages with their conversation, speaker and time."""

        def run() -> dict[str, Any]:
            filters = Filters(conversation_id=conversation_id)
            hits = v.search_engine().search(
                store(), query, limit=max(1, min(limit, MAX_LIMIT)), filters=filters
            )
            return {"query": query, "hits": [h.to_json() for h in hits]}

        return guarded(run)

    @server.tool()
    def get_context(
        message: str,
        budget: int | None = None,
        conversation_id: str | None = None,
        persona: str | None = None,
        format: str = "markdown",
    ) -> dict[str, Any]:
        """What to know before answering MESSAGE, within BUDGET tokens (cl100k): facts about the
        user, their instructions, the active topic, people and projects mentioned, the conversation,
        relevant passages and memories, recent history. FORMAT is text or markdown."""

        def run() -> dict[str, Any]:
            b = ContextEngine(store(), v.search_engine()).build(
                message,
                conversation_id=conversation_id,
                persona=persona,
                budget=budget,
                style=style_for(format),
            )
            return {
                "content": b.content,
                "total_tokens": b.total_tokens,
                "budget": b.budget,
                "cached": b.cached,
                "layers": {k: layer["tokens"] for k, layer in b.composition["layers"].items()},
                "sources": b.composition.get("sources", {}),
            }

        return guarded(run)

    @server.tool()
    def add_memory(
        content: str,
        memory_type: str = "CUSTOM",
        importance: int = 5,
        category: str | None = None,
        pinned: bool = False,
    ) -> dict[str, Any]:
        """Remember something about the user (a preference, a fact, a goal, a project...).
        MEMORY_TYPE is one of EPISODIC, SEMANTIC, PROCEDURAL, FACTUAL, PREFERENCE, IDENTITY,
        RELATIONSHIP, GOAL, PROJECT, CUSTOM; IMPORTANCE 0-10. Adding the same content twice keeps one."""
        from vivim.memory.memories import create_memory

        def run() -> dict[str, Any]:
            if not isinstance(importance, int) or not 0 <= importance <= 10:
                raise InvalidInput("importance is a whole number from 0 to 10")
            m = create_memory(
                store(),
                content,
                memory_type=memory_type.upper(),
                importance=importance,
                category=category,
                pinned=pinned,
                metadata={"origin": "mcp"},
                embedder=v.embedder,
            )
            keep = (
                "id",
                "content",
                "summary",
                "memory_type",
                "category",
                "importance",
                "pinned",
                "created_at",
            )
            return {**{k: m.get(k) for k in keep}, "created": not m.get("merged")}

        return guarded(run)

    @server.tool()
    def list_conversations(limit: int = 20, provider: str | None = None) -> dict[str, Any]:
        """The user's conversations, most recently captured first."""

        def run() -> dict[str, Any]:
            with store().read() as conn:
                rows = conv_store.list_conversations(
                    conn, provider=provider, limit=max(1, min(limit, MAX_LIMIT))
                )
            keep = (
                "id",
                "title",
                "provider",
                "model",
                "created_at",
                "updated_at",
                "captured_at",
                "message_count",
            )
            return {"conversations": [{k: r.get(k) for k in keep} for r in rows]}

        return guarded(run)

    @server.tool()
    def get_conversation(conversation_id: str, max_messages: int = 200) -> dict[str, Any]:
        """One conversation with its messages as plain text (id, or the provider's own id)."""

        def run() -> dict[str, Any]:
            with store().read() as conn:
                cid = conv_store.find_conversation_id(conn, conversation_id)
                if cid is None:
                    raise NotFound(f"no conversation {conversation_id!r}")
                conv = conv_store.get_conversation(conn, cid)
                messages = conv_store.get_messages(conn, cid)
            assert conv is not None
            shown = [m for m in messages if m["on_current_path"] and not m["hidden"]]
            return {
                "conversation": {
                    k: conv.get(k)
                    for k in ("id", "title", "provider", "model", "created_at", "message_count")
                },
                "messages": [
                    {
                        "index": m["message_index"],
                        "id": m["source_id"],
                        "role": m["role"],
                        "author": m["author"],
                        "created_at": m["created_at"],
                        "text": message_text(m["parts"]),
                    }
                    for m in shown[: max(1, min(max_messages, 5000))]
                ],
                "truncated": len(shown) > max_messages,
            }

        return guarded(run)

    return server


def serve_stdio(v: Vivim, user: UserRecord) -> None:
    v.store(user)  # fail before speaking the protocol if the vault cannot be opened
    build_server(v, user).run("stdio")
