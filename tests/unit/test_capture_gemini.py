"""Google Takeout "My Activity" for Gemini Apps: the shared fixtures and inline edge cases."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.shared import shared_fixture
from vivim.capture import aistudio, generic, openwebui
from vivim.capture.base import Source
from vivim.capture.gemini_activity import PARSER, strip_prompt_prefix, thread_id_from_url
from vivim.domain.conversation import ParsedConversation, RecordError
from vivim.domain.ids import derived_id


def _parse_fixture(name: str) -> tuple[list[ParsedConversation], list[RecordError], Counter[str]]:
    path = shared_fixture(f"exports/gemini/{name}")
    source = Source.from_path(path)
    assert PARSER.sniff(source.head(), "no-hint-in-this-name")
    skipped: Counter[str] = Counter()
    items = list(PARSER.parse(source, skipped=skipped))
    return _split(items) + (skipped,)


def _split(items: list[Any]) -> tuple[list[ParsedConversation], list[RecordError]]:
    convs = [i for i in items if isinstance(i, ParsedConversation)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(convs) + len(errors) == len(items)
    return convs, errors


def _parse_rows(rows: Any, skipped: Counter[str] | None = None) -> list[Any]:
    data = json.dumps(rows).encode() if not isinstance(rows, bytes) else rows
    return list(PARSER.parse(Source.from_bytes("MyActivity.json", data), skipped=skipped))


def _row(title: str, time: str, html: str | None = None, url: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"header": "Gemini Apps", "title": title, "time": time, "products": ["Gemini Apps"]}
    if html is not None:
        row["safeHtmlItem"] = [{"html": html}]
    if url is not None:
        row["titleUrl"] = url
    return row


def _texts(conv: ParsedConversation) -> list[tuple[str, str]]:
    return [(m.role, " / ".join(p.get("text", p["type"]) for p in m.parts)) for m in conv.messages]


# --- chatlore__MyActivity.json: time-gap grouping, German row, feedback, bad time, Search ----


def test_chatlore_activity_groups_rows_into_three_sessions() -> None:
    convs, errors, skipped = _parse_fixture("chatlore__MyActivity.json")
    assert [c.title for c in convs] == [
        "Give me a recipe for Neapolitan pizza dough",
        "What is the capital of Australia?",
        "Wie spät ist es in Tokio?",
    ]
    assert [len(c.messages) for c in convs] == [4, 3, 2]
    assert all(c.provider == "gemini" for c in convs)
    assert [c.metadata["grouping"] for c in convs] == ["time_gap"] * 3
    assert [c.metadata["rows"] for c in convs] == [2, 2, 1]
    # The feedback row and the Search row are skipped and counted, not errors.
    assert skipped == Counter({"feedback": 1, "not_gemini": 1})
    assert len(errors) == 1


def test_chatlore_rows_are_ordered_by_time_not_file_order() -> None:
    convs, _, _ = _parse_fixture("chatlore__MyActivity.json")
    pizza = convs[0]
    assert _texts(pizza) == [
        ("user", "Give me a recipe for Neapolitan pizza dough"),
        ("assistant", "Here is a simple recipe:\n\n- 500 g flour\n- 325 g water\n\nMix & rest."),
        ("user", "And how long does the dough need to rest?"),
        ("assistant", "At least 24 hours in the fridge."),
    ]
    assert pizza.created_at == datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    assert pizza.updated_at == datetime(2026, 3, 10, 18, 12, tzinfo=UTC)
    assert [m.created_at for m in pizza.messages] == [
        datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 18, 12, tzinfo=UTC),
        datetime(2026, 3, 10, 18, 12, tzinfo=UTC),
    ]
    # A linear chain: each message hangs from the one before it.
    assert pizza.messages[0].parent_source_id is None
    assert [m.parent_source_id for m in pizza.messages[1:]] == [m.source_id for m in pizza.messages[:-1]]
    assert pizza.messages[1].author == "Gemini"


def test_chatlore_session_ids_derive_from_first_row_time_and_prompt() -> None:
    convs, _, _ = _parse_fixture("chatlore__MyActivity.json")
    assert convs[0].source_id == derived_id(
        "gemini", "2026-03-10T18:00:00.000000Z", "Give me a recipe for Neapolitan pizza dough"
    )
    assert convs[0].messages[0].source_id == derived_id(
        "gemini", "2026-03-10T18:00:00.000000Z", "Give me a recipe for Neapolitan pizza dough", "user"
    )
    assert convs[0].source_url is None


def test_chatlore_prompt_without_response_keeps_the_user_message_only() -> None:
    convs, _, _ = _parse_fixture("chatlore__MyActivity.json")
    australia = convs[1]
    assert _texts(australia) == [
        ("user", "What is the capital of Australia?"),
        ("assistant", "Canberra."),
        ("user", "A question that got no stored response"),
    ]
    # 21:30 and 21:40 are ten minutes apart; 21:30 is 3h18 after the pizza session.
    assert australia.created_at == datetime(2026, 3, 10, 21, 30, tzinfo=UTC)
    assert australia.updated_at == datetime(2026, 3, 10, 21, 40, tzinfo=UTC)


def test_chatlore_german_row_has_its_prefix_stripped() -> None:
    convs, _, _ = _parse_fixture("chatlore__MyActivity.json")
    german = convs[2]
    assert _texts(german) == [("user", "Wie spät ist es in Tokio?"), ("assistant", "Es ist 17 Uhr.")]
    assert german.messages[0].metadata["prompt_prefix"] == "de"


def test_chatlore_row_with_a_broken_time_and_no_thread_is_a_record_error() -> None:
    _, errors, _ = _parse_fixture("chatlore__MyActivity.json")
    (error,) = errors
    assert error.code == "bad_time"
    assert error.record == "row 6 'Prompted Entry with a broken time'"
    assert "'not a time'" in error.message
    assert error.source.endswith("chatlore__MyActivity.json")


def test_chatlore_script_in_the_answer_html_is_dropped() -> None:
    convs, _, _ = _parse_fixture("chatlore__MyActivity.json")
    all_text = json.dumps([m.parts for c in convs for m in c.messages])
    assert "ignored()" not in all_text


# --- panchat__gemini_myactivity.json: thread ids, several answer items, Japanese, non-prompts ---


def test_panchat_activity_yields_a_thread_and_two_time_gap_conversations() -> None:
    convs, errors, skipped = _parse_fixture("panchat__gemini_myactivity.json")
    assert errors == []
    assert skipped == Counter({"canvas": 1, "draft_selection": 1})
    assert [c.title for c in convs] == [
        "A question whose answer Google did not keep",
        "これは作り話です",
        "Explain the first half of the made-up thing",
    ]
    assert [len(c.messages) for c in convs] == [1, 2, 4]
    assert [c.metadata["grouping"] for c in convs] == ["time_gap", "time_gap", "thread"]


def test_panchat_thread_rows_join_by_thread_id_in_time_order() -> None:
    convs, _, _ = _parse_fixture("panchat__gemini_myactivity.json")
    thread = convs[2]
    assert thread.source_id == "invented-thread-1"
    # The earliest row's link, query string removed.
    assert thread.source_url == "https://gemini.google.com/app/c/invented-thread-1"
    assert thread.created_at == datetime(2026, 7, 20, 15, 15, 21, 568000, tzinfo=UTC)
    assert thread.updated_at == datetime(2026, 7, 20, 15, 20, 0, 100000, tzinfo=UTC)
    first_user, first_answer, second_user, second_answer = thread.messages
    assert first_user.parts == [
        {"type": "text", "text": "Explain the first half of the made-up thing"},
        {"type": "attachment", "name": "invented-notes.pdf"},
    ]
    # Two safeHtmlItem entries: the paragraph and the list continue as one text part.
    assert first_answer.parts == [
        {"type": "text", "text": "The first half does not exist.\n\n- Nor does this list item."}
    ]
    assert second_user.parts == [{"type": "text", "text": "And what about the second half?"}]
    assert second_answer.parts == [{"type": "text", "text": "The second half is likewise invented."}]
    assert second_user.parent_source_id == first_answer.source_id


def test_panchat_japanese_row_is_recognised_and_stripped() -> None:
    convs, _, _ = _parse_fixture("panchat__gemini_myactivity.json")
    japanese = convs[1]
    assert _texts(japanese) == [("user", "これは作り話です"), ("assistant", "これも作り話です。")]
    assert japanese.messages[0].metadata["prompt_prefix"] == "ja"
    assert japanese.source_url is None


def test_panchat_missing_answer_row_is_a_one_message_conversation() -> None:
    convs, _, _ = _parse_fixture("panchat__gemini_myactivity.json")
    lone = convs[0]
    assert _texts(lone) == [("user", "A question whose answer Google did not keep")]
    assert lone.created_at == lone.updated_at == datetime(2026, 7, 17, 7, 0, tzinfo=UTC)


def test_reimporting_a_fixture_gives_the_same_ids() -> None:
    first, _, _ = _parse_fixture("panchat__gemini_myactivity.json")
    second, _, _ = _parse_fixture("panchat__gemini_myactivity.json")
    assert [(c.source_id, [m.source_id for m in c.messages]) for c in first] == [
        (c.source_id, [m.source_id for m in c.messages]) for c in second
    ]


# --- prompt prefixes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "prompt", "language"),
    [
        ("Prompted What is 2+2?", "What is 2+2?", "en"),
        ("Asked how tall is K2", "how tall is K2", "en"),
        ("Said hello there", "hello there", "en"),
        ("Submitted query weather Oslo", "weather Oslo", "en"),
        ("Eingegebener Prompt: Wie spät ist es?", "Wie spät ist es?", "de"),
        ("送信したメッセージ: こんにちは", "こんにちは", "ja"),
        ("送信したメッセージ：こんにちは", "こんにちは", "ja"),
        ("Requête envoyée\u202f: Quelle heure est-il ?", "Quelle heure est-il ?", "fr"),
        ("Prompt envoyé : Bonjour", "Bonjour", "fr"),
        ("Has dicho: ¿Qué hora es?", "¿Qué hora es?", "es"),
        ("Hiciste la petición dime un chiste", "dime un chiste", "es"),
        ("Υποβλήθηκε το ερώτημα τι ώρα είναι", "τι ώρα είναι", "el"),
    ],
)
def test_localized_prompt_prefixes_are_stripped(title: str, prompt: str, language: str) -> None:
    assert strip_prompt_prefix(title) == (prompt, language)


def test_an_unknown_prefix_keeps_the_whole_title() -> None:
    assert strip_prompt_prefix("Hai chiesto: che ore sono?") == ("Hai chiesto: che ore sono?", None)
    # A prefix word must be followed by a separator, not glued to the prompt.
    assert strip_prompt_prefix("Promptedness matters") == ("Promptedness matters", None)


def test_unknown_prefix_rows_are_kept_and_marked() -> None:
    items = _parse_rows([_row("Hai chiesto: che ore sono?", "2026-01-01T10:00:00Z", "<p>Le 10.</p>")])
    (conv,) = items
    assert conv.title == "Hai chiesto: che ore sono?"
    assert conv.messages[0].metadata["prompt_prefix"] is None


# --- thread ids --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "thread"),
    [
        ("https://gemini.google.com/app/c/invented-thread-1?hl=en", "invented-thread-1"),
        ("https://gemini.google.com/app/4f1e2a9b8c7d6e5f", "4f1e2a9b8c7d6e5f"),
        ("https://gemini.google.com/u/1/app/4f1e2a9b8c7d", "4f1e2a9b8c7d"),
        ("https://gemini.google.com/gem/coding-partner/0a1b2c3d4e", "0a1b2c3d4e"),
        ("https://bard.google.com/chat/c_abc123", "c_abc123"),
        ("https://gemini.google.com/app", None),
        ("https://www.google.com/search?q=gemini.google.com/app/x123", None),
        (None, None),
    ],
)
def test_thread_ids_come_only_from_gemini_conversation_links(url: str | None, thread: str | None) -> None:
    assert thread_id_from_url(url) == thread


# --- grouping by time ----------------------------------------------------------------------


def test_rows_thirty_minutes_apart_join_and_thirty_one_minutes_apart_split() -> None:
    rows = [
        _row("Prompted c", "2026-05-01T11:01:00Z"),
        _row("Prompted b", "2026-05-01T10:30:00Z"),
        _row("Prompted a", "2026-05-01T10:00:00Z"),
    ]
    convs, errors = _split(_parse_rows(rows))
    assert errors == []
    assert [[m.parts[0]["text"] for m in c.messages] for c in convs] == [["a", "b"], ["c"]]
    assert convs[0].metadata == {"grouping": "time_gap", "rows": 2, "gap_minutes": 30}


def test_the_gap_is_measured_from_the_previous_row_not_the_first() -> None:
    rows = [_row(f"Prompted q{i}", f"2026-05-01T10:{i * 20:02d}:00Z") for i in range(3)]
    convs, _ = _split(_parse_rows(rows))
    assert [len(c.messages) for c in convs] == [3]


def test_a_session_does_not_cross_midnight_utc() -> None:
    rows = [_row("Prompted late", "2026-05-01T23:50:00Z"), _row("Prompted early", "2026-05-02T00:05:00Z")]
    convs, _ = _split(_parse_rows(rows))
    assert [c.title for c in convs] == ["late", "early"]


def test_thread_rows_and_loose_rows_never_mix() -> None:
    rows = [
        _row(
            "Prompted in thread", "2026-05-01T10:00:00Z", "<p>a</p>", "https://gemini.google.com/app/abc123"
        ),
        _row("Prompted loose", "2026-05-01T10:05:00Z", "<p>b</p>"),
    ]
    convs, _ = _split(_parse_rows(rows))
    assert [(c.source_id == "abc123", c.title) for c in convs] == [(True, "in thread"), (False, "loose")]


def test_a_thread_row_with_a_bad_time_is_placed_last_in_its_thread() -> None:
    url = "https://gemini.google.com/app/abc123"
    rows = [
        _row("Prompted undated", "yesterday-ish", "<p>u</p>", url),
        _row("Prompted dated", "2026-05-01T10:00:00Z", "<p>d</p>", url),
    ]
    convs, errors = _split(_parse_rows(rows))
    assert errors == []
    (conv,) = convs
    assert [m.parts[0]["text"] for m in conv.messages] == ["dated", "d", "undated", "u"]
    undated = conv.messages[2]
    assert undated.created_at is None
    assert undated.metadata["time_raw"] == "yesterday-ish"
    assert conv.updated_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def test_ids_do_not_depend_on_row_positions() -> None:
    rows = [
        _row("Prompted one", "2026-05-01T10:00:00Z", "<p>1</p>"),
        _row("Prompted two", "2026-05-01T10:10:00Z"),
    ]
    newer = _row("Prompted three", "2026-05-03T09:00:00Z")
    (first,) = _parse_rows(rows)
    second = _parse_rows([newer, *rows])  # Takeout prepends new activity
    assert second[0].source_id == first.source_id
    assert [m.source_id for m in second[0].messages] == [m.source_id for m in first.messages]


def test_rows_with_the_same_time_and_prompt_get_distinct_message_ids() -> None:
    row = _row("Prompted again", "2026-05-01T10:00:00Z", "<p>x</p>")
    (conv,) = _parse_rows([row, dict(row)])
    ids = [m.source_id for m in conv.messages]
    assert len(ids) == 4 and len(set(ids)) == 4


def test_title_is_the_first_prompt_cut_to_eighty_characters() -> None:
    long_prompt = "word " * 40
    (conv,) = _parse_rows([_row("Prompted " + long_prompt, "2026-05-01T10:00:00Z")])
    assert len(conv.title) == 80
    assert conv.title.endswith("…")
    assert conv.title.startswith("word word")


def test_rich_answer_html_becomes_typed_parts() -> None:
    html = (
        '<p>Code:</p><pre><code class="language-js">let x = 1;</code></pre>'
        "<table><tr><th>k</th></tr><tr><td>v</td></tr></table>"
        '<p>See <a href="https://example.com">this</a>.</p><img src="https://example.com/i.png">'
    )
    (conv,) = _parse_rows([_row("Prompted show", "2026-05-01T10:00:00Z", html)])
    assert conv.messages[1].parts == [
        {"type": "text", "text": "Code:"},
        {"type": "code", "code": "let x = 1;", "language": "js"},
        {"type": "table", "headers": ["k"], "rows": [["v"]]},
        {"type": "text", "text": "See [this](https://example.com)."},
        {"type": "image", "ref": "https://example.com/i.png"},
    ]


def test_subtitles_are_kept_verbatim_in_metadata() -> None:
    row = _row("Prompted s", "2026-05-01T10:00:00Z")
    row["subtitles"] = [{"name": "Attached 1 file."}]
    (conv,) = _parse_rows([row])
    assert conv.messages[0].metadata["subtitles"] == [{"name": "Attached 1 file."}]


# --- bad input ---------------------------------------------------------------------------


def test_truncated_json_yields_the_rows_read_so_far_then_one_error() -> None:
    rows = [
        _row("Prompted kept", "2026-05-01T10:00:00Z", "<p>yes</p>"),
        _row("Prompted lost", "2026-05-01T10:01:00Z"),
    ]
    data = json.dumps(rows).encode()
    cut = data[: data.index(b"Prompted lost") + 5]
    items = _parse_rows(cut)
    assert isinstance(items[-1], RecordError)
    convs, errors = _split(items)
    assert [c.title for c in convs] == ["kept"]
    assert len(errors) == 1
    assert "truncated" in errors[0].message


def test_non_object_rows_and_rows_without_a_title_are_record_errors() -> None:
    skipped: Counter[str] = Counter()
    rows: list[Any] = [
        "not a row",
        {"header": "Gemini Apps", "time": "2026-05-01T10:00:00Z"},
        _row("Prompted fine", "2026-05-01T10:00:00Z"),
        {"header": "YouTube", "title": "Watched x", "time": "2026-05-01T10:00:00Z"},
    ]
    convs, errors = _split(_parse_rows(rows, skipped))
    assert [c.title for c in convs] == ["fine"]
    assert [e.record for e in errors] == ["row 0", "row 1"]
    assert skipped == Counter({"not_gemini": 1})


def test_a_top_level_object_is_reported_not_raised() -> None:
    items = _parse_rows(b'{"header": "Gemini Apps"}')
    assert len(items) == 1 and isinstance(items[0], RecordError)


def test_sniff_decides_from_content() -> None:
    gemini = json.dumps([_row("Prompted x", "2026-05-01T10:00:00Z")]).encode()
    localized = json.dumps(
        [{"header": "Gemini アプリ", "title": "x", "time": "2026-05-01T10:00:00Z"}]
    ).encode()
    search = json.dumps(
        [{"header": "Search", "title": "Searched for gemini", "time": "2026-05-01T10:00:00Z"}]
    ).encode()
    assert PARSER.sniff(gemini, "whatever.bin")
    assert PARSER.sniff(b"\xef\xbb\xbf" + localized, "x")
    assert not PARSER.sniff(search, "MyActivity.json")
    assert not PARSER.sniff(b'{"header": "Gemini Apps", "title": "x"}', "x")


# --- detection across every shared export --------------------------------------------------


_EXPECTED_FORMAT = {
    "chatlore__MyActivity.json": "gemini",
    "panchat__gemini_myactivity.json": "gemini",
    "openwebui-importer__aistudio_example.json": "aistudio",
    "polylogue__aistudio_branching_session.json": "aistudio",
    "polylogue__aistudio_code_execution_session.json": "aistudio",
    "polylogue__aistudio_multimodal_session.json": "aistudio",
    "openwebui-importer__webui-json.json": "openwebui",
}


def test_each_shared_export_is_claimed_only_by_its_own_parser_among_these() -> None:
    exports = shared_fixture("exports")
    ours = (PARSER, aistudio.PARSER, openwebui.PARSER, generic.PARSER)
    files = sorted(exports.glob("*/*.json"))
    assert files
    for path in files:
        head = Source.from_path(path).head()
        claimed = [p.name for p in ours if p.sniff(head, "neutral-name")]
        expected = _EXPECTED_FORMAT.get(path.name)
        assert claimed == ([expected] if expected else []), path.name
    assert {p.name for p in files} >= set(_EXPECTED_FORMAT)
