"""The Claude export parser, on the shared real exports and on small inline inputs."""

from __future__ import annotations

import json
from typing import Any

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.chatgpt import PARSER as CHATGPT
from vivim.capture.claude import PARSER, text_parts
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.times import parse_time


def _parse_fixture(name: str) -> list[ParsedConversation | RecordError]:
    source = Source.from_path(shared_fixture(f"exports/claude/{name}"))
    assert PARSER.sniff(source.head(), "no-hint-in-this-name")
    assert not CHATGPT.sniff(source.head(), "conversations.json")
    return list(PARSER.parse(source))


def _parse_bytes(data: bytes, name: str = "inline.json") -> list[ParsedConversation | RecordError]:
    return list(PARSER.parse(Source.from_bytes(name, data)))


def _only(items: list[ParsedConversation | RecordError]) -> ParsedConversation:
    assert len(items) == 1 and isinstance(items[0], ParsedConversation), items
    return items[0]


def _by_id(conv: ParsedConversation) -> dict[str, ParsedMessage]:
    return {m.source_id: m for m in conv.messages}


# --- the shared real exports -------------------------------------------------------------


def test_chatlore_export_keeps_the_retry_branch_and_reports_the_broken_record() -> None:
    items = _parse_fixture("chatlore__conversations.json")
    assert [type(i).__name__ for i in items] == [
        "ParsedConversation",
        "ParsedConversation",
        "RecordError",
    ]
    rust, old, broken = items
    assert isinstance(rust, ParsedConversation) and isinstance(old, ParsedConversation)
    assert isinstance(broken, RecordError)
    assert broken.source.endswith("chatlore__conversations.json")
    assert "2" in broken.record and "Broken record" in broken.record
    assert "chat_messages" in broken.message

    assert rust.source_id == "aaaaaaaa-1111-4222-8333-000000000001"
    assert rust.source_url == "https://claude.ai/chat/aaaaaaaa-1111-4222-8333-000000000001"
    assert rust.title == "Rust lifetimes"
    assert rust.provider == "claude"
    assert rust.created_at == parse_time("2026-02-01T09:00:00Z")
    assert rust.updated_at == parse_time("2026-02-01T09:10:00Z")
    assert rust.metadata["summary"] == "Explaining a borrow checker error."
    assert [(m.source_id, m.role, m.parent_source_id, m.on_current_path) for m in rust.messages] == [
        ("m1", "user", None, True),
        ("m2", "assistant", "m1", False),
        ("m3", "assistant", "m1", True),
        ("m4", "user", "m3", True),
    ]
    msgs = _by_id(rust)
    assert msgs["m1"].parts == [
        {"type": "text", "text": "Why does this not compile?"},
        {
            "type": "attachment",
            "name": "main.rs",
            "extracted_text": "fn main() { let r; { let x = 5; r = &x; } }",
            "mime_type": "text/x-rust",
            "size_bytes": 42,
        },
        {"type": "attachment", "name": "screenshot.png"},
    ]
    assert msgs["m2"].parts == [
        {"type": "thinking", "text": "internal reasoning that must not be imported"},
        {"type": "text", "text": "x does not live long enough."},
    ]
    assert msgs["m3"].parts == [
        {"type": "text", "text": "Retried answer: move x out of the inner scope."},
        {"type": "tool_call", "name": "repl", "arguments": {"code": "cargo check"}},
        {"type": "tool_result", "content": "Finished dev profile", "is_error": False},
    ]

    assert old.title == "Old style export"
    assert [(m.source_id, m.role, m.parent_source_id) for m in old.messages] == [
        ("o1", "user", None),
        ("o2", "assistant", "o1"),
        ("o3", "assistant", "o2"),
    ]
    assert all(m.on_current_path for m in old.messages)
    assert old.messages[1].parts == [{"type": "text", "text": "Biscuit."}]
    # A blank answer is still a message (it happened), with nothing to show.
    assert old.messages[2].parts == []


