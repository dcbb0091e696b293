"""Splitting messages into units: real fixture conversations and small inline messages."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.chatgpt import PARSER as CHATGPT
from vivim.capture.claude import PARSER as CLAUDE
from vivim.capture.normalize import normalize
from vivim.domain.canonical import content_hash
from vivim.domain.conversation import ParsedConversation
from vivim.domain.ids import derived_id
from vivim.units.classify import category, code_language, is_question, natural_language, words_of
from vivim.units.extract import (
    EXTRACTOR_VERSION,
    MAX_CHARS,
    UNIT_TYPES,
    UnitDraft,
    derive_unit,
    extract_conversation,
    inputs_from_rows,
)


# --- helpers ------------------------------------------------------------------------------
def _fixture_units(relative: str, title: str) -> list[UnitDraft]:
    parser = CHATGPT if relative.startswith("chatgpt/") else CLAUDE
    source = Source.from_path(shared_fixture(f"exports/{relative}"))
    for item in parser.parse(source):
        if isinstance(item, ParsedConversation) and item.title == title:
            conversation, messages = inputs_from_rows(normalize(item, with_tokens=False))
            return extract_conversation(conversation, messages, parser_version="test-parser")
    raise AssertionError(f"no conversation titled {title!r} in {relative}")


def _at(units: list[UnitDraft], index: int) -> list[UnitDraft]:
    return [u for u in units if u.message_index == index]


CONVERSATION = {
    "id": "c" * 32,
    "provider": "chatgpt",
    "source_id": "conv-1",
    "title": "inline",
    "model": "gpt-4o",
    "created_at": "2025-01-01T00:00:00.000000Z",
}


def _msg(
    index: int, role: str, parts: list[dict[str, Any]], parent: int | None = None, **extra: Any
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "id": f"{index:032x}",
        "conversation_id": CONVERSATION["id"],
        "source_id": f"s{index}",
        "parent_id": f"{parent:032x}" if parent is not None else None,
        "role": role,
        "author": None,
        "parts": parts,
        "content_hash": "x",
        "version": 1,
        "created_at": f"2025-01-01T10:00:{index:02d}.000000Z",
        "message_index": index,
        "status": "completed",
        "finish_reason": None,
        "token_count": 0,
        "model": None,
        "hidden": False,
        "on_current_path": True,
        "metadata": {},
    }
    m.update(extra)
    return m


def _text(s: str) -> dict[str, Any]:
    return {"type": "text", "text": s}


def _extract(*messages: dict[str, Any]) -> list[UnitDraft]:
    return extract_conversation(CONVERSATION, list(messages), parser_version="p1")


PARAGRAPH_A = (
    "Write-ahead logging lets readers keep reading while one writer appends to the log, "
    "so a long import never blocks a search that runs at the same time."
)
PARAGRAPH_B = (
    "Checkpoints copy the log back into the database file; keeping transactions short "
    "lets them run often, which keeps the log file small and reads fast."
)
PARAGRAPH_C = (
    "The log and the shared-memory index sit beside the database while connections are "
    "open, and they are removed again when the last connection closes cleanly."
)


# --- real fixtures ---------------------------------------------------------------------------
def test_the_chatgpt_fixture_with_thinking_tools_images_and_a_branch_becomes_eleven_units() -> None:
    units = _fixture_units(
        "chatgpt/polylogue__native-conversation-v1.json", "Privacy-safe ChatGPT native fixture"
    )
    assert [(u.message_index, u.position, u.role, u.type) for u in units] == [
        (0, 0, "system", "statement"),
        (1, 0, "user", "question"),
        (1, 1, "user", "image_reference"),
        (1, 2, "user", "attachment"),
        (2, 0, "assistant", "answer"),
        (3, 0, "assistant", "thought"),
        (4, 0, "assistant", "tool_use"),
        (5, 0, "tool", "tool_use"),
        (6, 0, "assistant", "thought"),
        (7, 0, "assistant", "answer"),
        (7, 1, "assistant", "image_reference"),
    ]
    system, question, image, attachment, superseded, thought, call, result, _, final, out_image = units
    # The hidden system message holds the user's custom instructions: kept, as instructions.
    assert system.category == "instruction"
    assert system.content == "Privacy-safe fixture profile.\n\nPreserve structured provider evidence."
    assert system.metadata["hidden"] is True
    assert question.content == "Analyze the attached fixture and create an artifact."
    assert image.content == "file-service://fixture-input-image"
    assert image.metadata["label_only"] is True and image.metadata["width"] == 8
    assert attachment.content == "input.txt" and attachment.tags == ["txt"]
    # The regenerated answer lives on another branch: still a unit, marked off the path.
    assert superseded.content == "Superseded answer."
    assert superseded.metadata["on_current_path"] is False
    assert all(u.metadata["on_current_path"] for u in units if u is not superseded)
    assert thought.content == "Privacy-safe reasoning trace."
    assert call.content == 'browser.search({"query":"fixture evidence"})'
    assert call.metadata["tool"] == "browser.search" and call.metadata["tool_kind"] == "call"
    assert call.category == "technical" and call.language is None
    assert result.content == "Privacy-safe tool result." and result.metadata["tool_kind"] == "result"
    assert final.content == "Final answer. [Download artifact](sandbox:/mnt/data/fixture-result.zip)"
    assert out_image.content == "file-service://fixture-output-image"
    # Replies know the question they answer, and which reply branch they are on.
    assert superseded.metadata["reply_to"] == question.message_id
    assert final.metadata["reply_to"] == question.message_id
    assert superseded.metadata["reply_branch"] != final.metadata["reply_branch"]


def test_every_fixture_unit_carries_its_lineage_and_versions() -> None:
    units = _fixture_units(
        "chatgpt/polylogue__native-conversation-v1.json", "Privacy-safe ChatGPT native fixture"
    )
    conversation_ids = {u.conversation_id for u in units}
    assert len(conversation_ids) == 1
    for u in units:
        assert u.type in UNIT_TYPES
        assert u.provider == "chatgpt"
        assert u.extractor_version == EXTRACTOR_VERSION
        assert u.parser_version == "test-parser"
        assert u.parent_id is None
        assert u.content_hash == content_hash(u.content)
        assert u.id == derived_id("unit", u.message_id or "", str(u.position), u.content_hash)
        assert u.source_timestamp is not None and u.source_timestamp.endswith("Z")
    assert units[-2].model is not None  # assistant units carry the model


def test_claude_artifact_turn_keeps_code_with_the_sentence_that_introduces_it() -> None:
    units = _fixture_units("claude/simonw-claude-to-sqlite__artifacts.json", "LLM Pricing Calculator")
    assert len(units) == 84
    turn = _at(units, 19)
    assert [(u.type, u.language) for u in turn] == [
        ("statement", "en"),
        ("thought", "en"),
        ("code_snippet", "html"),
        ("code_snippet", "html"),
        ("code_snippet", "css"),
        ("code_snippet", "javascript"),
        ("code_snippet", "javascript"),
        ("statement", "en"),
        ("statement", "en"),
        ("statement", "en"),
    ]
    # The artifact is longer than one code unit: two chunks, both keeping the artifact's name.
    assert turn[2].metadata["chunk"] == [0, 2] and turn[3].metadata["chunk"] == [1, 2]
    assert turn[2].metadata["artifact"]["identifier"] == "llm-pricing-calculator"
    assert turn[2].content.startswith("```html\n<!DOCTYPE html>")
    # A short paragraph ending in ':' moves into the code block it announces.
    css = turn[4]
    assert css.content.startswith(
        "I've made the following changes to the LLM Pricing Calculator:\n\n"
        "1. Added the `box-sizing: border-box;` rule to all elements:\n\n```css\n* {"
    )
    assert css.content.endswith("```")
    assert css.metadata["part_types"] == ["text", "code"]
    assert turn[6].content.startswith(
        "- Modified the `calculateCost` function to use `trimZeros`:\n\n```javascript\n"
    )


def test_a_long_paragraph_that_announces_code_keeps_its_unit_and_lends_its_last_sentence() -> None:
    units = _fixture_units("claude/simonw-claude-to-sqlite__artifacts.json", "LLM Pricing Calculator")
    turn = _at(units, 17)
    assert len(turn) == 9
    intro, code = turn[4], turn[5]
    assert intro.type == "statement" and intro.content.startswith(
        "I've made the following changes to implement"
    )
    assert code.type == "code_snippet" and code.language == "css"
    assert code.content.startswith(
        "Implemented a media query that activates the flex layout when the screen width is at least 768px"
    )
    assert code.metadata["intro_position"] == 4


def test_claude_branches_attachments_and_a_thank_you() -> None:
    units = _fixture_units("claude/chatlore__conversations.json", "Rust lifetimes")
    assert [(u.message_index, u.type) for u in units] == [
        (0, "question"),
        (0, "attachment"),
        (0, "attachment"),
        (1, "thought"),
        (1, "answer"),
        (2, "answer"),
        (2, "tool_use"),
        (2, "tool_use"),
        (3, "statement"),
    ]
    assert units[1].content == "fn main() { let r; { let x = 5; r = &x; } }"  # the attachment's text
    assert units[1].metadata["name"] == "main.rs" and "label_only" not in units[1].metadata
    assert units[2].content == "screenshot.png" and units[2].metadata["label_only"] is True
    assert [u.metadata["on_current_path"] for u in units[3:5]] == [False, False]
    assert units[6].content == 'repl({"code":"cargo check"})'
    assert units[8].content == "That worked, thanks."
    assert units[8].category == "conversational"


def test_short_chit_chat_turns_each_become_a_unit() -> None:
    units = _fixture_units("chatgpt/librechat__chatgpt-tree.json", "Assist user with summary")
    # 12 messages: the empty hidden system root yields nothing, every other turn one unit.
    assert len(units) == 11
    assert sorted({u.message_index for u in units}) == list(range(1, 12))
    by_index = {u.message_index: u for u in units}
    for index, text in ((1, "hi there"), (3, "so cool bro"), (7, "hi again")):
        assert by_index[index].content == text
        assert (by_index[index].type, by_index[index].category) == ("statement", "conversational")
    assert (by_index[9].content, by_index[9].type) == ("tell me a joke", "question")
    assert by_index[10].type == by_index[11].type == "answer"
    assert sorted(u.message_index for u in units if not u.metadata["on_current_path"]) == [3, 4, 5, 6, 10]


def test_hidden_system_messages_yield_units_only_for_user_instructions() -> None:
    units = _fixture_units("chatgpt/openwebui-importer__gpt_example.json", "How photosynthesis works")
    assert len(units) == 12
    assert 0 not in {u.message_index for u in units}  # the empty hidden root
    instruction = _at(units, 1)
    assert len(instruction) == 1
    assert instruction[0].category == "instruction" and instruction[0].role == "system"
    assert instruction[0].content.startswith(
        "The user provided the additional info about how they would like you to respond:"
    )
    assert [u.type for u in _at(units, 2)] == ["question"]
    assert [u.type for u in _at(units, 11)] == ["answer", "answer"]


def test_extracting_the_same_fixture_twice_gives_the_same_ids() -> None:
    first = _fixture_units("claude/simonw-claude-to-sqlite__artifacts.json", "LLM Pricing Calculator")
    second = _fixture_units("claude/simonw-claude-to-sqlite__artifacts.json", "LLM Pricing Calculator")
    assert [u.id for u in first] == [u.id for u in second]
    assert len({u.id for u in first}) == len(first)


# --- splitting rules on inline messages ------------------------------------------------------
def test_paragraphs_become_units_and_a_heading_goes_with_its_first_paragraph() -> None:
    text = f"## Why WAL\n\n{PARAGRAPH_A}\n\n{PARAGRAPH_B}\n\n### Files\n\n{PARAGRAPH_C}"
    units = _extract(_msg(0, "assistant", [_text(text)]))
    assert [u.content for u in units] == [
        f"## Why WAL\n\n{PARAGRAPH_A}",
        PARAGRAPH_B,
        f"### Files\n\n{PARAGRAPH_C}",
    ]
    assert [u.metadata.get("headings") for u in units] == [["Why WAL"], ["Why WAL"], ["Why WAL", "Files"]]
    assert [u.position for u in units] == [0, 1, 2]


def test_a_tiny_fragment_is_merged_with_its_neighbour() -> None:
    units = _extract(_msg(0, "assistant", [_text(f"{PARAGRAPH_A}\n\nIn short: yes.\n\n{PARAGRAPH_B}")]))
    assert [u.content for u in units] == [f"{PARAGRAPH_A}\n\nIn short: yes.", PARAGRAPH_B]
    units = _extract(_msg(0, "assistant", [_text(f"Short answer first.\n\n{PARAGRAPH_A}\n\n{PARAGRAPH_B}")]))
    assert [u.content for u in units] == [f"Short answer first.\n\n{PARAGRAPH_A}", PARAGRAPH_B]


def test_a_list_stays_with_the_sentence_that_introduces_it() -> None:
    items = [
        "1. Set the journal mode to WAL once, when the file is created.",
        "2. Checkpoint after every import batch, not after every row.",
        "3. Give every connection a busy timeout of five seconds.",
    ]
    text = f"{PARAGRAPH_A}\n\nI changed three things:\n\n" + "\n\n".join(items) + f"\n\n{PARAGRAPH_B}"
    units = _extract(_msg(0, "assistant", [_text(text)]))
    assert [u.content for u in units] == [
        PARAGRAPH_A,
        "I changed three things:\n\n" + "\n\n".join(items),
        PARAGRAPH_B,
    ]


def test_a_very_long_paragraph_is_cut_at_sentence_boundaries() -> None:
    sentences = [
        f"Sentence {i} says one more true thing about write-ahead logging in SQLite." for i in range(60)
    ]
    text = " ".join(sentences)
    units = _extract(_msg(0, "assistant", [_text(text)]))
    assert len(units) == 4  # 4,554 characters, cut into pieces of at most 1,200
    assert all(len(u.content) <= MAX_CHARS for u in units)
    assert " ".join(u.content for u in units) == text
    assert all(u.content.endswith(".") for u in units)
    assert [u.metadata["chunk"] for u in units] == [[0, 4], [1, 4], [2, 4], [3, 4]]


def test_code_with_a_short_introduction_is_one_unit_and_a_long_one_links_by_explains() -> None:
    units = _extract(
        _msg(
            0,
            "assistant",
            [
                _text("Enable it like this:"),
                {"type": "code", "code": "PRAGMA journal_mode=WAL;", "language": "sql"},
                _text(f"{PARAGRAPH_A} {PARAGRAPH_B} Then open the database as follows:"),
                {"type": "code", "code": "import sqlite3\nconn = sqlite3.connect('app.db')"},
                {"type": "code", "code": "print('no introduction')", "language": "py"},
            ],
        )
    )
    assert [(u.type, u.language) for u in units] == [
        ("code_snippet", "sql"),
        ("statement", "en"),
        ("code_snippet", "python"),
        ("code_snippet", "python"),
    ]
    assert units[0].content == "Enable it like this:\n\n```sql\nPRAGMA journal_mode=WAL;\n```"
    assert units[0].tags == ["sql"]
    assert units[1].content == f"{PARAGRAPH_A} {PARAGRAPH_B} Then open the database as follows:"
    assert units[2].content == (
        "Then open the database as follows:\n\n```python\nimport sqlite3\nconn = sqlite3.connect('app.db')\n```"
    )
    assert units[2].metadata["intro_position"] == 1
    assert units[3].content == "```python\nprint('no introduction')\n```"
    assert "intro_position" not in units[3].metadata and "lead_chars" not in units[3].metadata


def test_tables_formulas_and_diagrams_are_their_own_types() -> None:
    rows = [[f"mode{i}", "yes" if i % 2 else "no", str(i)] for i in range(150)]
    units = _extract(
        _msg(
            0,
            "assistant",
            [
                {"type": "table", "headers": ["mode", "blocks", "n"], "rows": rows},
                {"type": "latex", "latex": "E = mc^2", "display": True},
                {"type": "mermaid", "mermaid": "graph LR\n  A --> B"},
            ],
        )
    )
    tables = [u for u in units if u.type == "table"]
    # 150 rows of about 22 characters: row groups of at most 1,200 characters, each with
    # the header, so every piece reads as a table on its own.
    assert [len(t.content.split("\n")) - 2 for t in tables] == [55, 53, 42]
    assert all(len(t.content) <= 1200 for t in tables)
    assert all(t.content.startswith("| mode | blocks | n |\n|---|---|---|\n") for t in tables)
    assert tables[1].content.split("\n")[2] == "| mode55 | yes | 55 |"
    formula, diagram = units[-2:]
    assert (formula.type, formula.language, formula.content) == ("formula", "latex", "$$\nE = mc^2\n$$")
    assert (diagram.type, diagram.language) == ("diagram", "mermaid")
    assert diagram.content == "```mermaid\ngraph LR\n  A --> B\n```"
    assert formula.category == diagram.category == "technical"


def test_images_attachments_citations_and_unknown_parts() -> None:
    extracted = " ".join([PARAGRAPH_A, PARAGRAPH_B, PARAGRAPH_C] * 4)  # one 1,847-character paragraph
    units = _extract(
        _msg(
            0,
            "user",
            [
                {"type": "image", "ref": "file-1", "alt": "A diagram of the WAL file next to the database"},
                {"type": "image", "mime_type": "image/png", "size_bytes": 8},
                {"type": "attachment", "name": "notes.md", "extracted_text": extracted},
                {"type": "attachment"},
                _text(PARAGRAPH_A),
                {"type": "citation", "url": "https://sqlite.org/wal.html", "title": "Write-Ahead Logging"},
                {
                    "type": "unknown",
                    "original_type": "widget",
                    "payload": {"type": "widget", "label": "A new widget"},
                },
            ],
        )
    )
    assert [u.type for u in units] == [
        "image_reference",
        "image_reference",
        "attachment",
        "attachment",
        "statement",
        "unknown",
    ]
    assert units[0].content == "A diagram of the WAL file next to the database"
    assert "label_only" not in units[0].metadata
    assert units[1].content == "image (image/png, 8 bytes)" and units[1].metadata["label_only"] is True
    # The attachment's text is cut at sentence boundaries; the nameless, textless one is dropped.
    assert [u.metadata["chunk"] for u in units[2:4]] == [[0, 2], [1, 2]]
    assert " ".join(u.content for u in units[2:4]) == extracted
    assert all(u.metadata["name"] == "notes.md" and u.tags == ["md"] for u in units[2:4])
    assert units[4].metadata["citations"] == [
        {"url": "https://sqlite.org/wal.html", "title": "Write-Ahead Logging"}
    ]
    assert units[5].content == "A new widget" and units[5].metadata["original_type"] == "widget"


def test_thinking_becomes_thought_units_and_tool_calls_tool_use() -> None:
    units = _extract(
        _msg(0, "user", [_text("What is 6 times 7?")]),
        _msg(
            1,
            "assistant",
            [
                {"type": "thinking", "text": "Multiply the two numbers.", "summary": "Arithmetic"},
                {"type": "tool_call", "name": "python", "arguments": {"code": "6*7"}, "id": "call-1"},
            ],
            parent=0,
        ),
        _msg(2, "tool", [{"type": "tool_result", "content": "42", "call_id": "call-1"}], parent=1),
        _msg(3, "assistant", [_text("It is 42.")], parent=2),
    )
    assert [(u.type, u.role) for u in units] == [
        ("question", "user"),
        ("thought", "assistant"),
        ("tool_use", "assistant"),
        ("tool_use", "tool"),
        ("answer", "assistant"),
    ]
    assert units[1].metadata["summary"] == "Arithmetic"
    assert units[2].content == 'python({"code":"6*7"})' and units[2].metadata["call_id"] == "call-1"
    assert units[3].content == "42" and units[3].metadata["call_id"] == "call-1"
    # Every reply unit points at the question's message, through the tool round trip.
    assert {u.metadata["reply_to"] for u in units[1:]} == {units[0].message_id}
    assert units[2].model == "gpt-4o"  # the conversation's model when the message has none


def test_short_turns_are_kept_and_empty_messages_are_not() -> None:
    units = _extract(
        _msg(0, "user", [_text("ok")]),
        _msg(1, "assistant", [_text("   \n\n ")], parent=0),
        _msg(2, "user", [_text("thanks!")], parent=1),
        _msg(3, "assistant", [], parent=2),
        _msg(4, "system", [_text("internal plumbing")], parent=3, hidden=True),
    )
    assert [(u.content, u.type, u.category) for u in units] == [
        ("ok", "statement", "conversational"),
        ("thanks!", "statement", "conversational"),
    ]
    # The second turn follows the first: the empty message in between is skipped over.
    assert units[1].metadata["follows"] == units[0].message_id


def test_a_visible_system_prompt_is_an_instruction() -> None:
    units = _extract(_msg(0, "system", [_text("You are a terse assistant. Answer in one sentence.")]))
    assert [(u.type, u.category) for u in units] == [("statement", "instruction")]


def test_malformed_parts_do_not_stop_extraction() -> None:
    units = _extract(
        _msg(
            0,
            "assistant",
            [
                "not a dict",  # type: ignore[list-item]
                {"type": "text", "text": None},
                {"type": "code", "code": None},
                {"type": "table", "headers": None, "rows": None},
                {"type": "tool_call"},
                {"type": "mystery"},
                _text("Still here."),
            ],
        )
    )
    assert [u.content for u in units] == ["Still here."]


# --- ids -----------------------------------------------------------------------------------
def test_changing_one_paragraph_changes_only_that_units_id() -> None:
    before = _extract(_msg(0, "assistant", [_text(f"{PARAGRAPH_A}\n\n{PARAGRAPH_B}\n\n{PARAGRAPH_C}")]))
    again = _extract(_msg(0, "assistant", [_text(f"{PARAGRAPH_A}\n\n{PARAGRAPH_B}\n\n{PARAGRAPH_C}")]))
    edited = PARAGRAPH_B.replace("short", "brief")
    after = _extract(_msg(0, "assistant", [_text(f"{PARAGRAPH_A}\n\n{edited}\n\n{PARAGRAPH_C}")]))
    assert [u.id for u in before] == [u.id for u in again]
    assert len(before) == len(after) == 3
    assert before[0].id == after[0].id
    assert before[1].id != after[1].id
    assert before[2].id == after[2].id


def test_a_derived_unit_points_at_its_original() -> None:
    original = _extract(_msg(0, "assistant", [_text(PARAGRAPH_A)]))[0]
    remix = derive_unit(original, PARAGRAPH_A + " That is why vivim uses it.", metadata={"by": "me"})
    assert remix.parent_id == original.id
    assert remix.id != original.id
    assert remix.id == derive_unit(original, PARAGRAPH_A + " That is why vivim uses it.").id
    assert remix.conversation_id == original.conversation_id
    assert remix.metadata == {"derived": True, "by": "me"}


# --- classification ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I roll back the deploy?", True),
        ("tell me a joke", True),
        ("Please explain the difference between WAL and rollback journals", True),
        ("Wie spät ist es in Tokio", True),
        ("这是什么", True),
        ("I prefer one file.", False),
        ("That worked, thanks.", False),
    ],
)
def test_questions_are_recognised(text: str, expected: bool) -> None:
    assert is_question(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The database keeps a log of every change and the readers never wait.", "en"),
        ("Wie spät ist es in Tokio? Es ist 17 Uhr und die Sonne scheint nicht.", "de"),
        ("Je pense que la base de données est très rapide pour les lectures.", "fr"),
        ("El registro de escritura es muy rápido para las lecturas y no bloquea.", "es"),
        ("これは作り話です。", "ja"),
        ("嗯，用户想要了解如何让这个项目达到顶级生产力水平。", "zh"),
        ("Privacy-safe fixture profile.", None),
    ],
)
def test_natural_language_detection(text: str, expected: str | None) -> None:
    assert natural_language(text) == expected


@pytest.mark.parametrize(
    ("text", "unit_type", "expected"),
    [
        ("ok thanks", "statement", "conversational"),
        ("Hey! Welcome back. What's on your mind?", "statement", "conversational"),
        ("Run `helm rollback staging` and check the deployment logs for errors.", "answer", "technical"),
        ("print(1)", "code_snippet", "technical"),
        (
            "Here is the roadmap: phase one sets goals, phase two the milestones and deadlines.",
            "answer",
            "planning",
        ),
        ("Write me a poem and a short story about a dragon.", "question", "creative"),
        ("I went hiking with my wife and kids last weekend and felt so happy.", "statement", "personal"),
        ("Canberra is the capital of Australia.", "answer", "factual"),
    ],
)
def test_categories(text: str, unit_type: str, expected: str) -> None:
    assert category(text, unit_type, words_of(text)) == expected


@pytest.mark.parametrize(
    ("declared", "code", "expected"),
    [
        ("py", "x = 1", "python"),
        ("text/html", "<p>hi</p>", "html"),
        (None, "def main():\n    return 1", "python"),
        (None, "SELECT id FROM units WHERE type = 'answer'", "sql"),
        (None, '{\n  "a": 1\n}', "json"),
        (None, "const x = () => 1;", "javascript"),
        (None, "$ npm install vivim", "bash"),
        (None, "Install-Module Pester -Scope CurrentUser", "powershell"),
        (None, "just some words", None),
    ],
)
def test_code_languages(declared: str | None, code: str, expected: str | None) -> None:
    assert code_language(declared, code) == expected


def test_random_part_shapes_never_crash_and_always_give_clean_units() -> None:
    rng = random.Random(11)
    values: list[Any] = [None, "", " ", "x", "Some words here.", 3, 2.5, True, [], {}, ["a", 1], {"k": "v"}]
    part_types = ["text", "code", "image", "table", "latex", "mermaid", "tool_call", "tool_result"]
    part_types += ["thinking", "citation", "attachment", "unknown", "bogus", None]
    keys = ["text", "code", "language", "ref", "alt", "headers", "rows", "latex", "mermaid", "name"]
    keys += ["arguments", "content", "summary", "url", "title", "extracted_text", "payload", "display"]
    messages = []
    for i in range(300):
        parts: list[Any] = []
        for _ in range(rng.randint(0, 4)):
            part = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 5))}
            part["type"] = rng.choice(part_types)
            parts.append(part if rng.random() > 0.05 else rng.choice(values))
        role = rng.choice(["user", "assistant", "tool", "system", "robot"])
        messages.append(_msg(i, role, parts, parent=rng.choice([None, i - 1, i + 5]) if i else None))
    units = _extract(*messages)
    assert units
    for u in units:
        assert u.content.strip() and u.type in UNIT_TYPES
        json.dumps(u.metadata)
        json.dumps(u.tags)
