"""Open WebUI chat exports: the shared fixture and inline edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.openwebui import PARSER
from vivim.domain.conversation import ParsedConversation, RecordError
from vivim.domain.ids import derived_id

USER_ID = "5ae90291-abf9-453f-9f7d-78f3753af40c"
ANSWER_ID = "a9436447-add3-4bd8-a25f-6ce54b73903c"


def _parse(data: Any) -> list[Any]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return list(PARSER.parse(Source.from_bytes("chat-export.json", raw)))


def _only_conversation(items: list[Any]) -> ParsedConversation:
    assert len(items) == 1 and isinstance(items[0], ParsedConversation), items
    return items[0]


# --- openwebui-importer__webui-json.json: one bare chat object ------------------------------


def _fixture() -> ParsedConversation:
    path = shared_fixture("exports/openwebui/openwebui-importer__webui-json.json")
    source = Source.from_path(path)
    assert PARSER.sniff(source.head(), "no-hint-in-this-name")
    return _only_conversation(list(PARSER.parse(source)))


def test_fixture_is_one_conversation_of_two_messages() -> None:
    conv = _fixture()
    assert conv.provider == "openwebui"
    assert conv.title == "\U0001f9e0 Goldwater Rule Ethics"
    assert conv.model == "deepseek/deepseek-chat:free"
    assert [(m.source_id, m.role, m.parent_source_id) for m in conv.messages] == [
        (USER_ID, "user", None),
        (ANSWER_ID, "assistant", USER_ID),
    ]
    assert all(m.on_current_path for m in conv.messages)


def test_fixture_empty_id_is_replaced_by_a_stable_derived_one() -> None:
    conv = _fixture()
    assert conv.source_id == derived_id(
        "openwebui", "\U0001f9e0 Goldwater Rule Ethics", "1744577557127", USER_ID
    )
    assert _fixture().source_id == conv.source_id


def test_fixture_times_mix_milliseconds_and_seconds() -> None:
    conv = _fixture()
    assert conv.created_at == datetime(2025, 4, 13, 20, 52, 37, 127000, tzinfo=UTC)
    assert conv.messages[0].created_at == datetime(2025, 4, 13, 20, 52, 37, tzinfo=UTC)
    assert conv.updated_at == conv.created_at


def test_fixture_message_content_is_kept_verbatim_and_split_as_markdown() -> None:
    conv = _fixture()
    question, answer = conv.messages
    assert question.parts == [
        {
            "type": "text",
            "text": "what was the ruling in the US called where you can''t diagnose a politician using psychiatry?",
        }
    ]
    (part,) = answer.parts
    assert part["text"].startswith(
        "The principle you''re referring to is known as the **\"Goldwater Rule.\"**"
    )
    assert "### Key Points:\n1. **No Diagnosis Without Examination:**" in part["text"]
    assert part["text"].endswith("misuse of psychiatry in political contexts.")
    assert answer.model == "deepseek/deepseek-chat:free"
    assert answer.author == "DeepSeek: DeepSeek V3 (free)"
    assert answer.metadata == {"usage": {"prompt_tokens": 26, "completion_tokens": 310, "total_tokens": 336}}
    assert answer.status == "completed"


# --- the "Export All Chats" shape, with branches -------------------------------------------


def _msg(
    mid: str, parent: str | None, children: list[str], role: str, content: Any, ts: int, **kw: Any
) -> dict[str, Any]:
    return {
        "id": mid,
        "parentId": parent,
        "childrenIds": children,
        "role": role,
        "content": content,
        "timestamp": ts,
        **kw,
    }


def _branched_chat() -> dict[str, Any]:
    # u1 -> a1 (first answer) and a1b (regenerated); a1b -> u2 (first prompt) and u2b (edited),
    # u2b -> a3. The user last looked at a3.
    messages = {
        "u1": _msg("u1", None, ["a1", "a1b"], "user", "Sort a list in Python?", 1700000000),
        "a1": _msg("a1", "u1", [], "assistant", "Use `sorted()`.", 1700000005, model="llama3"),
        "a1b": _msg(
            "a1b", "u1", ["u2", "u2b"], "assistant",
            "Use sorted:\n\n```python\nsorted([3, 1, 2])\n```", 1700000010, model="qwen2", modelName="Qwen 2",
        ),
        "u2": _msg("u2", "a1b", [], "user", "And reverse?", 1700000020),
        "u2b": _msg("u2b", "a1b", ["a3"], "user", "And in reverse order?", 1700000030),
        "a3": _msg("a3", "u2b", [], "assistant", "Pass `reverse=True`.", 1700000040, model="qwen2", done=False),
    }  # fmt: skip
    return {
        "id": "chat-1",
        "user_id": "someone",
        "title": "Sorting",
        "chat": {
            "id": "",
            "title": "Sorting",
            "models": ["qwen2"],
            "history": {"messages": messages, "currentId": "a3"},
            "messages": [messages[k] for k in ("u1", "a1b", "u2b", "a3")],
            "tags": [],
            "timestamp": 1700000000000,
        },
        "created_at": 1700000000,
        "updated_at": 1700000050,
        "archived": False,
        "pinned": True,
        "meta": {"tags": ["python"]},
        "folder_id": None,
    }


def test_all_branches_are_kept_parents_first_with_the_current_path_marked() -> None:
    conv = _only_conversation(_parse([_branched_chat()]))
    assert conv.source_id == "chat-1"
    assert [(m.source_id, m.parent_source_id, m.on_current_path) for m in conv.messages] == [
        ("u1", None, True),
        ("a1", "u1", False),
        ("a1b", "u1", True),
        ("u2", "a1b", False),
        ("u2b", "a1b", True),
        ("a3", "u2b", True),
    ]
    assert conv.created_at == datetime.fromtimestamp(1700000000, UTC)
    assert conv.updated_at == datetime.fromtimestamp(1700000050, UTC)
    assert conv.metadata == {"archived": False, "pinned": True, "tags": ["python"]}
    assert conv.model == "qwen2"


def test_branch_messages_carry_model_author_status_and_code_parts() -> None:
    conv = _only_conversation(_parse([_branched_chat()]))
    by_id = {m.source_id: m for m in conv.messages}
    assert by_id["a1b"].parts == [
        {"type": "text", "text": "Use sorted:"},
        {"type": "code", "code": "sorted([3, 1, 2])", "language": "python"},
    ]
    assert (by_id["a1b"].model, by_id["a1b"].author) == ("qwen2", "Qwen 2")
    assert (by_id["a1"].model, by_id["a1"].author) == ("llama3", "llama3")
    assert by_id["a3"].status == "incomplete"
    assert by_id["u1"].author is None


def test_without_current_id_the_newest_message_is_the_tip() -> None:
    chat = _branched_chat()
    del chat["chat"]["history"]["currentId"]
    conv = _only_conversation(_parse(chat))  # a single wrapper object, not a list
    assert [m.source_id for m in conv.messages if m.on_current_path] == ["u1", "a1b", "u2b", "a3"]


def test_messages_only_in_the_flat_list_are_read_too() -> None:
    chat = {
        "title": "Flat",
        "messages": [
            {"id": "m1", "parentId": None, "role": "user", "content": "hi", "timestamp": 1700000000},
            {"id": "m2", "parentId": "m1", "role": "assistant", "content": "hello", "timestamp": 1700000001},
        ],
    }
    conv = _only_conversation(_parse([chat]))
    assert [(m.source_id, m.parent_source_id) for m in conv.messages] == [("m1", None), ("m2", "m1")]
    assert conv.source_id == derived_id("openwebui", "Flat", "None", "m1")


def test_reasoning_tool_calls_and_think_blocks_are_lifted_out_of_content() -> None:
    content = (
        '<details type="reasoning" done="true" duration="2">\n<summary>Thought for 2 seconds</summary>\n'
        "> The user wants the weather.\n> Call the tool.\n</details>\n"
        '<details type="tool_calls" done="true" id="call_1" name="weather" '
        'arguments="{&quot;city&quot;: &quot;Oslo&quot;}" result="&quot;4 C&quot;">\n'
        "<summary>Tool Executed</summary>\n</details>\n"
        "It is 4 C in Oslo."
    )
    think = "<think>quick check</think>Done."
    chat = {
        "id": "c",
        "title": "t",
        "history": {
            "currentId": "b",
            "messages": {
                "a": _msg("a", None, ["b"], "assistant", content, 1700000000),
                "b": _msg("b", "a", [], "assistant", think, 1700000001),
            },
        },
    }
    conv = _only_conversation(_parse(chat))
    assert conv.messages[0].parts == [
        {
            "type": "thinking",
            "text": "The user wants the weather.\nCall the tool.",
            "summary": "Thought for 2 seconds",
        },
        {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}},
        {"type": "tool_result", "call_id": "call_1", "name": "weather", "content": "4 C", "is_error": False},
        {"type": "text", "text": "It is 4 C in Oslo."},
    ]
    assert conv.messages[1].parts == [
        {"type": "thinking", "text": "quick check"},
        {"type": "text", "text": "Done."},
    ]


def test_a_think_tag_mentioned_later_in_the_text_stays_text() -> None:
    text = "Models wrap thoughts in `<think>` tags."
    chat = {
        "id": "c",
        "title": "t",
        "history": {"currentId": "a", "messages": {"a": _msg("a", None, [], "assistant", text, 1)}},
    }
    conv = _only_conversation(_parse(chat))
    assert conv.messages[0].parts == [{"type": "text", "text": text}]


def test_files_sources_and_errors_on_messages() -> None:
    user = _msg(
        "u", None, ["a"], "user", "What does this say?", 1700000000,
        files=[
            {"type": "image", "url": "data:image/png;base64,AAAA"},
            {"type": "file", "id": "f-1", "name": "notes.txt", "size": 12,
             "file": {"meta": {"content_type": "text/plain"}, "data": {"content": "hello notes"}}},
        ],
    )  # fmt: skip
    answer = _msg(
        "a", "u", [], "assistant", "It says hello.", 1700000001,
        sources=[{"source": {"name": "notes.txt", "type": "file"}, "document": ["hello notes"],
                  "metadata": [{"source": "notes.txt", "name": "notes.txt"}]}],
        error={"content": "rate limited"},
    )  # fmt: skip
    conv = _only_conversation(
        _parse({"id": "c", "title": "t", "history": {"currentId": "a", "messages": {"u": user, "a": answer}}})
    )
    u, a = conv.messages
    assert u.parts == [
        {"type": "text", "text": "What does this say?"},
        {"type": "image", "mime_type": "image/png"},
        {
            "type": "attachment",
            "name": "notes.txt",
            "extracted_text": "hello notes",
            "mime_type": "text/plain",
            "size_bytes": 12,
            "ref": "f-1",
        },
    ]
    assert a.parts == [
        {"type": "text", "text": "It says hello."},
        {"type": "citation", "title": "notes.txt", "text": "hello notes", "source": "file"},
    ]
    assert (a.status, a.metadata) == ("error", {"error": {"content": "rate limited"}})


def test_unknown_role_is_reported_and_its_children_hang_from_the_grandparent() -> None:
    chat = {
        "id": "c",
        "title": "t",
        "history": {
            "currentId": "b",
            "messages": {
                "u": _msg("u", None, ["x"], "user", "q", 1),
                "x": _msg("x", "u", ["b"], "narrator", "??", 2),
                "b": _msg("b", "x", [], "assistant", "a", 3),
            },
        },
    }
    items = _parse([chat])
    error, conv = items
    assert isinstance(error, RecordError) and isinstance(conv, ParsedConversation)
    assert error.record == "chat 0 'c' 't' message 'x'"
    assert [(m.source_id, m.parent_source_id, m.on_current_path) for m in conv.messages] == [
        ("u", None, True),
        ("b", "u", True),
    ]


def test_bad_chats_are_record_errors_and_the_next_chat_still_imports() -> None:
    good = _branched_chat()
    items = _parse([42, {"id": "empty", "title": "no messages"}, good])
    assert [type(i).__name__ for i in items] == ["RecordError", "RecordError", "ParsedConversation"]
    assert items[0].record == "chat 0"
    assert items[1].record == "chat 1 'empty' 'no messages'"


def test_truncated_export_keeps_the_chats_read_then_reports_once() -> None:
    data = json.dumps([_branched_chat(), _branched_chat()]).encode()
    items = _parse(data[: len(data) - 40])
    assert [type(i).__name__ for i in items] == ["ParsedConversation", "RecordError"]


def test_sniff_decides_from_content() -> None:
    assert PARSER.sniff(json.dumps([_branched_chat()]).encode(), "x.bin")
    assert not PARSER.sniff(b'[{"mapping": {}, "current_node": "x"}]', "openwebui.json")
    assert not PARSER.sniff(b'{"history": "a string, not a tree", "parentId": 1}', "x")
