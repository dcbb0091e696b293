"""Cached context bundles: served while their sources are unchanged, rebuilt as soon as
any source changes, expires or is marked dirty."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_context_support import T0, add_rows, conversations, import_and_index
from vivim.app import Vivim
from vivim.context.bundle import ContextEngine, mark_dirty
from vivim.context.settings import load_settings, save_settings, update_settings

MESSAGE = "what should I remember about sourdough starter fermentation?"


def test_a_changed_memory_invalidates_the_cached_bundle(vivim: Vivim, tmp_path: Path) -> None:
    user = vivim.create_user("cache")
    store = import_and_index(vivim, user, tmp_path, conversations(n_per_topic=2, turns=4))
    add_rows(store, facts=3, memories=6)
    engine = ContextEngine(store, vivim.search_engine())

    first = engine.build(MESSAGE, budget=1500)
    again = engine.build(MESSAGE, budget=1500)
    assert not first.cached and again.cached
    assert again.content == first.content and again.id == first.id
    assert (
        again.composition["layers"]["retrieval"]["items"] == first.composition["layers"]["retrieval"]["items"]
    )
    # mem-0 (PREFERENCE, about sourdough) is in the bundle.
    assert "Memory 0: the user likes sourdough" in first.content
    with store.read() as c:
        assert c.execute("SELECT count(*) FROM context_bundles").fetchone()[0] == 1

    with store.transaction() as c:
        c.execute(
            "UPDATE memories SET content = 'Memory 0: the user now bakes sourdough with rye flour only.',"
            " updated_at = '2024-06-01T00:00:00.000000Z' WHERE id = 'mem-0'"
        )
    changed = engine.build(MESSAGE, budget=1500)
    assert not changed.cached
    assert "rye flour only" in changed.content and "Memory 0: the user likes sourdough" not in changed.content
    assert engine.build(MESSAGE, budget=1500).cached

    # An edit that leaves updated_at alone (a hand-made change) is still seen.
    with store.transaction() as c:
        c.execute("UPDATE memories SET archived = 1 WHERE id = 'mem-0'")
    archived = engine.build(MESSAGE, budget=1500)
    assert not archived.cached and "rye flour only" not in archived.content


def test_other_sources_expiry_and_dirty_flags_invalidate_too(vivim: Vivim, tmp_path: Path) -> None:
    user = vivim.create_user("cache2")
    store = import_and_index(vivim, user, tmp_path, conversations(n_per_topic=1, turns=4))
    add_rows(store, facts=2, memories=2)
    engine = ContextEngine(store, vivim.search_engine())
    engine.build(MESSAGE, budget=800)
    assert engine.build(MESSAGE, budget=800).cached
    # A different budget, style or persona is a different bundle.
    assert not engine.build(MESSAGE, budget=801).cached
    assert not engine.build(MESSAGE, budget=800, style="markdown").cached

    with store.transaction() as c:
        c.execute(
            "INSERT INTO user_facts (id, content, content_hash, created_at, updated_at)"
            " VALUES ('new-fact', 'The user moved to Porto.', 'nf', ?, ?)",
            (T0, T0),
        )
    fresh = engine.build(MESSAGE, budget=800)
    assert not fresh.cached and "The user moved to Porto." in fresh.content
    assert engine.build(MESSAGE, budget=800).cached

    # Newly indexed units (the search generation moves on).
    import_and_index(vivim, user, tmp_path, conversations(n_per_topic=2, turns=4))
    assert not engine.build(MESSAGE, budget=800).cached
    assert engine.build(MESSAGE, budget=800).cached

    with store.transaction() as c:
        c.execute("UPDATE context_bundles SET expires_at = '2000-01-01T00:00:00.000000Z'")
    assert not engine.build(MESSAGE, budget=800).cached
    with store.transaction() as c:
        assert mark_dirty(c) >= 1
    assert not engine.build(MESSAGE, budget=800).cached

    # Saved settings change the bundle's key (and its fingerprint).
    with store.transaction() as c:
        save_settings(c, update_settings(load_settings(c), similarity_threshold=0.5))
    assert not engine.build(MESSAGE, budget=800).cached
    # Expired rows are cleared out as new ones are written.
    with store.read() as c:
        assert c.execute("SELECT count(*) FROM context_bundles WHERE expires_at < '2001'").fetchone()[0] == 0


def test_a_compaction_is_stored_and_reused(vivim: Vivim, tmp_path: Path) -> None:
    user = vivim.create_user("cache3")
    store = import_and_index(vivim, user, tmp_path, conversations(n_per_topic=1, turns=24))
    engine = ContextEngine(store, vivim.search_engine())
    with store.read() as c:
        conv = c.execute("SELECT id FROM conversations WHERE source_id = 't2-c0'").fetchone()[0]
    b = engine.build("marathon tempo", budget=600, conversation_id="t2-c0", use_cache=False)
    item = b.composition["layers"]["conversation"]["items"][0]
    assert item["source"] == "compaction"
    with store.read() as c:
        rows = c.execute(
            "SELECT id, from_message_index, to_message_index, original_tokens, compacted_tokens, compression_ratio"
            " FROM conversation_compactions WHERE conversation_id = ?",
            (conv,),
        ).fetchall()
    assert len(rows) == 1
    cid, lo, hi, original, compacted, ratio = rows[0]
    assert (cid, lo, hi) == (item["id"], item["from_message_index"], item["to_message_index"])
    verbatim = [i for i in b.composition["layers"]["conversation"]["items"] if i["source"] == "message"]
    assert lo == 0 and [i["message_index"] for i in verbatim] == list(range(hi + 1, 24))
    # The compacted stretch ends on a block boundary unless that would leave nothing verbatim.
    assert (hi + 1) % 8 == 0 or len(verbatim) < 8
    assert compacted < original and abs(ratio - compacted / original) < 1e-3
    engine.build("marathon tempo intervals", budget=600, conversation_id="t2-c0", use_cache=False)
    with store.read() as c:
        assert c.execute("SELECT count(*) FROM conversation_compactions").fetchone()[0] == 1
