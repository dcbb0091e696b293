"""Memories, facts, instructions, personas and notebooks: the store functions on a real
user DB, with the hashing embedder standing in for the model."""

from __future__ import annotations

import pytest

from tests.fakes import HashingEmbedder
from vivim.app import Vivim
from vivim.domain.errors import AlreadyExists, InvalidInput, NotFound
from vivim.memory import facts, instructions, memories, notebooks
from vivim.store.user.db import UserStore


@pytest.fixture
def store(vivim: Vivim) -> UserStore:
    return vivim.store(vivim.create_user("ana"))


def test_create_edit_pin_archive_and_delete_a_memory(store: UserStore) -> None:
    m = memories.create_memory(store, "I prefer dark roast coffee.", memory_type="preference", importance=6)
    assert m["merged"] is False and m["memory_type"] == "PREFERENCE"
    assert m["summary"] == "The user prefers dark roast coffee."
    assert m["metadata"] == {"origin": "user"}

    again = memories.create_memory(store, "i PREFER dark-roast coffee", memory_type="PREFERENCE", importance=8)
    assert again["merged"] is True and again["id"] == m["id"] and again["importance"] == 8
    assert len(memories.list_memories(store)) == 1

    edited = memories.update_memory(store, m["id"][:8], content="I prefer light roast coffee.", category="drinks")
    assert edited["content"] == "I prefer light roast coffee." and edited["category"] == "drinks"
    assert memories.update_memory(store, m["id"], pinned=True)["pinned"] is True
    memories.update_memory(store, m["id"], archived=True)
    assert memories.list_memories(store) == []
    assert [x["id"] for x in memories.list_memories(store, archived=True)] == [m["id"]]
    assert memories.count_memories(store) == {"archived": 1, "total": 1}

    shown = memories.get_memory(store, m["id"], touch=True)
    assert shown["access_count"] == 1 and shown["last_accessed_at"] is not None and shown["sources"] == []
    assert memories.delete_memory(store, m["id"]) == m["id"]
    with pytest.raises(NotFound):
        memories.get_memory(store, m["id"])


def test_bad_memory_input_is_refused_with_clear_errors(store: UserStore) -> None:
    with pytest.raises(InvalidInput, match="memory type"):
        memories.create_memory(store, "x y z", memory_type="DREAM")
    with pytest.raises(InvalidInput, match="needs some content"):
        memories.create_memory(store, "   ")
    with pytest.raises(InvalidInput, match="0 to 10"):
        memories.create_memory(store, "fine text", importance=11)
    a = memories.create_memory(store, "I like tea.")
    b = memories.create_memory(store, "I like cocoa.")
    with pytest.raises(InvalidInput, match="already says this"):
        memories.update_memory(store, b["id"], content="I like tea!")
    with pytest.raises(NotFound):
        memories.update_memory(store, "0" * 32, pinned=True)
    assert a["id"] != b["id"]


def test_search_fuses_words_and_vectors_and_skips_archived(store: UserStore) -> None:
    emb = HashingEmbedder()
    tea = memories.create_memory(store, "I prefer green tea in the morning.")
    memories.create_memory(store, "My sister lives in Porto.")
    bikes = memories.create_memory(store, "I ride a cargo bike to work.")
    assert memories.embed_missing(store, emb) == 3
    assert memories.embed_missing(store, emb) == 0

    hits = memories.search_memories(store, "green tea", embedder=emb)
    assert hits[0]["id"] == tea["id"] and hits[0]["score"] == 1.0
    lexical = memories.search_memories(store, "cargo bike")
    assert [h["id"] for h in lexical] == [bikes["id"]]
    memories.update_memory(store, bikes["id"], archived=True)
    assert memories.search_memories(store, "cargo bike") == []
    assert [h["id"] for h in memories.search_memories(store, "cargo bike", include_archived=True)] == [bikes["id"]]
    # Editing the text drops the stale vector; the next embed_missing computes a new one.
    memories.update_memory(store, tea["id"], content="I prefer black tea in the evening.")
    assert memories.embed_missing(store, emb) == 1
    with pytest.raises(InvalidInput):
        memories.search_memories(store, "  ")


