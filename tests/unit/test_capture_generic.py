"""vivim.conversations/v1: strict import, export, and exact round trips."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shared import shared_fixture
from vivim.capture import aistudio, gemini_activity, openwebui
from vivim.capture.base import Source
from vivim.capture.generic import (
    FORMAT,
    PARSER,
    conversation_to_generic,
    document,
    write_document,
)
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError

DATA = Path(__file__).resolve().parent.parent / "data" / "generic"


def _parse_doc(doc: Any) -> list[Any]:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return list(PARSER.parse(Source.from_bytes("vault.json", raw)))


def _doc(*conversations: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "conversations": list(conversations)}


def _conv(messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"id": "c1", "title": "T", "messages": messages, **fields}


def _error_for(conv: dict[str, Any]) -> RecordError:
    items = _parse_doc(_doc(conv))
    assert len(items) == 1 and isinstance(items[0], RecordError), items
    return items[0]


# --- reading the hand-written example --------------------------------------------------------


def test_example_file_reads_text_and_typed_parts() -> None:
    source = Source.from_path(DATA / "example.json")
    assert PARSER.sniff(source.head(), "example.json")
    items = list(PARSER.parse(source))
    assert [type(i).__name__ for i in items] == ["ParsedConversation", "RecordError"]
    conv, error = items
    assert conv.source_id == "notes-2025-01"
    assert conv.title == "Shell tips"
    assert conv.provider == "my-notes-app"
    assert conv.model == "local-llama"
    assert conv.source_url == "https://notes.example/c/2025-01"
    assert conv.created_at == datetime(2025, 1, 5, 9, 30, tzinfo=UTC)
    assert conv.updated_at is None
    question, answer, edit = conv.messages
    assert question.parts == [{"type": "text", "text": "How do I count lines in a file?"}]
    assert question.author == "Ana"
    # +01:00 normalised to UTC.
    assert question.created_at == datetime(2025, 1, 5, 8, 31, tzinfo=UTC)
    assert answer.parts == [
        {"type": "text", "text": "Use wc:"},
        {"type": "code", "code": "wc -l file.txt", "language": "sh"},
    ]
    assert answer.parent_source_id == "m1"
    assert edit.parts == [
        {"type": "thinking", "text": "They may want words too."},
        {"type": "text", "text": "Or `wc -w` for words."},
    ]
    assert (edit.parent_source_id, edit.on_current_path, edit.status) == ("m1", False, "incomplete")
    assert error.record == "conversation 1 (id 'broken')"
    assert error.message == (
        "conversation 1 (id 'broken'): message 0 (id 'x1'): role 'bot' is not one of "
        "assistant, system, tool, user; message 1 (id 'x2'): parent_id 'nope' is not a message "
        "of this conversation"
    )


def test_defaults_for_optional_fields() -> None:
    (conv,) = _parse_doc(_doc({"id": "c", "messages": [{"id": "m", "role": "user", "text": "hi"}]}))
    assert (conv.title, conv.provider, conv.model, conv.source_url) == ("", "generic", None, None)
    (m,) = conv.messages
    assert (m.status, m.hidden, m.on_current_path, m.metadata, m.parent_source_id) == (
        "completed", False, True, {}, None,
    )  # fmt: skip


# --- validation: one RecordError per bad conversation, naming conversation and message ----------


def test_missing_conversation_id() -> None:
    error = _error_for({"messages": []})
    assert error.record == "conversation 0"
    assert error.message == 'conversation 0: missing "id" (a non-empty string)'
    assert error.code == "invalid_record"


def test_bad_role() -> None:
    error = _error_for(_conv([{"id": "m1", "role": "human", "text": "x"}]))
    assert error.message == (
        "conversation 0 (id 'c1'): message 0 (id 'm1'): role 'human' is not one of "
        "assistant, system, tool, user"
    )


def test_message_without_text_or_parts_and_with_both() -> None:
    error = _error_for(
        _conv([{"id": "m1", "role": "user"}, {"id": "m2", "role": "user", "text": "a", "parts": []}])
    )
    assert error.message == (
        "conversation 0 (id 'c1'): message 0 (id 'm1'): has neither \"text\" nor \"parts\"; "
        'message 1 (id \'m2\'): has both "text" and "parts" (give one)'
    )


def test_duplicate_message_id() -> None:
    error = _error_for(
        _conv([{"id": "m1", "role": "user", "text": "a"}, {"id": "m1", "role": "assistant", "text": "b"}])
    )
    assert error.message == "conversation 0 (id 'c1'): message 1 (id 'm1'): duplicate id (also message 0)"


def test_parent_that_does_not_exist_is_its_own_or_loops() -> None:
    error = _error_for(
        _conv(
            [
                {"id": "a", "role": "user", "text": "x", "parent_id": "ghost"},
                {"id": "b", "role": "user", "text": "x", "parent_id": "b"},
                {"id": "c", "role": "user", "text": "x", "parent_id": "d"},
                {"id": "d", "role": "user", "text": "x", "parent_id": "c"},
            ]
        )
    )
    assert error.message == (
        "conversation 0 (id 'c1'): message 0 (id 'a'): parent_id 'ghost' is not a message of this "
        "conversation; message 1 (id 'b'): is its own parent; message 2 (id 'c'): parent_id chain "
        "loops back on itself; message 3 (id 'd'): parent_id chain loops back on itself"
    )


def test_a_parent_may_come_later_in_the_list() -> None:
    (conv,) = _parse_doc(
        _doc(
            _conv(
                [
                    {"id": "b", "role": "assistant", "text": "y", "parent_id": "a"},
                    {"id": "a", "role": "user", "text": "x"},
                ]
            )
        )
    )
    assert [m.parent_source_id for m in conv.messages] == ["a", None]


def test_unknown_part_type_and_non_object_part() -> None:
    error = _error_for(_conv([{"id": "m1", "role": "user", "parts": [{"type": "video"}, "text"]}]))
    assert error.message.startswith(
        "conversation 0 (id 'c1'): message 0 (id 'm1'): part 0 has unknown type 'video' (known: attachment, citation,"
    )
    assert error.message.endswith("; message 0 (id 'm1'): part 1 is a JSON str, not an object")


def test_bad_times_and_field_types() -> None:
    error = _error_for(
        _conv(
            [{"id": "m1", "role": "user", "text": "x", "created_at": 1700000000, "hidden": "no"}],
            created_at="yesterday",
            title=5,
            metadata=[],
        )
    )
    assert error.message == (
        'conversation 0 (id \'c1\'): "title" must be a string or null, not int; "created_at" '
        "'yesterday' is not an ISO 8601 timestamp; \"metadata\" must be an object; message 0 "
        "(id 'm1'): \"created_at\" 1700000000 is not an ISO 8601 timestamp; message 0 (id 'm1'): "
        '"hidden" must be true or false'
    )


def test_missing_messages_and_non_object_conversation() -> None:
    assert _error_for({"id": "c"}).message == "conversation 0 (id 'c'): missing \"messages\" (a list)"
    assert _error_for([]).message == "conversation 0: is a JSON list, not an object"  # type: ignore[arg-type]


def test_a_bad_conversation_does_not_stop_the_next() -> None:
    items = _parse_doc(_doc({"messages": []}, _conv([{"id": "m", "role": "user", "text": "ok"}])))
    assert [type(i).__name__ for i in items] == ["RecordError", "ParsedConversation"]


def test_many_problems_are_capped_in_the_message() -> None:
    error = _error_for(_conv([{"id": f"m{i}", "role": "x", "text": "t"} for i in range(25)]))
    assert error.message.endswith("; and 5 more")


# --- documents that are not (whole) v1 documents ---------------------------------------------


def test_wrong_or_missing_format_is_reported() -> None:
    (wrong,) = _parse_doc({"format": "vivim.conversations/v2", "conversations": [_conv([])]})
    assert (wrong.code, wrong.record) == ("wrong_format", "document")
    assert "has format 'vivim.conversations/v2'" in wrong.message
    (missing,) = _parse_doc({"conversations": []})
    assert 'has no "format" key' in missing.message
    (listed,) = _parse_doc([1, 2])
    assert listed.code == "wrong_format"


def test_truncated_document_keeps_what_was_read() -> None:
    raw = json.dumps(_doc(_conv([{"id": "m", "role": "user", "text": "one"}]), _conv([], id="c2"))).encode()
    items = _parse_doc(raw[:-30])
    assert [type(i).__name__ for i in items] == ["ParsedConversation", "RecordError"]
    assert items[1].record == "conversation 1"
    assert "truncated" in items[1].message


def test_byte_order_mark_is_accepted() -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(_doc(_conv([]))).encode()
    assert PARSER.sniff(raw, "x")
    (conv,) = _parse_doc(raw)
    assert conv.source_id == "c1"


def test_sniff_needs_the_format_marker() -> None:
    assert PARSER.sniff(json.dumps(_doc()).encode(), "x.txt")
    assert not PARSER.sniff(b'{"conversations": []}', "vivim.json")
    assert not PARSER.sniff(b'[{"format": "vivim.conversations/v1"}]', "x")


# --- export and round trips ------------------------------------------------------------------


def _rich_conversation() -> ParsedConversation:
    t0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    every_part = [
        P.text("Hello **world**"),
        P.code("print(1)", "python"),
        P.image("asset://x", alt="chart", mime_type="image/png", size_bytes=10, width=3, height=4),
        P.table(["a", "b"], [["1", "2"]]),
        P.latex("e^{i\\pi}+1=0", display=False),
        P.mermaid("graph TD; A-->B"),
        P.tool_call("search", {"q": "x", "n": 2.5}, call_id="call-1"),
        P.tool_result({"hits": [1, 2]}, call_id="call-1", is_error=True, name="search"),
        P.thinking("hmm", summary="thought"),
        P.citation(url="https://e.org", title="E", text="quote", source="web"),
        P.attachment("a.pdf", "text inside", mime_type="application/pdf", size_bytes=99, ref="r"),
        P.unknown("weird", {"nested": [None, True, "ü"]}),
    ]
    return ParsedConversation(
        provider="chatgpt",
        source_id="conv-1",
        title="Everything ✓",
        model="gpt-4o",
        source_url="https://chatgpt.com/c/conv-1",
        created_at=t0,
        updated_at=t0 + timedelta(hours=1),
        metadata={"is_archived": False, "score": 0.5, "tags": ["x"]},
        custom_instructions=["Be brief."],
        messages=[
            ParsedMessage(source_id="s", role="system", parts=[P.text("sys")], hidden=True),
            ParsedMessage(
                source_id="u", role="user", parts=[P.text("q")], parent_source_id="s",
                author="me", created_at=t0 + timedelta(seconds=1),
            ),
            ParsedMessage(
                source_id="a1", role="assistant", parts=every_part, parent_source_id="u",
                created_at=t0 + timedelta(seconds=2), model="gpt-4o", status="incomplete",
                finish_reason="max_tokens", on_current_path=False, metadata={"k": {"n": 1}},
            ),
            ParsedMessage(
                source_id="a2", role="assistant", parts=[], parent_source_id="u",
                created_at=t0.astimezone(timezone(timedelta(hours=5))), model="gpt-4o",
            ),
            ParsedMessage(source_id="t", role="tool", parts=[P.tool_result("ok")], parent_source_id="a2"),
        ],
    )  # fmt: skip


def test_parse_of_an_export_gives_back_the_same_conversation() -> None:
    original = _rich_conversation()
    (back,) = _parse_doc(document([original]))
    assert back == original


def test_export_writes_every_field_with_utc_times() -> None:
    exported = conversation_to_generic(_rich_conversation())
    assert list(exported) == [
        "id", "title", "provider", "model", "url", "created_at", "updated_at",
        "custom_instructions", "metadata", "messages",
    ]  # fmt: skip
    assert exported["created_at"] == "2025-03-01T12:00:00.123456Z"
    assert exported["messages"][3]["created_at"] == "2025-03-01T12:00:00.123456Z"
    assert list(exported["messages"][0]) == [
        "id", "parent_id", "role", "author", "created_at", "model", "status", "finish_reason",
        "hidden", "on_current_path", "metadata", "parts",
    ]  # fmt: skip


def test_streamed_document_round_trips() -> None:
    conversations = [_rich_conversation(), ParsedConversation("x", "empty", "", [])]
    out = io.StringIO()
    assert write_document(conversations, out) == 2
    text = out.getvalue()
    assert text.startswith('{"format": "vivim.conversations/v1", "conversations": [')
    assert _parse_doc(text.encode("utf-8")) == conversations
    empty = io.StringIO()
    assert write_document([], empty) == 0
    assert _parse_doc(empty.getvalue().encode()) == []


@pytest.mark.parametrize(
    ("parser", "fixture"),
    [
        (gemini_activity.PARSER, "exports/gemini/chatlore__MyActivity.json"),
        (gemini_activity.PARSER, "exports/gemini/panchat__gemini_myactivity.json"),
        (aistudio.PARSER, "exports/gemini/openwebui-importer__aistudio_example.json"),
        (aistudio.PARSER, "exports/gemini/polylogue__aistudio_branching_session.json"),
        (aistudio.PARSER, "exports/gemini/polylogue__aistudio_code_execution_session.json"),
        (aistudio.PARSER, "exports/gemini/polylogue__aistudio_multimodal_session.json"),
        (openwebui.PARSER, "exports/openwebui/openwebui-importer__webui-json.json"),
    ],
)
def test_every_parsed_fixture_round_trips_through_the_generic_format(parser: Any, fixture: str) -> None:
    parsed = [
        i
        for i in parser.parse(Source.from_path(shared_fixture(fixture)))
        if isinstance(i, ParsedConversation)
    ]
    assert parsed
    assert _parse_doc(document(parsed)) == parsed


# --- no parser here raises on odd input --------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.text(max_size=8)
_KEYS = st.sampled_from(
    ["id", "title", "time", "header", "role", "text", "parts", "type", "content", "parentId",
     "childrenIds", "parent_id", "safeHtmlItem", "html", "files", "timestamp", "messages"]
)  # fmt: skip
_JSON = st.recursive(
    _SCALARS
    | st.sampled_from(["user", "model", "assistant", "Gemini Apps", "Prompted x", "2026-01-01T00:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=25,
)
_OBJECTS = st.dictionaries(_KEYS, _JSON, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_OBJECTS, max_size=4), st.integers(0, 400))
def test_no_parser_here_raises_and_everything_parsed_round_trips(records: list[Any], cut: int) -> None:
    shapes = [
        (gemini_activity.PARSER, records),
        (aistudio.PARSER, {"chunkedPrompt": {"chunks": records}}),
        (
            openwebui.PARSER,
            [{"id": "c", "history": {"messages": {str(i): r for i, r in enumerate(records)}}}],
        ),
        (PARSER, {"format": FORMAT, "conversations": records}),
    ]
    for parser, payload in shapes:
        data = json.dumps(payload).encode()
        for raw in (data, data[:cut]):
            items = list(parser.parse(Source.from_bytes("fuzz.json", raw)))
            assert all(isinstance(i, ParsedConversation | RecordError) for i in items)
            convs = [i for i in items if isinstance(i, ParsedConversation)]
            assert _parse_doc(document(convs)) == convs