def test_thinking_block_keeps_its_summaries() -> None:
    conv = _only(_parse_fixture("openwebui-importer__claude_thinking_example.json"))
    assert conv.source_id == "11111111-2222-3333-4444-555555555555"
    assert conv.title == "Thinking Demo"
    assert len(conv.messages) == 2
    user, answer = conv.messages
    assert user.parts == [{"type": "text", "text": "Can you greet me?"}]
    assert answer.parent_source_id == user.source_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert answer.parts[0]["type"] == "thinking"
    assert answer.parts[0]["text"].startswith("The user asked for a greeting.")
    assert answer.parts[0]["summary"] == "Planning a warm greeting"
    assert answer.parts[1] == {"type": "text", "text": "Hello there! It's great to hear from you."}


def test_panchat_export_keeps_the_unknown_citation_block() -> None:
    conv = _only(_parse_fixture("panchat__claude_conversations.json"))
    assert (conv.source_id, conv.title) == ("c-1", "Vault design")
    assert conv.source_url == "https://claude.ai/chat/c-1"
    assert conv.metadata["project"] == {"uuid": "p-1", "name": "ModelCaddy"}
    assert [(m.source_id, m.role, m.parent_source_id) for m in conv.messages] == [
        ("m-1", "user", None),
        ("m-2", "assistant", "m-1"),
    ]
    assert conv.messages[0].parts[1] == {
        "type": "attachment",
        "name": "spec.md",
        "mime_type": "text/markdown",
        "size_bytes": 2048,
        "ref": "a-1",
    }
    assert conv.messages[1].parts == [
        {"type": "text", "text": "Yes, with digests kept in the vault."},
        {"type": "tool_call", "name": "search", "arguments": {"q": "vault"}},
        {
            "type": "unknown",
            "original_type": "citation_block",
            "payload": {"type": "citation_block", "citation": "something new we do not model"},
        },
    ]


def test_artifacts_export_orders_messages_by_time_and_extracts_artifacts() -> None:
    conv = _only(_parse_fixture("simonw-claude-to-sqlite__artifacts.json"))
    assert conv.source_id == "91098bc8-f2c4-427b-b71b-1e25efa2e871"
    assert conv.title == "LLM Pricing Calculator"
    assert len(conv.messages) == 20
    assert all(m.on_current_path for m in conv.messages)
    assert [m.role for m in conv.messages] == ["user", "assistant"] * 10
    # The export lists the screenshot prompt first; by time it is the fourth prompt.
    assert conv.messages[0].source_id == "287b1868-17d4-4660-9089-b3eb4ddecb1b"
    screenshots = conv.messages[6]
    assert screenshots.source_id == "083850f6-fca7-40c3-916a-e57f7ae5f0fe"
    assert screenshots.parent_source_id == "5fd78d7e-e9fa-4a99-998c-bcfd31374670"
    assert [p["name"] for p in screenshots.parts if p["type"] == "attachment"] == [
        "CleanShot 20241016 at 20.34.122x.png",
        "CleanShot 20241016 at 20.34.332x.png",
        "CleanShot 20241016 at 20.34.532x.png",
        "CleanShot 20241016 at 20.35.232x.png",
        "CleanShot 20241016 at 20.37.012x.png",
    ]
    for before, after in zip(conv.messages, conv.messages[1:], strict=False):
        assert after.parent_source_id == before.source_id

    artifacts = [p for m in conv.messages for p in m.parts if p.get("identifier")]
    assert len(artifacts) == 10
    assert {(p["type"], p["language"], p["identifier"]) for p in artifacts} == {
        ("code", "html", "llm-pricing-calculator")
    }
    assert artifacts[0]["title"] == "LLM Pricing Calculator"
    assert artifacts[-1]["title"] == "LLM Pricing Calculator with Responsive Layout and Refined Output"
    assert artifacts[0]["code"].startswith('<!DOCTYPE html>\n<html lang="en">')
    assert artifacts[0]["code"].endswith("</html>")

    first_answer = conv.messages[1]
    assert [p["type"] for p in first_answer.parts] == ["text", "thinking", "code", "text"]
    assert first_answer.parts[0]["text"].startswith(" Certainly! I'll create an HTML artifact")
    assert first_answer.parts[1]["text"].startswith("This request is suitable for an artifact")
    assert "<ant" not in json.dumps([p for m in conv.messages for p in m.parts if p["type"] == "text"])
    thinking = [p for m in conv.messages for p in m.parts if p["type"] == "thinking"]
    assert len(thinking) == 10

    # Fenced code in the prose after the artifact is split out with its language.
    last = conv.messages[-1]
    assert [(p["type"], p.get("language")) for p in last.parts if p["type"] == "code"] == [
        ("code", "html"),
        ("code", "css"),
        ("code", "javascript"),
        ("code", "javascript"),
    ]