def test_facts_crud_and_merge(store: UserStore) -> None:
    f = facts.add_fact(store, "Lives in Lisbon", category="location")
    assert f["merged"] is False and f["confidence"] == 1.0 and f["importance"] == 7
    assert facts.add_fact(store, "lives in lisbon!", category="location")["merged"] is True
    facts.add_fact(store, "Has two kids", category="family", pinned=True)
    assert [x["content"] for x in facts.list_facts(store)] == ["Has two kids", "Lives in Lisbon"]
    facts.update_fact(store, f["id"], archived=True)
    assert [x["content"] for x in facts.list_facts(store)] == ["Has two kids"]
    assert len(facts.list_facts(store, archived=None)) == 2
    assert facts.update_fact(store, f["id"], content="Lives in Porto")["content"] == "Lives in Porto"
    facts.delete_fact(store, f["id"])
    with pytest.raises(NotFound):
        facts.get_fact(store, f["id"])


def test_instructions_and_personas(store: UserStore) -> None:
    coder = instructions.add_persona(store, "Coder", "You are a terse senior engineer.", triggers=["Python", "bug"],
                                     default=True)
    assert coder["triggers"] == ["python", "bug"] and coder["is_default"] is True
    tutor = instructions.add_persona(store, "Tutor", "You explain step by step.", default=True)
    assert instructions.get_persona(store, "coder")["is_default"] is False
    assert [p["name"] for p in instructions.list_personas(store)] == ["Tutor", "Coder"]
    with pytest.raises(AlreadyExists):
        instructions.add_persona(store, "tutor", "again")
    assert instructions.update_persona(store, "Tutor", name="Teacher")["name"] == "Teacher"

    g = instructions.add_instruction(store, "Answer in British English.", priority=5)
    t = instructions.add_instruction(store, "Use metric units.", scope="topic", topic_tags=["Cooking", "cooking"])
    p = instructions.add_instruction(store, "Show code first.", scope="persona", persona="Coder")
    assert t["topic_tags"] == ["cooking"] and p["persona_id"] == coder["id"] and g["source"] == "user"
    assert [i["content"] for i in instructions.list_instructions(store)] == [
        "Answer in British English.", "Use metric units.", "Show code first."]
    with pytest.raises(AlreadyExists):
        instructions.add_instruction(store, "Answer in British English.")
    with pytest.raises(InvalidInput, match="topic tag"):
        instructions.add_instruction(store, "Be brief.", scope="topic")
    instructions.update_instruction(store, g["id"], active=False)
    assert [i["id"] for i in instructions.list_instructions(store, active=True)] == [t["id"], p["id"]]
    instructions.delete_persona(store, "Coder")  # its persona-scoped instruction goes with it
    assert [i["id"] for i in instructions.list_instructions(store)] == [g["id"], t["id"]]
    assert instructions.delete_instruction(store, t["id"]) == t["id"]
    assert tutor["id"] == instructions.get_persona(store, "teacher")["id"]


def test_notebooks_hold_units_memories_and_notes_in_order(store: UserStore) -> None:
    mem = memories.create_memory(store, "I keep bees.")
    nb = notebooks.create_notebook(store, "Hobbies", description="things I do")
    note = notebooks.add_entry(store, nb["id"], note="Buy a new hive")
    entry = notebooks.add_entry(store, nb["id"], memory_id=mem["id"][:8], position=0)
    assert entry["entry_type"] == "memory" and entry["text"] == "I keep bees." and entry["position"] == 0
    shown = notebooks.get_notebook(store, nb["id"])
    assert [(e["entry_type"], e["position"]) for e in shown["entries"]] == [("memory", 0), ("note", 1)]
    notebooks.update_entry(store, nb["id"], note["id"], note="Buy two hives", position=0)
    assert [e["text"] for e in notebooks.get_notebook(store, nb["id"])["entries"]] == ["Buy two hives", "I keep bees."]
    with pytest.raises(InvalidInput, match="exactly one"):
        notebooks.add_entry(store, nb["id"], note="x", memory_id=mem["id"])
    with pytest.raises(NotFound):
        notebooks.add_entry(store, nb["id"], unit_id="f" * 32)
    with pytest.raises(InvalidInput, match="only a note"):
        notebooks.update_entry(store, nb["id"], entry["id"], note="no")
    notebooks.remove_entry(store, nb["id"], note["id"])
    assert [(e["entry_type"], e["position"]) for e in notebooks.get_notebook(store, nb["id"])["entries"]] == [
        ("memory", 0)]
    # Deleting the memory removes it from the notebook too.
    memories.delete_memory(store, mem["id"])
    assert notebooks.list_notebooks(store)[0]["entry_count"] == 0
    notebooks.delete_notebook(store, nb["id"])
    assert notebooks.list_notebooks(store) == []
