"""The MCP server over a real stdio session: `python -m vivim.cli.main mcp` spawned as a
subprocess and driven with the official `mcp` client library."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.e2e.test_api_support import conversation, generic_export
from vivim.app import open_vivim
from vivim.capture.importer import Importer

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _vault(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "vault"
    v = open_vivim(data)
    v.init()
    user = v.create_user("ada")
    export = tmp_path / "export.json"
    export.write_bytes(
        generic_export(
            [
                conversation(
                    "c-garden",
                    "Tomato garden",
                    "2024-03-02T10:00:00Z",
                    [
                        "My tomato seedlings are leggy, what should I change?",
                        "Give the tomato seedlings more light: twelve hours under a grow lamp keeps them compact.",
                    ],
                ),
                conversation(
                    "c-rust",
                    "Rust lifetimes",
                    "2024-04-10T09:00:00Z",
                    [
                        "Why does the borrow checker reject my iterator?",
                        "The iterator borrows the vector mutably while you push to it; collect first.",
                    ],
                ),
            ]
        )
    )
    Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([export])
    v.indexer(user, embed=False).run(embed=False)
    v.close()
    return data, user.id


async def _session_calls(data: Path, user_id: str) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vivim.cli.main", "--data-dir", str(data), "--user", "ada", "mcp"],
        cwd=str(REPO),
        env={"VIVIM_DATA_DIR": str(data)},
    )
    results: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        results["tools"] = sorted(t.name for t in tools.tools)
        for name, args in (
            ("list_conversations", {}),
            ("search", {"query": "tomato seedlings grow lamp", "limit": 3}),
            (
                "add_memory",
                {"content": "Ada grows tomatoes on her balcony.", "memory_type": "FACTUAL", "importance": 7},
            ),
            ("add_memory", {"content": "Ada grows tomatoes on her balcony.", "memory_type": "FACTUAL"}),
            ("get_context", {"message": "How do I keep my tomato seedlings compact?", "budget": 300}),
            ("get_conversation", {"conversation_id": "c-rust"}),
            ("get_conversation", {"conversation_id": "no-such-conversation"}),
            ("add_memory", {"content": "x", "memory_type": "NOT_A_TYPE"}),
        ):
            r = await session.call_tool(name, args)
            key = name if name not in results else f"{name}#2"
            if key in results:
                key = f"{name}#3"
            results[key] = r
    return results


def test_mcp_tools_over_a_real_stdio_session(tmp_path: Path) -> None:
    data, user_id = _vault(tmp_path)
    r = anyio.run(_session_calls, data, user_id)
    assert {"search", "get_context", "add_memory", "list_conversations", "get_conversation"} <= set(
        r["tools"]
    )

    listed = r["list_conversations"].structured_content["conversations"]
    assert sorted(c["title"] for c in listed) == ["Rust lifetimes", "Tomato garden"]

    hits = r["search"].structured_content["hits"]
    assert hits and hits[0]["conversation_title"] == "Tomato garden"
    assert "grow lamp" in " ".join(h["text"] for h in hits)

    first, again = r["add_memory"].structured_content, r["add_memory#2"].structured_content
    assert first["created"] is True and again["created"] is False and again["id"] == first["id"]

    ctx = r["get_context"].structured_content
    assert ctx["total_tokens"] <= 300 and ctx["budget"] == 300
    assert "twelve hours under a grow lamp" in ctx["content"]
    # The memory added a moment ago (relevant: tomatoes) is part of the context.
    assert "Ada grows tomatoes on her balcony." in ctx["content"]
    assert ctx["content"].rstrip().endswith("How do I keep my tomato seedlings compact?")

    conv = r["get_conversation"].structured_content
    assert conv["conversation"]["title"] == "Rust lifetimes"
    assert [m["text"] for m in conv["messages"]][0] == "Why does the borrow checker reject my iterator?"
    assert len(conv["messages"]) == 2

    missing = r["get_conversation#2"]
    assert missing.is_error and "no conversation 'no-such-conversation'" in missing.content[0].text
    bad = r["add_memory#3"]
    assert bad.is_error and "'NOT_A_TYPE' is not a memory type" in bad.content[0].text

    # The memory really is in the user's own file, once.
    v = open_vivim(data)
    path = v.router.path_for(user_id)
    v.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT content, memory_type, importance, metadata FROM memories").fetchall()
    assert [(c, t, i, json.loads(meta)["origin"]) for c, t, i, meta in rows] == [
        ("Ada grows tomatoes on her balcony.", "FACTUAL", 7, "mcp")
    ]