def test_minimal_export_reads_text_only_messages_and_files() -> None:
    conv = _only(_parse_fixture("simonw-claude-to-sqlite__example.json"))
    assert conv.source_id == "1db4c66e-b369-4e3a-96a9-6c16f8301ee8"
    assert conv.title == "Bash Command for OpenAI API"
    assert [(m.role, m.parent_source_id) for m in conv.messages] == [
        ("user", None),
        ("assistant", "22b34c9c-69c1-46ad-87da-71570a70f107"),
    ]
    assert conv.messages[0].parts == [
        {"type": "text", "text": "Turn this into a bash command"},
        {"type": "attachment", "name": "CleanShot 20241017 at 22.29.542x.png"},
    ]
    assert conv.messages[1].parts[0]["text"].startswith(" To turn this into a bash command")
    assert conv.messages[0].created_at == parse_time("2024-10-18T05:30:20.458713Z")


# --- small inline inputs -----------------------------------------------------------------


def _msg(uuid: str, sender: str, text: str, created: str, **extra: Any) -> dict[str, Any]:
    return {"uuid": uuid, "sender": sender, "text": text, "created_at": created, **extra}


def _conv(uuid: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"uuid": uuid, "name": f"Chat {uuid}", "chat_messages": messages, **extra}


def _simple(uuid: str) -> dict[str, Any]:
    return _conv(
        uuid,
        [
            _msg(f"{uuid}-1", "human", "Hi", "2025-01-01T00:00:00Z"),
            _msg(f"{uuid}-2", "assistant", "Hello", "2025-01-01T00:00:01Z"),
        ],
    )


def test_truncated_json_yields_the_complete_records_then_one_error() -> None:
    whole = json.dumps([_simple("a"), _simple("b"), _simple("c")]).encode()
    cut = whole[: whole.index(b'"c-2"')]
    items = _parse_bytes(cut, "data.zip!conversations.json")
    assert [type(i).__name__ for i in items] == [
        "ParsedConversation",
        "ParsedConversation",
        "RecordError",
    ]
    assert [i.source_id for i in items[:2] if isinstance(i, ParsedConversation)] == ["a", "b"]
    error = items[2]
    assert isinstance(error, RecordError)
    assert error.source == "data.zip!conversations.json"
    assert error.record == "record 2"
    assert "data.zip!conversations.json" in error.message


def test_current_leaf_selects_the_branch() -> None:
    messages = [
        _msg(
            "q",
            "human",
            "Pick one",
            "2025-01-01T00:00:00Z",
            parent_message_uuid="00000000-0000-4000-8000-000000000000",
        ),
        _msg("a1", "assistant", "First", "2025-01-01T00:00:01Z", parent_message_uuid="q"),
        _msg("a2", "assistant", "Second", "2025-01-01T00:00:02Z", parent_message_uuid="q"),
    ]
    conv = _only(_parse_bytes(json.dumps([_conv("x", messages, current_leaf_message_uuid="a1")]).encode()))
    assert [(m.source_id, m.parent_source_id, m.on_current_path) for m in conv.messages] == [
        ("q", None, True),
        ("a1", "q", True),
        ("a2", "q", False),
    ]


def test_text_blocks_win_over_the_duplicated_text_field() -> None:
    m = _msg(
        "a",
        "assistant",
        "Same words",
        "2025-01-01T00:00:00Z",
        content=[{"type": "text", "text": "Same words"}],
    )
    conv = _only(_parse_bytes(json.dumps([_conv("x", [m])]).encode()))
    assert conv.messages[0].parts == [{"type": "text", "text": "Same words"}]


