"""Google AI Studio prompt files: the shared fixtures and inline edge cases."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tests.shared import shared_fixture
from vivim.capture.aistudio import PARSER
from vivim.capture.base import Source
from vivim.domain.conversation import ParsedConversation, RecordError
from vivim.domain.ids import derived_id


def _parse_fixture(name: str) -> ParsedConversation:
    path = shared_fixture(f"exports/gemini/{name}")
    source = Source.from_path(path)
    assert PARSER.sniff(source.head(), "no-hint-in-this-name")
    items = list(PARSER.parse(source))
    assert len(items) == 1 and isinstance(items[0], ParsedConversation)
    return items[0]


def _parse(data: Any, name: str = "My prompt") -> list[Any]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return list(PARSER.parse(Source.from_bytes(name, raw)))


def _types(conv: ParsedConversation) -> list[list[str]]:
    return [[p["type"] for p in m.parts] for m in conv.messages]


# --- openwebui-importer__aistudio_example.json: a real prompt file ---------------------------


def test_real_prompt_file_has_user_thought_and_answer() -> None:
    conv = _parse_fixture("openwebui-importer__aistudio_example.json")
    assert conv.provider == "aistudio"
    assert conv.model == "gemini-3-pro-preview"
    assert [m.role for m in conv.messages] == ["user", "assistant", "assistant"]
    assert _types(conv) == [["text"], ["thinking"], ["text", "latex", "text"]]
    assert conv.metadata["run_settings"]["model"] == "models/gemini-3-pro-preview"
    assert conv.metadata["run_settings"]["maxOutputTokens"] == 65536
    # pendingInputs holds only an empty draft: nothing worth keeping.
    assert "pending_inputs" not in conv.metadata


def test_real_prompt_file_thinking_uses_the_full_chunk_text() -> None:
    conv = _parse_fixture("openwebui-importer__aistudio_example.json")
    thought = conv.messages[1].parts[0]["text"]
    assert thought.startswith("**Verifying the Factorization**")
    assert thought.endswith("E depends on C and D.")
    assert conv.messages[1].metadata["token_count"] == 1475


def test_real_prompt_file_answer_splits_out_the_display_formula() -> None:
    conv = _parse_fixture("openwebui-importer__aistudio_example.json")
    answer = conv.messages[2]
    assert answer.parts[0]["text"].startswith("Yes, you are **absolutely correct!**")
    assert answer.parts[1] == {
        "type": "latex",
        "latex": "P(\\text{All Nodes}) = \\prod P(\\text{Node} \\mid \\text{Parents of Node})",
        "display": True,
    }
    assert answer.parts[2]["text"].rstrip().endswith("*   **Correct.**")
    assert answer.model == "gemini-3-pro-preview"
    assert conv.messages[0].model is None


def test_real_prompt_file_without_id_derives_one_from_file_name_and_first_chunk() -> None:
    path = shared_fixture("exports/gemini/openwebui-importer__aistudio_example.json")
    conv = _parse_fixture("openwebui-importer__aistudio_example.json")
    first_chunk = json.loads(path.read_text(encoding="utf-8"))["chunkedPrompt"]["chunks"][0]
    digest = hashlib.sha256(
        json.dumps(first_chunk, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert conv.source_id == derived_id("aistudio", "openwebui-importer__aistudio_example.json", digest)
    # No displayName and a file name with an extension: the first prompt is the title.
    assert conv.title.startswith("in diceter asyclic graphical models , whe calculate the P(C)")
    assert len(conv.title) == 80
    # Messages are a chain.
    assert conv.messages[0].parent_source_id is None
    assert [m.parent_source_id for m in conv.messages[1:]] == [m.source_id for m in conv.messages[:-1]]


# --- polylogue fixtures: branching, code execution, multimodal ---------------------------


def test_branching_session_keeps_branch_metadata_and_drops_the_empty_chunk() -> None:
    conv = _parse_fixture("polylogue__aistudio_branching_session.json")
    assert conv.source_id == "gemini-branching-1"
    assert conv.title == "Branching Gemini session"
    assert conv.created_at == datetime(2025, 2, 1, 13, 0, tzinfo=UTC)
    assert conv.updated_at == datetime(2025, 2, 1, 13, 0, 40, tzinfo=UTC)
    assert [m.source_id for m in conv.messages] == [
        "chunk-user-1",
        "chunk-model-edit-1",
        "chunk-model-edit-2",
        "chunk-error-1",
    ]
    assert conv.metadata["empty_chunks"] == ["chunk-empty-1"]
    edit1, edit2 = conv.messages[1], conv.messages[2]
    assert edit1.metadata == {
        "is_edited": True,
        "branch_parent": {"id": "chunk-user-1"},
        "branch_children": [{"id": "chunk-model-edit-2"}],
    }
    assert edit2.metadata == {"branch_parent": {"id": "chunk-user-1"}}
    assert edit2.parts == [
        {"type": "text", "text": "Second answer with grounding."},
        {"type": "citation", "url": "https://example.com/source", "title": "Example", "source": "web"},
    ]


def test_branching_session_interrupted_chunk_is_an_error_status() -> None:
    conv = _parse_fixture("polylogue__aistudio_branching_session.json")
    broken = conv.messages[-1]
    assert broken.status == "error"
    assert broken.finish_reason == "OTHER"
    assert broken.metadata == {"error_message": "Stream interrupted"}
    assert broken.parts == [{"type": "text", "text": "Partial response cut off."}]
    assert broken.created_at == datetime(2025, 2, 1, 13, 0, 30, tzinfo=UTC)


def test_code_execution_session_gives_thinking_code_and_tool_result() -> None:
    conv = _parse_fixture("polylogue__aistudio_code_execution_session.json")
    assert conv.source_id == "gemini-code-1"
    assert [m.role for m in conv.messages] == ["user", "assistant", "assistant", "assistant"]
    assert conv.messages[0].parts == [{"type": "text", "text": "Compute the sum of the first 10 integers."}]
    assert conv.messages[1].parts == [
        {"type": "thinking", "text": "I should call code execution and sum 1..10."}
    ]
    assert conv.messages[1].metadata == {"thinking_budget": 64}
    assert conv.messages[2].parts == [
        {"type": "text", "text": "Here is the computation:"},
        {"type": "code", "code": "print(sum(range(1, 11)))", "language": "python"},
        {"type": "tool_result", "name": "code_execution", "content": "55", "is_error": False},
    ]
    final = conv.messages[3]
    assert final.parts == [{"type": "text", "text": "The sum of 1..10 is 55."}]
    assert (final.finish_reason, final.metadata) == ("STOP", {"token_count": 12})


def test_multimodal_session_turns_files_into_references() -> None:
    conv = _parse_fixture("polylogue__aistudio_multimodal_session.json")
    assert [m.role for m in conv.messages] == ["user", "user", "user", "assistant"]
    assert conv.messages[0].parts == [
        {"type": "text", "text": "Describe this document."},
        {
            "type": "attachment",
            "name": "spec.pdf",
            "mime_type": "application/pdf",
            "size_bytes": 2048,
            "ref": "drive:doc-attached-1",
        },
    ]
    # Eight bytes of PNG header, counted, never copied.
    assert conv.messages[1].parts == [{"type": "image", "mime_type": "image/png", "size_bytes": 8}]
    assert conv.messages[2].parts == [
        {
            "type": "attachment",
            "name": "YouTube video abc123",
            "ref": "https://www.youtube.com/watch?v=abc123",
        }
    ]
    answer = conv.messages[3]
    assert answer.parts == [{"type": "text", "text": "Document, image, and video summarized."}]
    assert answer.metadata["safety_ratings"] == [
        {"category": "HARM_CATEGORY_DEROGATORY", "probability": "NEGLIGIBLE"}
    ]


# --- inline edge cases -----------------------------------------------------------------------


def _prompt(chunks: list[Any], **top: Any) -> dict[str, Any]:
    return {"runSettings": {"model": "models/gemini-2.5-pro"}, "chunkedPrompt": {"chunks": chunks}, **top}


def test_system_instruction_becomes_a_hidden_first_message() -> None:
    data = _prompt(
        [{"role": "user", "text": "hi"}],
        systemInstruction={"parts": [{"text": "Answer in French."}]},
    )
    (conv,) = _parse(data)
    system, user = conv.messages
    assert (system.role, system.hidden, system.parts) == (
        "system",
        True,
        [{"type": "text", "text": "Answer in French."}],
    )
    assert user.parent_source_id == system.source_id


def test_file_name_without_extension_is_the_title() -> None:
    (conv,) = _parse(
        _prompt([{"role": "user", "text": "hello"}]), name="drive.zip!Google AI Studio/Tax questions"
    )
    assert conv.title == "Tax questions"
    assert conv.metadata["file_name"] == "Tax questions"


def test_derived_id_is_stable_and_follows_the_file_name() -> None:
    data = _prompt([{"role": "user", "text": "same"}])
    (a,) = _parse(data, name="one.json")
    (b,) = _parse(data, name="one.json")
    (c,) = _parse(data, name="two.json")
    assert a.source_id == b.source_id != c.source_id
    assert [m.source_id for m in a.messages] == [m.source_id for m in b.messages]


def test_unknown_role_is_a_record_error_and_the_rest_still_imports() -> None:
    data = _prompt(
        [{"role": "user", "text": "q"}, {"role": "narrator", "text": "?"}, {"role": "model", "text": "a"}]
    )
    items = _parse(data)
    conv, error = items
    assert isinstance(conv, ParsedConversation) and isinstance(error, RecordError)
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    assert conv.messages[1].parent_source_id == conv.messages[0].source_id
    assert error.record == "chunk 1"
    assert "'narrator'" in error.message


def test_function_calls_inline_data_and_unknown_keys_are_kept() -> None:
    data = _prompt(
        [
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "lookup", "args": {"q": "x"}}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQK"}},
                ],
                "futureThing": {"a": 1},
                "someFlag": True,
            },
            {"role": "function", "parts": [{"functionResponse": {"name": "lookup", "response": {"ok": 1}}}]},
        ]
    )
    (conv,) = _parse(data)
    call, response = conv.messages
    assert call.parts == [
        {"type": "tool_call", "name": "lookup", "arguments": {"q": "x"}},
        {"type": "attachment", "mime_type": "application/pdf", "size_bytes": 9},
        {"type": "unknown", "original_type": "aistudio.futureThing", "payload": {"a": 1}},
    ]
    assert call.metadata == {"extra": {"someFlag": True}}
    assert response.role == "tool"
    assert response.parts == [
        {"type": "tool_result", "name": "lookup", "content": {"ok": 1}, "is_error": False}
    ]


def test_code_execution_failure_is_an_error_result() -> None:
    data = _prompt(
        [{"role": "model", "codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "boom"}}]
    )
    (conv,) = _parse(data)
    assert conv.messages[0].parts == [
        {"type": "tool_result", "name": "code_execution", "content": "boom", "is_error": True}
    ]


def test_broken_and_foreign_files_are_one_record_error_each() -> None:
    broken = _parse(b'{"chunkedPrompt": {"chunks": [{"role": "user", "te')
    assert len(broken) == 1 and isinstance(broken[0], RecordError)
    assert "invalid JSON" in broken[0].message
    foreign = _parse({"hello": "world"})
    assert len(foreign) == 1 and isinstance(foreign[0], RecordError)
    assert "no chunkedPrompt" in foreign[0].message


def test_sniff_needs_a_chunked_prompt_object() -> None:
    assert PARSER.sniff(json.dumps(_prompt([])).encode(), "x")
    assert PARSER.sniff(b'\xef\xbb\xbf{"chunkedPrompt": {"chunks": []}}', "x")
    assert not PARSER.sniff(b'[{"chunkedPrompt": {}}]', "x")
    assert not PARSER.sniff(b'{"text": "mentions \\"chunkedPrompt\\": {} in a string"}', "x")


def test_nan_is_not_json_and_makes_the_file_unreadable() -> None:
    (error,) = _parse(b'{"chunkedPrompt": {"chunks": []}, "runSettings": {"temperature": NaN}}')
    assert isinstance(error, RecordError)
    assert "NaN is not a JSON value" in error.message
