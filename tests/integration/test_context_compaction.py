"""Compaction of a long real conversation (a Claude export with 20 messages, 14 code
blocks, about 18,000 tokens: an LLM pricing calculator built over ten revisions), and
the conversation layer using it."""

from __future__ import annotations

from pathlib import Path

from tests.shared import shared_fixture
from vivim.app import Vivim
from vivim.capture.importer import Importer
from vivim.capture.tokens import count_tokens
from vivim.context import sources
from vivim.context.bundle import ContextEngine
from vivim.context.compaction import compact, compaction_for
from vivim.search.engine import SearchEngine

SOURCE_ID = "91098bc8-f2c4-427b-b71b-1e25efa2e871"


def _turns(vivim: Vivim) -> tuple[object, str, list[sources.Turn]]:
    path = shared_fixture("exports/claude/simonw-claude-to-sqlite__artifacts.json")
    user = vivim.create_user("claude")
    store = vivim.store(user)
    Importer(store=store, master=vivim.master, user_id=user.id).import_paths([Path(path)])
    with store.read() as conn:
        cid = conn.execute("SELECT id FROM conversations WHERE source_id = ?", (SOURCE_ID,)).fetchone()[0]
        return store, cid, sources.conversation_turns(conn, cid)


def test_a_long_fixture_conversation_compacts_ten_to_one(vivim: Vivim) -> None:
    _store, cid, turns = _turns(vivim)
    assert len(turns) == 20
    c = compact(cid, turns)
    assert c.original_tokens == sum(count_tokens(t.text) for t in turns)
    assert c.original_tokens > 15_000
    assert c.compression_ratio <= 0.12 and c.compacted_tokens <= 0.12 * c.original_tokens
    # Every code block, each revision of the artifact, is listed once with its language.
    langs = [(a["message_index"], a["language"]) for a in c.code_artifacts]
    assert langs == [
        (1, "html"),
        (3, "html"),
        (5, "html"),
        (7, "html"),
        (9, "html"),
        (11, "html"),
        (13, "html"),
        (15, "html"),
        (17, "html"),
        (17, "css"),
        (19, "html"),
        (19, "css"),
        (19, "javascript"),
        (19, "javascript"),
    ]
    assert all("calculateCost" in a["defines"] for a in c.code_artifacts if a["language"] == "html")
    assert "trimZeros" in c.code_artifacts[12]["defines"]
    # The user's requirements are the decisions; the assistant's "I'll ..." are not.
    assert 'user: Use the "change" event not the input event' in c.key_decisions
    assert any(d.startswith("user: Add a disclaimer at the bottom") for d in c.key_decisions)
    assert (
        "user: On wider screens the presets area should sit to the right of the calcualtor" in c.key_decisions
    )
    assert not any(d.startswith("assistant: I'll") for d in c.key_decisions)
    # The summary opens with the request that started it all.
    assert c.summary[0] == (
        "user: Built me an artifact with no react that is a pricing calculator for large language models"
    )
    assert sum(1 for line in c.summary if line.startswith("user: ")) >= 5
    assert c.open_questions == []


def test_the_conversation_layer_compacts_it_within_budget(vivim: Vivim) -> None:
    store, cid, turns = _turns(vivim)
    engine = ContextEngine(store, SearchEngine(None))  # type: ignore[arg-type]
    b = engine.build("Make the presets area collapsible", budget=3000, conversation_id=cid, use_cache=False)
    conv = b.composition["layers"]["conversation"]
    assert conv["tokens"] <= 0.40 * 3000 and b.total_tokens <= 3000
    first = conv["items"][0]
    assert first["source"] == "compaction" and first["from_message_index"] == 0
    verbatim = [i["message_index"] for i in conv["items"][1:]]
    assert verbatim == list(range(first["to_message_index"] + 1, verbatim[-1] + 1)) and verbatim[-1] <= 19
    assert "Earlier in this conversation (messages 0-" in b.content
    with store.read() as conn:  # type: ignore[attr-defined]
        stored = compaction_for(conn, cid, turns[: first["to_message_index"] + 1], write=False)
    assert stored.cached and stored.id == first["id"]