def test_tool_result_error_and_unknown_block() -> None:
    content = [
        {"type": "tool_use", "id": "toolu_1", "name": "web_search", "input": {"query": "q"}},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "name": "web_search",
            "is_error": True,
            "content": [{"type": "text", "text": "rate limited"}],
        },
        {"type": "voice_note", "title": "memo"},
    ]
    m = _msg("a", "assistant", "", "2025-01-01T00:00:00Z", content=content)
    conv = _only(_parse_bytes(json.dumps([_conv("x", [m])]).encode()))
    assert conv.messages[0].parts == [
        {"type": "tool_call", "id": "toolu_1", "name": "web_search", "arguments": {"query": "q"}},
        {
            "type": "tool_result",
            "call_id": "toolu_1",
            "name": "web_search",
            "content": "rate limited",
            "is_error": True,
        },
        {
            "type": "unknown",
            "original_type": "voice_note",
            "payload": {"type": "voice_note", "title": "memo"},
        },
    ]


def test_artifacts_tool_call_also_yields_the_artifact_code() -> None:
    call = {
        "type": "tool_use",
        "name": "artifacts",
        "input": {
            "id": "flow",
            "type": "application/vnd.ant.mermaid",
            "title": "Flow",
            "command": "create",
            "content": "graph TD\n  A-->B",
        },
    }
    m = _msg("a", "assistant", "", "2025-01-01T00:00:00Z", content=[call])
    parts = _only(_parse_bytes(json.dumps([_conv("x", [m])]).encode())).messages[0].parts
    assert [p["type"] for p in parts] == ["tool_call", "mermaid"]
    assert parts[1]["mermaid"] == "graph TD\n  A-->B"
    assert (parts[1]["identifier"], parts[1]["title"]) == ("flow", "Flow")


def test_inline_artifact_tags_become_code_and_mermaid_parts() -> None:
    text = (
        "Here it is.\n\n"
        '<antArtifact identifier="fib" type="application/vnd.ant.code" language="python" title="Fibonacci">\n'
        "def fib(n):\n    return n\n"
        "</antArtifact>\n\n"
        '<antArtifact identifier="d" type="application/vnd.ant.mermaid" title="Diagram">\n'
        "graph LR; A-->B\n"
        "</antArtifact>\n"
        "<antThinking>Small and reusable.</antThinking>\nDone."
    )
    assert text_parts(text) == [
        {"type": "text", "text": "Here it is."},
        {
            "type": "code",
            "code": "def fib(n):\n    return n",
            "language": "python",
            "title": "Fibonacci",
            "identifier": "fib",
            "artifact_type": "application/vnd.ant.code",
        },
        {
            "type": "mermaid",
            "mermaid": "graph LR; A-->B",
            "title": "Diagram",
            "identifier": "d",
            "artifact_type": "application/vnd.ant.mermaid",
        },
        {"type": "thinking", "text": "Small and reusable."},
        {"type": "text", "text": "Done."},
    ]


def test_unclosed_artifact_runs_to_the_end() -> None:
    text = 'Start <antArtifact identifier="p" type="text/html" title="Page">\n<p>cut off'
    assert text_parts(text) == [
        {"type": "text", "text": "Start"},
        {
            "type": "code",
            "code": "<p>cut off",
            "language": "html",
            "title": "Page",
            "identifier": "p",
            "artifact_type": "text/html",
        },
    ]


def test_messages_without_timestamps_keep_file_order() -> None:
    messages = [
        {"uuid": "1", "sender": "human", "text": "a"},
        {"uuid": "2", "sender": "assistant", "text": "b"},
        {"uuid": "3", "sender": "robot", "text": "c"},
    ]
    conv = _only(_parse_bytes(json.dumps([_conv("x", messages)]).encode()))
    assert [(m.source_id, m.parent_source_id, m.role) for m in conv.messages] == [
        ("1", None, "user"),
        ("2", "1", "assistant"),
        ("3", "2", "system"),
    ]
    assert conv.messages[2].metadata == {"sender": "robot"}


def test_empty_conversation_is_kept_and_non_objects_are_reported() -> None:
    items = _parse_bytes(json.dumps([_conv("e", []), "nope"]).encode())
    assert isinstance(items[0], ParsedConversation) and items[0].messages == []
    assert isinstance(items[1], RecordError) and items[1].record == "record 1"


def test_sniff_reads_content_not_names() -> None:
    assert PARSER.sniff(json.dumps([_simple("a")]).encode(), "export.bin")
    mention = json.dumps([{"mapping": {}, "title": 'a "chat_messages": [ here'}]).encode()
    assert not PARSER.sniff(mention, "conversations.json")
