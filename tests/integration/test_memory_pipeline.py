"""Memory extraction, profiles and landed custom instructions on imported conversations
(real importer, real indexer, real user DBs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.shared import shared_fixture
from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer
from vivim.memory import facts, instructions, memories, profiles
from vivim.memory.pipeline import extract_memories, pending_conversations

DATA = Path(__file__).resolve().parent.parent / "data" / "memory"


def _import(vivim: Vivim, user: UserRecord, path: Path) -> None:
    summary = Importer(store=vivim.store(user), master=vivim.master, user_id=user.id).import_paths([path])
    assert summary.ok


@pytest.fixture
def priya(vivim: Vivim) -> UserRecord:
    user = vivim.create_user("priya")
    _import(vivim, user, DATA / "planted.json")
    vivim.indexer(user, embed=False).run(embed=False)
    return user


def _by_content(vivim: Vivim, user: UserRecord) -> dict[str, dict[str, Any]]:
    store = vivim.store(user)
    return {m["content"]: memories.get_memory(store, m["id"]) for m in memories.list_memories(store, limit=500)}


def _message_ids(vivim: Vivim, user: UserRecord) -> dict[str, str]:
    """provider message id -> vivim message id"""
    with vivim.store(user).read() as conn:
        return dict(conn.execute("SELECT source_id, id FROM messages").fetchall())


def test_extraction_finds_the_planted_statements_and_nothing_else(vivim: Vivim, priya: UserRecord) -> None:
    store = vivim.store(priya)
    assert pending_conversations(store) == 2
    report = extract_memories(store)
    assert report.to_json() | {"seconds": 0} == {
        "conversations": 2, "messages": 8, "memories_added": 7, "memories_merged": 3, "facts_added": 3,
        "embedded": 0, "seconds": 0, "errors": [],
    }
    found = _by_content(vivim, priya)
    assert {c: (m["memory_type"], m["importance"]) for c, m in found.items()} == {
        "My name is Priya and I live in Lisbon.": ("IDENTITY", 9),
        "I work as a data engineer at a fintech startup.": ("IDENTITY", 9),
        "I prefer tea over coffee.": ("PREFERENCE", 7),
        "My favourite language is Python.": ("PREFERENCE", 6),
        "I'm training for a half marathon in October.": ("GOAL", 7),  # 6, +1 for the repeat
        "I am building a budgeting app called Pennywise.": ("PROJECT", 7),
        "My dog Biscuit loves the beach.": ("RELATIONSHIP", 7),
    }
    # Nothing from questions, hypotheticals, quotes, code, requests or the assistant.
    everything = " ".join(found)
    for absent in ("Scala", "Berlin", "pirate", "cats", "Paris", "quoted", "quit", "haiku", "Rome", "cloud"):
        assert absent not in everything
    assert [f["content"] for f in facts.list_facts(store)] == [
        "The user's name is Priya and the user lives in Lisbon.",
        "The user works as a data engineer at a fintech startup.",
        "The user's dog Biscuit loves the beach.",
    ]
    assert {f["confidence"] for f in facts.list_facts(store)} == {0.8}


def test_every_memory_traces_to_its_messages_and_units(vivim: Vivim, priya: UserRecord) -> None:
    extract_memories(vivim.store(priya))
    found = _by_content(vivim, priya)
    ids = _message_ids(vivim, priya)
    sources = {c: [s["message_source_id"] for s in m["sources"]] for c, m in found.items()}
    assert sources == {
        "My name is Priya and I live in Lisbon.": ["p1-m0"],
        "I work as a data engineer at a fintech startup.": ["p1-m0", "p2-m0"],
        "I prefer tea over coffee.": ["p1-m6", "p2-m0"],
        "My favourite language is Python.": ["p1-m6"],
        "I'm training for a half marathon in October.": ["p1-m6", "p2-m2"],
        "I am building a budgeting app called Pennywise.": ["p1-m10"],
        "My dog Biscuit loves the beach.": ["p2-m2"],
    }
    near = found["I work as a data engineer at a fintech startup."]
    assert near["metadata"]["mentions"] == 2
    assert [s["excerpt"] for s in near["sources"]] == [
        "I work as a data engineer at a fintech startup.", "I work as a data engineer at a small fintech startup."]
    with vivim.store(priya).read() as conn:
        for content, m in found.items():
            assert m["source_message_id"] == ids[sources[content][0]]
            assert m["source_conversation_id"] == m["sources"][0]["conversation_id"]
            unit = conn.execute(
                "SELECT message_id, content FROM atomic_chat_units WHERE id = ?", (m["source_unit_id"],)
            ).fetchone()
            assert unit[0] == m["source_message_id"] and content.rstrip(".") in unit[1]


def test_extraction_is_incremental_and_respects_deletions(vivim: Vivim, priya: UserRecord, tmp_path: Path) -> None:
    store = vivim.store(priya)
    extract_memories(store)
    assert extract_memories(store).conversations == 0
    # The second conversation grows by one message: only it is read again, and the
    # messages already counted are not counted twice.
    doc = json.loads((DATA / "planted.json").read_text())
    doc["conversations"][1]["messages"].append(
        {"id": "p2-m3", "parent_id": "p2-m2", "role": "user", "created_at": "2026-03-08T09:02:00Z",
         "text": "I speak Portuguese and English."}
    )
    grown = tmp_path / "grown.json"
    grown.write_text(json.dumps(doc))
    _import(vivim, priya, grown)
    assert pending_conversations(store) == 1
    report = extract_memories(store)
    assert (report.conversations, report.messages, report.memories_added, report.memories_merged) == (1, 3, 1, 0)
    assert _by_content(vivim, priya)["I speak Portuguese and English."]["memory_type"] == "IDENTITY"
    assert _by_content(vivim, priya)["I prefer tea over coffee."]["metadata"]["mentions"] == 2
    # A memory the user deleted is not extracted again, even on a full rescan.
    memories.delete_memory(store, _by_content(vivim, priya)["My dog Biscuit loves the beach."]["id"])
    again = extract_memories(store, rescan=True)
    assert (again.memories_added, again.memories_merged) == (0, 0)
    assert "My dog Biscuit loves the beach." not in _by_content(vivim, priya)


def test_extracted_memories_get_vectors_when_an_embedder_is_given(vivim: Vivim, priya: UserRecord) -> None:
    from tests.fakes import HashingEmbedder

    store = vivim.store(priya)
    report = extract_memories(store, embedder=HashingEmbedder())
    assert report.embedded == 7
    hits = memories.search_memories(store, "dog on the beach", embedder=HashingEmbedder())
    assert hits[0]["content"] == "My dog Biscuit loves the beach."


# --- profiles -----------------------------------------------------------------------------------------
@pytest.fixture
def baker(vivim: Vivim) -> UserRecord:
    user = vivim.create_user("baker")
    _import(vivim, user, DATA / "profiles.json")
    vivim.indexer(user, embed=False).run(embed=False)
    return user


def test_profiles_from_a_small_vault(vivim: Vivim, baker: UserRecord) -> None:
    store = vivim.store(baker)
    assert profiles.profiles_dirty(store)
    report = profiles.rebuild_profiles(store)
    assert report.to_json() == {"topics": 2, "entities": 5, "links": 4, "conversations": 4}
    assert not profiles.profiles_dirty(store)
    topics = {t["slug"]: t for t in profiles.list_topics(store)}
    assert list(topics) == ["asyncio", "sourdough"]
    a, s = topics["asyncio"], topics["sourdough"]
    assert (a["label"], a["keyphrases"], a["conversation_count"], a["message_count"], a["unit_count"]) == (
        "Asyncio", ["asyncio"], 2, 4, 4)
    assert (a["first_engaged_at"], a["last_engaged_at"], a["importance"]) == (
        "2026-02-01T08:00:00.000000Z", "2026-02-15T08:00:10.000000Z", 1.0)
    assert (s["conversation_count"], s["message_count"], s["importance"]) == (2, 3, 0.725)
    assert (s["first_engaged_at"], s["last_engaged_at"]) == ("2026-01-10T08:00:00.000000Z", "2026-01-20T08:00:10.000000Z")
    # Relevance: the term's score over the conversation's best term. In "Sourdough proofing
    # times" that is the phrase "sourdough proofing" (tf 3 x idf 1.92 x 1.5 = 6.03) against
    # "sourdough" (tf 5, idf 1.51: 3.94), so 0.6535.
    assert [(c["title"], c["relevance"]) for c in profiles.get_topic(store, "sourdough")["conversations"]] == [
        ("Sourdough proofing times", 0.6535), ("Sourdough starter smells odd", 0.5748)]
    with store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM topic_conversations").fetchone()[0] == 4

    entities = {e["name"]: e for e in profiles.list_entities(store)}
    assert {n: (e["entity_type"], e["mention_count"], e["conversation_count"]) for n, e in entities.items()} == {
        "Python": ("tool", 3, 2),
        "Tomas": ("person", 2, 2),
        "Ledgerly": ("project", 2, 1),
        "Docker": ("tool", 1, 1),
        "PostgreSQL": ("tool", 2, 1),
    }
    assert entities["PostgreSQL"]["aliases"] == ["Postgres"]
    assert "my friend Tomas" in entities["Tomas"]["description"]
    assert profiles.get_entity(store, "tomas")["id"] == entities["Tomas"]["id"]


def test_new_conversations_mark_the_profiles_they_touch_dirty(vivim: Vivim, baker: UserRecord, tmp_path: Path) -> None:
    store = vivim.store(baker)
    extract_memories(store)
    profiles.rebuild_profiles(store)
    more = tmp_path / "more.json"
    more.write_text(json.dumps({"format": "vivim.conversations/v1", "conversations": [{
        "id": "bread-3", "title": "Sourdough crumb", "provider": "chatgpt", "created_at": "2026-03-01T08:00:00Z",
        "messages": [
            {"id": "b3-m0", "role": "user", "created_at": "2026-03-01T08:00:00Z",
             "text": "Why is my sourdough crumb so dense? Tomas thinks the sourdough was underproofed."},
        ]}]}))
    _import(vivim, baker, more)
    assert profiles.profiles_dirty(store)  # a conversation arrived since the last build
    extract_memories(store)
    dirty = {t["slug"]: t["is_dirty"] for t in profiles.list_topics(store)}
    assert dirty == {"asyncio": False, "sourdough": True}
    assert {e["name"]: e["is_dirty"] for e in profiles.list_entities(store)}["Tomas"] is True
    assert {e["name"]: e["is_dirty"] for e in profiles.list_entities(store)}["Docker"] is False
    assert profiles.ensure_profiles(store) is not None
    assert profiles.ensure_profiles(store) is None
    sourdough = profiles.get_topic(store, "sourdough")
    assert (sourdough["conversation_count"], sourdough["is_dirty"]) == (3, False)


# --- custom instructions from exports ------------------------------------------------------------------
def _chatgpt_export() -> list[dict[str, Any]]:
    def node(nid: str, parent: str | None, children: list[str], message: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": nid, "parent": parent, "children": children, "message": message}

    context = {
        "id": "ctx", "author": {"role": "user"}, "create_time": 1767225600,
        "content": {"content_type": "user_editable_context",
                    "user_profile": "I live in Oslo and I love skiing.",
                    "user_instructions": "Reply in Norwegian when I write in Norwegian."},
        "metadata": {"is_visually_hidden_from_conversation": True},
    }
    ask = {"id": "q", "author": {"role": "user"}, "create_time": 1767225660,
           "content": {"content_type": "text", "parts": ["I am learning Norwegian. Any tips for verbs?"]}}
    reply = {"id": "a", "author": {"role": "assistant"}, "create_time": 1767225670,
             "content": {"content_type": "text", "parts": ["Start with the present tense."]}}
    return [{
        "id": "conv-oslo", "title": "Learning Norwegian", "create_time": 1767225600, "update_time": 1767225670,
        "current_node": "n3",
        "mapping": {
            "root": node("root", None, ["n1"], None),
            "n1": node("n1", "root", ["n2"], context),
            "n2": node("n2", "n1", ["n3"], ask),
            "n3": node("n3", "n2", [], reply),
        },
    }]


def test_chatgpt_custom_instructions_land_in_custom_instructions(vivim: Vivim, tmp_path: Path) -> None:
    user = vivim.create_user("oslo")
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(_chatgpt_export()))
    _import(vivim, user, export)
    store = vivim.store(user)
    landed = {i["content"]: i for i in instructions.list_instructions(store)}
    assert set(landed) == {"I live in Oslo and I love skiing.", "Reply in Norwegian when I write in Norwegian."}
    assert {i["source"] for i in landed.values()} == {"chatgpt_export"}
    assert {i["scope"] for i in landed.values()} == {"global"}
    # A vault whose rows were lost (or imported before instructions were kept) gets them
    # back from the stored conversation, once.
    with store.transaction() as conn:
        conn.execute("DELETE FROM custom_instructions")
    assert instructions.land_export_instructions(store) == 2
    assert instructions.land_export_instructions(store) == 0
    assert {i["content"] for i in instructions.list_instructions(store)} == set(landed)
    # The "about me" text is an instruction, not something the user said in a chat.
    vivim.indexer(user, embed=False).run(embed=False)
    extract_memories(store)
    assert [m["content"] for m in memories.list_memories(store)] == ["I am learning Norwegian."]


def test_custom_instructions_of_the_shared_chatgpt_export(vivim: Vivim, tmp_path: Path) -> None:
    source = shared_fixture("exports/chatgpt/librechat__chatgpt-modern-export.json")
    copy = tmp_path / "export.json"
    shutil.copyfile(source, copy)
    user = vivim.create_user("sre")
    Importer(store=vivim.store(user), master=vivim.master, user_id=user.id).import_paths([copy])
    store = vivim.store(user)
    assert sorted(i["content"] for i in instructions.list_instructions(store)) == [
        "Answer concisely.", "The user is an SRE."]
    with store.transaction() as conn:
        conn.execute("DELETE FROM custom_instructions")
    assert instructions.land_export_instructions(store) == 2
    rows = instructions.list_instructions(store)
    with store.read() as conn:
        title = conn.execute("SELECT title FROM conversations WHERE id = ?", (rows[0]["source_conversation_id"],)).fetchone()
    assert title == ("Deploying the staging cluster",)
