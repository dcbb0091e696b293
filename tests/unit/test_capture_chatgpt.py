"""The ChatGPT export parser, on the shared real exports and on small inline inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.chatgpt import PARSER
from vivim.capture.claude import PARSER as CLAUDE
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.times import parse_time


def _parse_fixture(name: str) -> list[ParsedConversation | RecordError]:
    path = shared_fixture(f"exports/chatgpt/{name}")
    source = Source.from_path(path)
    assert PARSER.sniff(source.head(), "no-hint-in-this-name")
    return list(PARSER.parse(source))


def _parse_bytes(data: bytes, name: str = "inline.json") -> list[ParsedConversation | RecordError]:
    return list(PARSER.parse(Source.from_bytes(name, data)))


def _by_id(conv: ParsedConversation) -> dict[str, ParsedMessage]:
    return {m.source_id: m for m in conv.messages}


def _off_path(conv: ParsedConversation) -> list[str]:
    return [m.source_id for m in conv.messages if not m.on_current_path]


# --- the shared real exports -------------------------------------------------------------


def test_modern_export_parses_two_conversations_and_reports_the_corrupted_one() -> None:
    items = _parse_fixture("librechat__chatgpt-modern-export.json")
    assert [type(i).__name__ for i in items] == [
        "ParsedConversation",
        "RecordError",
        "ParsedConversation",
    ]
    first, error, third = items
    assert isinstance(first, ParsedConversation) and isinstance(third, ParsedConversation)
    assert isinstance(error, RecordError)
    assert error.source.endswith("librechat__chatgpt-modern-export.json")
    assert "1" in error.record and "Corrupted entry" in error.record
    assert "Corrupted entry" in error.message and "mapping" in error.message

    assert first.source_id == "6b0f0d9c-0000-4000-8000-000000000001"
    assert first.source_url == "https://chatgpt.com/c/6b0f0d9c-0000-4000-8000-000000000001"
    assert first.title == "Deploying the staging cluster"
    assert first.model == "gpt-5-thinking"
    assert first.provider == "chatgpt"
    assert first.created_at == parse_time(1756000000.123456)
    assert first.updated_at == parse_time(1756000400.654321)
    assert first.custom_instructions == ["The user is an SRE.", "Answer concisely."]
    assert [m.source_id for m in first.messages] == [
        "ctx-node",
        "user-1",
        "assistant-1",
        "user-2",
        "assistant-2",
    ]
    assert _off_path(first) == []
    msgs = _by_id(first)
    ctx = msgs["ctx-node"]
    assert (ctx.role, ctx.hidden, ctx.parent_source_id) == ("system", True, None)
    assert [p["text"] for p in ctx.parts] == ["The user is an SRE.", "Answer concisely."]
    assert msgs["user-1"].parent_source_id == "ctx-node"
    assert msgs["user-1"].parts == [{"type": "text", "text": "How do I roll back the deploy?"}]
    assert msgs["assistant-1"].finish_reason == "stop"
    assert msgs["assistant-1"].status == "completed"
    assert msgs["assistant-2"].model == "o4-mini"
    assert msgs["assistant-2"].finish_reason == "end_turn"
    assert msgs["assistant-2"].parent_source_id == "user-2"

    assert third.source_id == "6b0f0d9c-0000-4000-8000-000000000003"
    assert third.title == "Weeknight pasta"
    assert third.model == "gpt-5"
    assert third.custom_instructions == []
    assert [(m.source_id, m.role, m.parent_source_id) for m in third.messages] == [
        ("user-3", "user", None),
        ("assistant-3", "assistant", "user-3"),
    ]
    assert third.messages[1].parts == [{"type": "text", "text": "Puttanesca."}]


def test_tree_export_keeps_both_branch_points_and_marks_the_current_path() -> None:
    items = _parse_fixture("librechat__chatgpt-tree.json")
    assert len(items) == 1
    conv = items[0]
    assert isinstance(conv, ParsedConversation)
    assert conv.source_id == "d5dc5307-6807-41a0-8b04-4acee626eeb7"
    assert conv.title == "Assist user with summary"
    assert conv.model == "text-davinci-002-render-sha"
    assert len(conv.messages) == 12
    # The first branch: "so cool bro" and its thread were abandoned for "hi again";
    # the second: the first joke answer was regenerated.
    assert _off_path(conv) == [
        "aaa24023-b02f-4d49-b568-5856b41750c0",
        "23afbea9-ca08-49f2-b417-e7ae58a1c97d",
        "aaa292cc-1842-4dbf-bd79-13cf7150366a",
        "ada93f81-f59e-4b31-933d-1357efd68bfc",
        "d0d2a7df-d2fc-4df9-bf0a-1c5121e227ae",
    ]
    msgs = _by_id(conv)
    system = msgs["d38605d2-7b2c-43de-b044-22ce472c749b"]
    assert (system.role, system.hidden, system.parts, system.parent_source_id) == (
        "system",
        True,
        [],
        None,
    )
    hi_again = msgs["aaa236a3-cdfc-4eb1-b5c5-790c6641f880"]
    so_cool = msgs["aaa24023-b02f-4d49-b568-5856b41750c0"]
    assert hi_again.parent_source_id == so_cool.parent_source_id == "bda8a275-886d-4f59-b38c-d7037144f0d5"
    story = msgs["ada93f81-f59e-4b31-933d-1357efd68bfc"]
    assert (story.status, story.finish_reason) == ("incomplete", "interrupted")
    assert story.parts[0]["text"].startswith("Sure! Here's a short story for you:")
    jokes = [msgs["d0d2a7df-d2fc-4df9-bf0a-1c5121e227ae"], msgs["f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8"]]
    assert {j.parent_source_id for j in jokes} == {"aaa20127-b9e3-44f6-afbe-a2475838625a"}
    assert [j.on_current_path for j in jokes] == [False, True]
    assert jokes[1].model == "text-davinci-002-render-sha"
    assert jokes[1].created_at == parse_time(1714585060.598792)


def test_openwebui_export_reads_custom_instructions_and_the_hidden_system_message() -> None:
    items = _parse_fixture("openwebui-importer__gpt_example.json")
    assert len(items) == 1
    conv = items[0]
    assert isinstance(conv, ParsedConversation)
    assert conv.source_id == "6857150a-cd20-800f-a5f7-d2404f94b935"
    assert conv.title == "How photosynthesis works"
    assert conv.model == "gpt-4o"
    assert len(conv.messages) == 12
    assert _off_path(conv) == []
    assert len(conv.custom_instructions) == 1
    assert conv.custom_instructions[0].startswith(
        "The user provided the additional info about how they would like you to respond:\n"
        "```Please keep the initial response to 1 to 2 paragraphs"
    )
    hidden = [m.source_id for m in conv.messages if m.hidden]
    assert hidden == [
        "e5529cf9-c042-40ea-aba9-f90efa479c28",
        "a021bc5d-b3f2-4120-a182-c00058472c7b",
    ]
    context = conv.messages[1]
    assert context.role == "system"
    assert context.metadata["original_role"] == "user"
    assert context.parts == [{"type": "text", "text": conv.custom_instructions[0]}]
    roles = [m.role for m in conv.messages[2:]]
    assert roles == ["user", "assistant"] * 5
    last = conv.messages[-1]
    assert last.source_id == "1dc131c9-3245-4687-a994-fdd42c0fedac"
    assert last.parts[0]["text"].startswith("Forests, like ponds, are not sentient")
    assert last.model == "gpt-4o"


def test_native_single_object_export_reads_every_content_type() -> None:
    items = _parse_fixture("polylogue__native-conversation-v1.json")
    assert len(items) == 1
    conv = items[0]
    assert isinstance(conv, ParsedConversation)
    assert conv.source_id == "chatgpt-fixture-conversation"
    assert conv.source_url == "https://chatgpt.com/c/chatgpt-fixture-conversation"
    assert conv.model == "gpt-5-6-pro"
    assert conv.custom_instructions == [
        "Privacy-safe fixture profile.",
        "Preserve structured provider evidence.",
    ]
    assert [m.source_id for m in conv.messages] == [
        "context-message",
        "user-message",
        "answer-inactive-message",
        "thought-active-message",
        "tool-call-message",
        "tool-result-message",
        "recap-active-message",
        "answer-active-message",
    ]
    assert _off_path(conv) == ["answer-inactive-message"]
    msgs = _by_id(conv)
    # Parents are named by message id even though the mapping keys differ.
    assert msgs["user-message"].parent_source_id == "context-message"
    assert msgs["answer-inactive-message"].parent_source_id == "user-message"
    assert msgs["thought-active-message"].parent_source_id == "user-message"

    user = msgs["user-message"]
    assert user.parts == [
        {"type": "text", "text": "Analyze the attached fixture and create an artifact."},
        {
            "type": "image",
            "ref": "file-service://fixture-input-image",
            "size_bytes": 128,
            "width": 8,
            "height": 8,
        },
        {
            "type": "attachment",
            "name": "input.txt",
            "mime_type": "text/plain",
            "size_bytes": 42,
            "ref": "file-fixture-upload-1",
        },
    ]
    assert msgs["thought-active-message"].parts == [
        {"type": "thinking", "text": "Privacy-safe reasoning trace."}
    ]
    call = msgs["tool-call-message"]
    assert call.role == "assistant"
    assert call.parts == [
        {"type": "tool_call", "name": "browser.search", "arguments": '{"query":"fixture evidence"}'}
    ]
    result = msgs["tool-result-message"]
    assert (result.role, result.author) == ("tool", "browser.search")
    assert result.parts == [
        {
            "type": "tool_result",
            "name": "browser.search",
            "content": "Privacy-safe tool result.",
            "is_error": False,
        }
    ]
    assert msgs["recap-active-message"].parts == [
        {"type": "thinking", "text": "Privacy-safe reasoning summary."}
    ]
    answer = msgs["answer-active-message"]
    assert [p["type"] for p in answer.parts] == ["text", "image"]
    assert answer.parts[1]["ref"] == "file-service://fixture-output-image"
    assert (answer.parts[1]["width"], answer.parts[1]["height"]) == (16, 16)
    assert answer.finish_reason == "end_turn"
    assert answer.model == "gpt-5-6-pro"


def test_sniff_tells_chatgpt_exports_from_claude_exports() -> None:
    for name in (
        "librechat__chatgpt-modern-export.json",
        "librechat__chatgpt-tree.json",
        "openwebui-importer__gpt_example.json",
        "polylogue__native-conversation-v1.json",
    ):
        head = Source.from_path(shared_fixture(f"exports/chatgpt/{name}")).head()
        assert PARSER.sniff(head, "x.json")
        assert not CLAUDE.sniff(head, "conversations.json")
    claude_head = Source.from_path(shared_fixture("exports/claude/chatlore__conversations.json")).head()
    assert not PARSER.sniff(claude_head, "conversations.json")


# --- small inline inputs -----------------------------------------------------------------


def _node(
    key: str,
    parent: str | None,
    children: list[str],
    *,
    role: str = "user",
    content: dict[str, Any] | None = None,
    recipient: str = "all",
    metadata: dict[str, Any] | None = None,
    author_name: str | None = None,
    null: bool = False,
) -> dict[str, Any]:
    message = None
    if not null:
        message = {
            "id": key,
            "author": {"role": role, "name": author_name, "metadata": {}},
            "create_time": 1700000000.0,
            "content": content or {"content_type": "text", "parts": [f"text of {key}"]},
            "status": "finished_successfully",
            "metadata": metadata or {},
            "recipient": recipient,
        }
    return {"id": key, "message": message, "parent": parent, "children": children}


def _conversation(nodes: list[dict[str, Any]], current: str | None, cid: str = "c1") -> dict[str, Any]:
    conv: dict[str, Any] = {
        "title": f"Conversation {cid}",
        "create_time": 1700000000.0,
        "update_time": 1700000100.0,
        "mapping": {n["id"]: n for n in nodes},
        "conversation_id": cid,
    }
    if current is not None:
        conv["current_node"] = current
    return conv


def _chain(cid: str) -> dict[str, Any]:
    return _conversation(
        [
            _node("root", None, ["u"], null=True),
            _node("u", "root", ["a"]),
            _node("a", "u", [], role="assistant"),
        ],
        "a",
        cid,
    )


def _only(items: list[ParsedConversation | RecordError]) -> ParsedConversation:
    assert len(items) == 1 and isinstance(items[0], ParsedConversation), items
    return items[0]


def test_truncated_json_yields_the_complete_records_then_one_error() -> None:
    whole = json.dumps([_chain("c1"), _chain("c2"), _chain("c3")]).encode()
    cut = whole[: whole.index(b'"c3"') - 40]
    items = _parse_bytes(cut, "export.zip!conversations.json")
    assert [type(i).__name__ for i in items] == [
        "ParsedConversation",
        "ParsedConversation",
        "RecordError",
    ]
    assert [i.source_id for i in items[:2] if isinstance(i, ParsedConversation)] == ["c1", "c2"]
    error = items[2]
    assert isinstance(error, RecordError)
    assert error.source == "export.zip!conversations.json"
    assert error.record == "record 2"
    assert "export.zip!conversations.json" in error.message and "record 2" in error.message


def test_malformed_json_in_the_middle_stops_after_the_good_records() -> None:
    good = json.dumps(_chain("c1")).encode()
    items = _parse_bytes(b"[" + good + b", {oops}, " + good + b"]")
    assert [type(i).__name__ for i in items] == ["ParsedConversation", "RecordError"]
    assert items[1].record == "record 1"  # type: ignore[union-attr]


@pytest.mark.parametrize("data", [b"", b"   ", b"not json", b"42", b"\xff\xfe garbage"], ids=repr)
def test_inputs_that_are_not_an_export_give_one_error_and_no_exception(data: bytes) -> None:
    items = _parse_bytes(data)
    assert len(items) == 1 and isinstance(items[0], RecordError)


def test_records_that_are_not_objects_are_reported_and_skipped() -> None:
    items = _parse_bytes(json.dumps([7, _chain("c1"), "x"]).encode())
    assert [type(i).__name__ for i in items] == ["RecordError", "ParsedConversation", "RecordError"]
    assert items[0].record == "record 0"  # type: ignore[union-attr]


def test_byte_order_mark_is_accepted() -> None:
    conv = _only(_parse_bytes(b"\xef\xbb\xbf" + json.dumps([_chain("c9")]).encode()))
    assert conv.source_id == "c9"


def test_unknown_content_type_is_kept_with_its_whole_payload() -> None:
    payload = {"content_type": "hologram", "beams": [1, 2], "note": "new in 2030"}
    conv = _only(
        _parse_bytes(
            json.dumps(
                [_conversation([_node("x", None, [], role="assistant", content=payload)], "x")]
            ).encode()
        )
    )
    assert conv.messages[0].parts == [{"type": "unknown", "original_type": "hologram", "payload": payload}]


def test_unknown_multimodal_item_is_kept() -> None:
    audio = {"content_type": "audio_asset_pointer", "asset_pointer": "file-service://a1"}
    content = {
        "content_type": "multimodal_text",
        "parts": [audio, {"content_type": "audio_transcription", "text": "hello by voice"}],
    }
    conv = _only(
        _parse_bytes(json.dumps([_conversation([_node("x", None, [], content=content)], "x")]).encode())
    )
    assert conv.messages[0].parts == [
        {"type": "unknown", "original_type": "audio_asset_pointer", "payload": audio},
        {"type": "text", "text": "hello by voice"},
    ]


def test_child_of_a_skipped_node_hangs_from_the_nearest_real_ancestor() -> None:
    conv = _only(
        _parse_bytes(
            json.dumps(
                [
                    _conversation(
                        [
                            _node("root", None, ["u"], null=True),
                            _node("u", "root", ["gap"]),
                            _node("gap", "u", ["a"], null=True),
                            _node("a", "gap", [], role="assistant"),
                        ],
                        "a",
                    )
                ]
            ).encode()
        )
    )
    assert [(m.source_id, m.parent_source_id) for m in conv.messages] == [("u", None), ("a", "u")]


def test_without_current_node_the_newest_branch_is_the_current_path() -> None:
    conv = _only(
        _parse_bytes(
            json.dumps(
                [
                    _conversation(
                        [
                            _node("u", None, ["a1", "a2"]),
                            _node("a1", "u", [], role="assistant"),
                            _node("a2", "u", [], role="assistant"),
                        ],
                        None,
                    )
                ]
            ).encode()
        )
    )
    assert [(m.source_id, m.on_current_path) for m in conv.messages] == [
        ("u", True),
        ("a1", False),
        ("a2", True),
    ]


def test_code_interpreter_call_and_failed_result() -> None:
    nodes = [
        _node("u", None, ["call"]),
        _node(
            "call",
            "u",
            ["out"],
            role="assistant",
            recipient="python",
            content={"content_type": "code", "language": "unknown", "text": "1/0"},
        ),
        _node(
            "out",
            "call",
            ["shown"],
            role="tool",
            author_name="python",
            content={"content_type": "execution_output", "text": "ZeroDivisionError"},
            metadata={"aggregate_result": {"status": "failed_with_in_kernel_exception"}},
        ),
        _node(
            "shown",
            "out",
            [],
            role="assistant",
            content={"content_type": "code", "language": "python", "text": "print(2)"},
        ),
    ]
    conv = _only(_parse_bytes(json.dumps([_conversation(nodes, "shown")]).encode()))
    msgs = _by_id(conv)
    assert msgs["call"].parts == [{"type": "tool_call", "name": "python", "arguments": "1/0"}]
    assert msgs["call"].metadata["recipient"] == "python"
    assert msgs["out"].role == "tool"
    assert msgs["out"].parts == [
        {"type": "tool_result", "name": "python", "content": "ZeroDivisionError", "is_error": True}
    ]
    assert msgs["shown"].parts == [{"type": "code", "code": "print(2)", "language": "python"}]


def test_browsing_quotes_and_displays_become_citations() -> None:
    quote = {
        "content_type": "tether_quote",
        "url": "https://example.org/a",
        "domain": "example.org",
        "text": "Quoted words.",
        "title": "Example A",
    }
    display = {"content_type": "tether_browsing_display", "result": "# 【0†Result】", "summary": None}
    nodes = [
        _node("q", None, ["d"], role="tool", author_name="browser", content=quote),
        _node("d", "q", [], role="tool", author_name="browser", content=display),
    ]
    conv = _only(_parse_bytes(json.dumps([_conversation(nodes, "d")]).encode()))
    assert conv.messages[0].parts == [
        {
            "type": "citation",
            "url": "https://example.org/a",
            "title": "Example A",
            "text": "Quoted words.",
            "source": "example.org",
        }
    ]
    assert conv.messages[1].parts == [{"type": "citation", "text": "# 【0†Result】", "source": "browser"}]


def test_thoughts_with_summaries_and_a_recap_string() -> None:
    thoughts = {
        "content_type": "thoughts",
        "thoughts": [{"summary": "Checking units", "content": "Metres, not feet.", "finished": True}],
    }
    recap = {"content_type": "reasoning_recap", "content": "Thought for 4 seconds"}
    nodes = [
        _node("t", None, ["r"], role="assistant", content=thoughts),
        _node("r", "t", [], role="assistant", content=recap),
    ]
    conv = _only(_parse_bytes(json.dumps([_conversation(nodes, "r")]).encode()))
    assert conv.messages[0].parts == [
        {"type": "thinking", "text": "Metres, not feet.", "summary": "Checking units"}
    ]
    assert conv.messages[1].parts == [{"type": "thinking", "text": "Thought for 4 seconds"}]


def test_assistant_markdown_is_split_into_typed_parts() -> None:
    text = "Here:\n```python\nprint(1)\n```\n| a | b |\n|---|---|\n| 1 | 2 |"
    nodes = [_node("a", None, [], role="assistant", content={"content_type": "text", "parts": [text]})]
    conv = _only(_parse_bytes(json.dumps([_conversation(nodes, "a")]).encode()))
    assert conv.messages[0].parts == [
        {"type": "text", "text": "Here:"},
        {"type": "code", "code": "print(1)", "language": "python"},
        {"type": "table", "headers": ["a", "b"], "rows": [["1", "2"]]},
    ]


def test_conversation_without_id_gets_a_stable_derived_id_and_no_url() -> None:
    conv = _chain("ignored")
    del conv["conversation_id"]
    first = _only(_parse_bytes(json.dumps([conv]).encode()))
    second = _only(_parse_bytes(json.dumps([conv]).encode()))
    assert first.source_id == second.source_id
    assert len(first.source_id) == 32
    assert first.source_url is None


def test_sniff_ignores_mapping_mentioned_inside_text() -> None:
    claude_like = json.dumps(
        [{"uuid": "u", "chat_messages": [{"text": 'see "mapping": {"children": []}'}]}]
    ).encode()
    assert not PARSER.sniff(claude_like, "conversations.json")
    assert PARSER.sniff(json.dumps([_chain("c1")]).encode(), "whatever.bin")


def test_memory_context_is_hidden_and_system_errors_are_failed_tool_results() -> None:
    memory = {"content_type": "model_editable_context", "model_set_context": "Likes Rust."}
    failure = {"content_type": "system_error", "name": "ChatGPTAgentToolException", "text": "boom"}
    nodes = [
        _node("mem", None, ["err"], role="user", content=memory),
        _node("err", "mem", [], role="tool", author_name="web", content=failure),
    ]
    conv = _only(_parse_bytes(json.dumps([_conversation(nodes, "err")]).encode()))
    mem, err = conv.messages
    assert (mem.role, mem.hidden, mem.parts) == ("system", True, [{"type": "text", "text": "Likes Rust."}])
    # Memory is what the model was told, not instructions the user wrote.
    assert conv.custom_instructions == []
    assert err.parts == [
        {
            "type": "tool_result",
            "name": "ChatGPTAgentToolException",
            "content": "boom",
            "is_error": True,
        }
    ]
