"""Structural links between units, and the related / derived_from helpers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.chatgpt import PARSER as CHATGPT
from vivim.capture.normalize import normalize
from vivim.domain.conversation import ParsedConversation
from vivim.units.extract import UnitDraft, derive_unit, extract_conversation, inputs_from_rows
from vivim.units.links import (
    RELATED_THRESHOLD,
    LinkDraft,
    coverage,
    derived_from_link,
    related_links,
    structural_links,
)

CONVERSATION = {"id": "conv", "provider": "claude", "model": None, "created_at": None}


def _msg(
    index: int, role: str, parts: list[dict[str, Any]], parent: int | None = None, **extra: Any
) -> dict[str, Any]:
    m = {
        "id": f"m{index}",
        "parent_id": f"m{parent}" if parent is not None else None,
        "role": role,
        "parts": parts,
        "message_index": index,
        "created_at": None,
        "hidden": False,
        "on_current_path": True,
        "metadata": {},
    }
    m.update(extra)
    return m


def _text(s: str) -> dict[str, Any]:
    return {"type": "text", "text": s}


def _by_relation(links: list[LinkDraft], relation: str) -> list[LinkDraft]:
    return [link for link in links if link.relation == relation]


def _pairs(links: list[LinkDraft], units: list[UnitDraft]) -> set[tuple[str, str]]:
    name = {u.id: f"{u.message_index}.{u.position}" for u in units}
    return {(name[link.source_id], name[link.target_id]) for link in links}


INTRO = (
    "Write-ahead logging lets readers keep reading while one writer appends to the log, so a "
    "long import never blocks a search. Enable it when the database is opened, as below:"
)


def test_next_follows_reading_order_and_forks_at_branches() -> None:
    units = extract_conversation(
        CONVERSATION,
        [
            _msg(0, "user", [_text("How do I enable WAL mode in SQLite?")]),
            _msg(1, "assistant", [_text("First try.")], parent=0, on_current_path=False),
            _msg(
                2, "assistant", [_text(INTRO), {"type": "code", "code": "PRAGMA journal_mode=WAL;"}], parent=0
            ),
            _msg(3, "assistant", [], parent=2),  # empty: skipped over
            _msg(4, "user", [_text("thanks")], parent=3),
        ],
        parser_version=None,
    )
    links = structural_links(units)
    # The short introduction moved into the code unit, so message 2 is one unit.
    assert [u.type for u in units] == ["question", "answer", "code_snippet", "statement"]
    assert _pairs(_by_relation(links, "next"), units) == {
        ("0.0", "1.0"),
        ("0.0", "2.0"),  # the branch point has one next per branch
        ("2.0", "4.0"),
    }
    assert all(link.weight == 1.0 for link in _by_relation(links, "next"))
    across = [link for link in _by_relation(links, "next") if link.metadata.get("across_messages")]
    assert len(across) == 3


def test_answered_by_links_each_reply_and_is_weighted_by_coverage() -> None:
    units = extract_conversation(
        CONVERSATION,
        [
            _msg(0, "user", [_text("How do I enable WAL mode in SQLite?")]),
            _msg(1, "assistant", [{"type": "thinking", "text": "Recall the pragma."}], parent=0),
            _msg(
                2,
                "assistant",
                [_text("Run PRAGMA journal_mode=WAL once; SQLite keeps WAL mode enabled.")],
                parent=1,
            ),
            _msg(3, "assistant", [_text("Canberra.")], parent=0, on_current_path=False),
        ],
        parser_version=None,
    )
    answered = _by_relation(structural_links(units), "answered_by")
    assert _pairs(answered, units) == {("0.0", "2.0"), ("0.0", "3.0")}
    weights = {link.target_id: link.weight for link in answered}
    # question content words: enable, wal, mode, sqlite; the first answer has wal, mode, sqlite, enabled
    assert coverage(units[0].content, units[2].content) == 1.0
    assert weights[units[2].id] == 1.0
    assert weights[units[3].id] == 0.25  # a reply that repeats none of the words still answers


def test_coverage_counts_the_questions_content_words() -> None:
    assert coverage(
        "Why does the build fail on Windows?", "The build fails because of paths."
    ) == pytest.approx(2 / 3)
    assert coverage("why?", "Because.") == 0.0


def test_explains_links_a_paragraph_to_the_code_it_announces() -> None:
    units = extract_conversation(
        CONVERSATION,
        [
            _msg(
                0,
                "assistant",
                [
                    _text(INTRO + " " + INTRO),
                    {"type": "code", "code": "PRAGMA journal_mode=WAL;", "language": "sql"},
                ],
            )
        ],
        parser_version=None,
    )
    assert [u.type for u in units] == ["statement", "code_snippet"]
    explains = _by_relation(structural_links(units), "explains")
    assert [(link.source_id, link.target_id, link.weight) for link in explains] == [
        (units[0].id, units[1].id, 1.0)
    ]


def test_the_chatgpt_fixture_links() -> None:
    source = Source.from_path(shared_fixture("exports/chatgpt/polylogue__native-conversation-v1.json"))
    conv = next(i for i in CHATGPT.parse(source) if isinstance(i, ParsedConversation))
    conversation, messages = inputs_from_rows(normalize(conv, with_tokens=False))
    units = extract_conversation(conversation, messages, parser_version=None)
    links = structural_links(units)
    assert _pairs(_by_relation(links, "next"), units) == {
        ("0.0", "1.0"),
        ("1.0", "1.1"),
        ("1.1", "1.2"),
        ("1.2", "2.0"),  # the superseded answer's branch
        ("1.2", "3.0"),  # the current branch: thinking, tool call, tool result, thinking, answer
        ("3.0", "4.0"),
        ("4.0", "5.0"),
        ("5.0", "6.0"),
        ("6.0", "7.0"),
        ("7.0", "7.1"),
    }
    answered = _by_relation(links, "answered_by")
    assert _pairs(answered, units) == {("1.0", "2.0"), ("1.0", "7.0")}
    # "Analyze the attached fixture and create an artifact." -> analyze, attach, fixture,
    # create, artifact; "Final answer. [Download artifact](sandbox:/mnt/data/fixture-result.zip)"
    # holds fixture and artifact: 2 of 5.
    final = next(link for link in answered if link.target_id == units[9].id)
    assert final.metadata == {"coverage": 0.4}
    assert final.weight == pytest.approx(0.25 + 0.75 * 0.4)
    assert _by_relation(links, "explains") == []


def test_related_keeps_close_neighbours_from_other_conversations_once() -> None:
    neighbours = [
        ("b", "conv-2", 0.83),
        ("c", "conv-1", 0.95),  # same conversation: structure already links it
        ("d", "conv-3", RELATED_THRESHOLD - 0.01),
        ("a", "conv-1", 1.0),  # itself
        ("b", "conv-2", 0.83),  # repeated
        ("0", "conv-4", 0.7),
    ]
    links = related_links("a", "conv-1", neighbours, model="all-MiniLM-L6-v2")
    assert [(link.source_id, link.target_id, link.weight) for link in links] == [
        ("a", "b", 0.83),
        ("0", "a", 0.7),
    ]
    assert all(link.relation == "related" for link in links)
    assert links[0].metadata == {"method": "embedding", "model": "all-MiniLM-L6-v2"}
    # Found from the other side, the same pair gives the same link.
    other = related_links("b", "conv-2", [("a", "conv-1", 0.83)])
    assert (other[0].source_id, other[0].target_id) == ("a", "b")


def test_derived_from_is_weighted_by_how_much_of_the_original_survives() -> None:
    original = extract_conversation(
        CONVERSATION, [_msg(0, "assistant", [_text(INTRO)])], parser_version=None
    )[0]
    copy = derive_unit(original, original.content)
    verbatim = derived_from_link(copy, original.id, original.content)
    assert (verbatim.source_id, verbatim.target_id, verbatim.relation, verbatim.weight) == (
        copy.id,
        original.id,
        "derived_from",
        1.0,
    )
    remix = derive_unit(original, original.content.replace("as below", "with one pragma"))
    partial = derived_from_link(remix, original.id, original.content)
    assert 0.5 < partial.weight < 1.0
    assert derived_from_link(remix, original.id).weight == 1.0  # original text not at hand
