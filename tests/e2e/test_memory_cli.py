"""`vivim memory|facts|profiles|instructions|personas|notebooks`, run as a user would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.cli import Result, vivim

DATA = Path(__file__).resolve().parent.parent / "data" / "memory"


Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*args: str) -> Result:
        return vivim(capsys, "--user", "ana", *args)

    assert vivim(capsys, "user", "create", "ana").code == 0
    return call


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def test_index_extracts_memories_and_the_memory_commands_manage_them(run: Run) -> None:
    ok(run("import", str(DATA / "planted.json"), "--no-index", "--json"))
    indexed = ok(run("index", "--no-embed", "--json")).json()
    assert indexed["memories"]["memories_added"] == 7 and indexed["memories"]["memories_merged"] == 3
    assert ok(run("memory", "extract", "--no-embed", "--json")).json()["conversations"] == 0

    listed = ok(run("memory", "list", "--json")).json()
    assert len(listed) == 7 and listed[0]["content"] == "My name is Priya and I live in Lisbon."
    assert [m["content"] for m in ok(run("memory", "list", "--type", "PROJECT", "--json")).json()] == [
        "I am building a budgeting app called Pennywise."]

    added = ok(run("memory", "add", "I collect vinyl records.", "--type", "preference", "--json")).json()
    mid = added["id"]
    assert added["merged"] is False and added["summary"] == "The user collects vinyl records."
    assert ok(run("memory", "add", "i collect vinyl records", "--json")).json()["merged"] is True
    shown = ok(run("memory", "show", mid[:8], "--json")).json()
    assert shown["access_count"] == 1 and shown["sources"] == []
    assert ok(run("memory", "edit", mid, "--importance", "9", "--category", "music", "--json")).json()[
        "importance"] == 9
    ok(run("memory", "pin", mid))
    assert [m["id"] for m in ok(run("memory", "list", "--pinned", "--json")).json()] == [mid]
    ok(run("memory", "unpin", mid))
    ok(run("memory", "archive", mid))
    assert mid not in {m["id"] for m in ok(run("memory", "list", "--json")).json()}
    assert [m["id"] for m in ok(run("memory", "list", "--archived", "--json")).json()] == [mid]
    ok(run("memory", "unarchive", mid))
    hits = ok(run("memory", "search", "vinyl records", "--no-vectors", "--json")).json()["hits"]
    assert hits[0]["id"] == mid
    ok(run("memory", "delete", mid))
    gone = run("memory", "show", mid)
    assert gone.code == 1 and "no memory" in gone.err
    bad = run("memory", "add", "x y z", "--type", "DREAM")
    assert bad.code == 1 and "is not a memory type" in bad.err

    provenance = ok(run("memory", "show", listed[0]["id"])).out
    assert "Getting set up" in provenance and "p1-m0" in provenance


def test_facts_commands(run: Run) -> None:
    fid = ok(run("facts", "add", "Lives in Lisbon", "--category", "location", "--json")).json()["id"]
    ok(run("facts", "add", "Has a dog called Biscuit", "--category", "family", "--pin"))
    assert [f["content"] for f in ok(run("facts", "list", "--json")).json()] == [
        "Has a dog called Biscuit", "Lives in Lisbon"]
    assert ok(run("facts", "edit", fid, "--content", "Lives in Porto", "--json")).json()["content"] == "Lives in Porto"
    ok(run("facts", "edit", fid, "--archive"))
    assert len(ok(run("facts", "list", "--json")).json()) == 1
    assert len(ok(run("facts", "list", "--all", "--json")).json()) == 2
    assert ok(run("facts", "show", fid, "--json")).json()["archived"] is True
    ok(run("facts", "delete", fid))
    assert run("facts", "show", fid).code == 1


def test_profiles_commands(run: Run) -> None:
    ok(run("import", str(DATA / "profiles.json"), "--no-index"))
    topics = ok(run("profiles", "topics", "--json")).json()
    assert topics["rebuilt"] == {"topics": 2, "entities": 5, "links": 4, "conversations": 4}
    assert [t["slug"] for t in topics["topics"]] == ["asyncio", "sourdough"]
    again = ok(run("profiles", "topics", "--json")).json()
    assert again["rebuilt"] is None  # nothing changed since
    assert ok(run("profiles", "topics", "--rebuild", "--json")).json()["rebuilt"]["topics"] == 2
    people = ok(run("profiles", "entities", "--type", "person", "--json")).json()["entities"]
    assert [(e["name"], e["mention_count"]) for e in people] == [("Tomas", 2)]
    topic = ok(run("profiles", "topic", "asyncio", "--json")).json()
    assert sorted(c["title"] for c in topic["conversations"]) == ["Asyncio loop blocks", "Timeouts for asyncio tasks"]
    assert "Sourdough" in ok(run("profiles", "topics")).out
    assert run("profiles", "topic", "knitting").code == 1


def test_instruction_and_persona_commands(run: Run) -> None:
    ok(run("personas", "add", "Coder", "--prompt", "You are a terse engineer.", "--trigger", "python",
           "--trigger", "bug", "--default"))
    persona = ok(run("personas", "show", "coder", "--json")).json()
    assert persona["triggers"] == ["python", "bug"] and persona["is_default"] is True
    dup = run("personas", "add", "coder", "--prompt", "again")
    assert dup.code == 1 and "already exists" in dup.err
    iid = ok(run("instructions", "add", "Answer in British English.", "--priority", "3", "--json")).json()["id"]
    ok(run("instructions", "add", "Show code first.", "--scope", "persona", "--persona", "Coder"))
    ok(run("instructions", "add", "Use grams.", "--scope", "topic", "--tag", "baking"))
    listed = ok(run("instructions", "list", "--json")).json()
    assert [(i["content"], i["scope"]) for i in listed] == [
        ("Answer in British English.", "global"), ("Show code first.", "persona"), ("Use grams.", "topic")]
    ok(run("instructions", "edit", iid, "--inactive"))
    assert len(ok(run("instructions", "list", "--active", "--json")).json()) == 2
    assert ok(run("instructions", "show", iid, "--json")).json()["is_active"] is False
    assert ok(run("instructions", "import", "--json")).json() == {"added": 0}
    ok(run("personas", "edit", "Coder", "--name", "Engineer", "--not-default"))
    assert [p["name"] for p in ok(run("personas", "list", "--json")).json()] == ["Engineer"]
    ok(run("personas", "delete", "Engineer"))
    assert len(ok(run("instructions", "list", "--json")).json()) == 2
    ok(run("instructions", "delete", iid))
    assert [i["content"] for i in ok(run("instructions", "list", "--json")).json()] == ["Use grams."]


def test_notebook_commands(run: Run) -> None:
    ok(run("import", str(DATA / "planted.json"), "--no-index"))
    ok(run("index", "--no-embed"))
    unit = ok(run("units", "list", "--json")).json()[0]["id"]
    memory = ok(run("memory", "list", "--json")).json()[0]["id"]
    nb = ok(run("notebooks", "create", "Me", "--description", "about me", "--json")).json()["id"]
    ok(run("notebooks", "add", nb, "--unit", unit))
    ok(run("notebooks", "add", nb, "--memory", memory))
    note = ok(run("notebooks", "add", nb, "--note", "Ask about the marathon", "--json")).json()["id"]
    ok(run("notebooks", "move", nb, note, "0"))
    ok(run("notebooks", "note", nb, note, "Ask about the half marathon"))
    shown = ok(run("notebooks", "show", nb, "--json")).json()
    assert [(e["entry_type"], e["position"]) for e in shown["entries"]] == [("note", 0), ("unit", 1), ("memory", 2)]
    assert shown["entries"][0]["text"] == "Ask about the half marathon"
    assert ok(run("notebooks", "list", "--json")).json()[0]["entry_count"] == 3
    ok(run("notebooks", "remove", nb, shown["entries"][1]["id"]))
    ok(run("notebooks", "edit", nb, "--title", "All about me", "--pin"))
    listed = ok(run("notebooks", "list", "--json")).json()
    assert (listed[0]["title"], listed[0]["pinned"], listed[0]["entry_count"]) == ("All about me", True, 2)
    both = run("notebooks", "add", nb, "--unit", unit, "--note", "x")
    assert both.code == 1 and "exactly one" in both.err
    ok(run("notebooks", "delete", nb))
    assert ok(run("notebooks", "list", "--json")).json() == []
