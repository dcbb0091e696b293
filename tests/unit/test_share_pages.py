"""Saved share pages: the seven real captures in shared/fixtures, handmade pages under
tests/data/share_pages, and HTML snippets for the element -> parts conversion.

Expected values were read off the saved pages themselves (their markup and, for ChatGPT and
Kimi, the conversation data they embed).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import Counter
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from tests.shared import shared_fixture
from vivim.capture.base import Source
from vivim.capture.share_pages import PARSER, parse_html
from vivim.capture.share_pages.dom import Converter, data_uri_ref
from vivim.capture.share_pages.embedded import decode_turbo_stream, js_literal_to_json
from vivim.capture.share_pages.page import SavedPage, saved_url, share_id
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part
from vivim.domain.times import parse_time

DATA = Path(__file__).resolve().parent.parent / "data" / "share_pages"


def _page(provider: str) -> ParsedConversation:
    source = Source.from_path(shared_fixture(f"share-pages/{provider}.html"))
    assert PARSER.sniff(source.head(), "page.html")  # the name says nothing; the content does
    items = list(PARSER.parse(source))
    assert len(items) == 1 and isinstance(items[0], ParsedConversation), items
    return items[0]


def _parts(conv: ParsedConversation, kind: str) -> list[Part]:
    return [p for m in conv.messages for p in m.parts if p["type"] == kind]


def _roles(conv: ParsedConversation) -> list[str]:
    return [m.role for m in conv.messages]


def _first_text(message: ParsedMessage) -> str:
    return next(p["text"] for p in message.parts if p["type"] == "text")


def _html_parts(html: str, *, preserve_whitespace: bool = False) -> list[Part]:
    tree = LexborHTMLParser(f"<html><body><div id='root'>{html}</div></body></html>")
    root = tree.css_first("#root")
    assert root is not None
    converter = Converter(base_url="https://chat.example/share/1")
    return converter.parts(root, preserve_whitespace=preserve_whitespace)


# --- the seven real saved pages ------------------------------------------------------------


def test_chatgpt_page_reads_the_visible_turns_with_ids_times_and_thinking_from_the_stream() -> None:
    conv = _page("chatgpt")
    assert conv.provider == "chatgpt"
    assert conv.title == "OpenScroll Redesign Plan"
    assert conv.source_url == "https://chatgpt.com/share/6972e35f-2944-8006-a2ea-b005ff22c02c"
    assert conv.source_id == "6972e35f-2944-8006-a2ea-b005ff22c02c"
    assert conv.model == "gpt-5-2"
    assert conv.created_at == parse_time(1769123486.198)  # the first message, not the share
    assert conv.updated_at == parse_time(1769133975.941087)
    assert conv.metadata["shared_at"] == "2026-01-23T02:56:31.163717Z"
    assert _roles(conv) == ["user", "assistant"] * 7  # hidden system/tool records are not shown

    first = conv.messages[0]
    assert first.source_id == "700f54b8-f1bc-46df-be15-f9b113f833d4"
    assert first.created_at == parse_time(1769123486.198)
    assert first.parts == [
        {
            "type": "attachment",
            "name": "OPENSCROLL-Solution-Documentation.md",
            "mime_type": "text/markdown",
            "size_bytes": 20312,
            "ref": "file_000000001d0c71f496fb2c8e1db019bf",
        },
        {
            "type": "text",
            "text": "i am resedigning openscroll to leverage https://github.com/owenservera/SingleFile-VIVIM -",
        },
    ]
    answer = conv.messages[1]
    assert answer.source_id == "520b644a-8611-4ffd-8bd8-b30d473b9159"
    assert answer.parent_source_id == first.source_id
    assert answer.model == "gpt-5-2"
    assert answer.finish_reason == "stop"
    assert conv.messages[3].model == "gpt-5-t-mini"

    # The page labels an unlabelled fence with a highlighter guess ("markdown"); the
    # streamed markdown says no language was declared.
    codes = _parts(conv, "code")
    assert len(codes) == 28
    assert codes[0] == {"type": "code", "code": "*.vivim.html   (or *.vivim.md / *.vivim.json)"}
    prompt = next(p for p in conv.messages[3].parts if p["type"] == "code")
    assert prompt["language"] == "text"
    assert prompt["code"].split("\n")[0] == "SYSTEM ROLE"
    crypto = [p for p in conv.messages[5].parts if p["type"] == "code"][2]
    assert crypto["language"] == "javascript"
    assert crypto["code"].split("\n")[0] == "// vivim/crypto.js"
    assert Counter(p.get("language") for p in codes)["javascript"] == 7

    tables = _parts(conv, "table")
    assert [t["headers"] for t in tables] == [["Role", "Can combine early?"], ["Axis", "Meaning"]]
    assert tables[0]["rows"][0] == ["Browser Extension Architect", "+ AI Reverse-Engineer"]
    assert len(tables[0]["rows"]) == 6

    thinking = conv.messages[3].parts[0]
    assert thinking["type"] == "thinking" and thinking["summary"] == "Thought for 7s"
    assert thinking["text"].startswith("Gathering repo info and documenting citations\n\n")
    assert _parts(conv, "latex") == [] and _parts(conv, "image") == []


def test_chatgpt_citation_pills_become_links_named_after_the_linked_source() -> None:
    conv = _page("chatgpt")
    text = "\n".join(p["text"] for p in conv.messages[3].parts if p["type"] == "text")
    assert "[GitHub](https://github.com/gildas-lormeau/SingleFile?utm_source=chatgpt.com)" in text
    assert "[WIRED](https://www.wired.com/story/chatgpt-browser-extensions?utm_source=chatgpt.com)" in text
    assert "+3" not in text


def test_claude_page_keeps_attachments_links_and_code_languages() -> None:
    conv = _page("claude")
    url = "https://claude.ai/share/ca5ad573-749e-40a2-93f1-dc0473215fa5"
    assert conv.provider == "claude"
    assert conv.title == "Redesigning AI social media platform with local blockchain distribution"
    assert conv.source_url == url
    assert conv.source_id == "ca5ad573-749e-40a2-93f1-dc0473215fa5"
    assert _roles(conv) == ["user", "assistant", "user", "assistant"]
    # No ids in the page: stable ids derived from the share address and the position.
    assert [m.source_id for m in conv.messages] == [derived_id(url, str(i)) for i in range(4)]

    first = conv.messages[0]
    assert [p["name"] for p in first.parts if p["type"] == "attachment"] == [
        "openScroll_concept_and_design.md",
        "openScroll_master_vision_document.md",
        "openScroll_old_build_and_features.md",
        "openScroll_technical_documentation.md",
    ]
    assert _first_text(first) == (
        "THE attached markdowns are description of an old project i want to completely redesign . "
        "1. mobile app (build using bubblewrapp ) 2. leveraging at least "
        "https://github.com/owenservera/SingleFile and https://github.com/owenservera/x-algorithm "
        "3. as an ai social media platform where users share their conversations or snippets etc.. "
        "4. local-only distributed on-chain /// additional tools the project can leverage  /// "
        "https://github.com/owenservera/3FS-OpenScroll\n"
        "https://github.com/owenservera/CodeWebChat-VIVIM\n"
        "https://github.com/owenservera/itshover-VIVIM\n"
        "https://github.com/owenservera/textarea-VIVIM\n"
        "https://github.com/owenservera/IronCalc-VIVIM\n"
        "https://github.com/openinterpreter/open-interpreter /// generate a full claude code opus 4.5 prompt"
    )
    assert _first_text(conv.messages[2]) == "no-"

    codes = _parts(conv, "code")
    assert len(codes) == 11
    assert Counter(p.get("language") for p in codes) == {None: 7, "javascript": 4}
    js = next(p for p in codes if p.get("language") == "javascript")
    assert js["code"].split("\n")[0] == "// Browser extension or API service"
    assert codes[0]["code"].split("\n")[:2] == ["User", "- wallet_address (text, unique)"]
    assert _first_text(conv.messages[1]).startswith(
        "# OpenScroll 2.0 - Complete Rebuild Specification\n\n## Project Vision\n\n"
    )


def test_deepseek_page_reads_reasoning_and_falls_back_to_the_prompt_for_a_title() -> None:
    conv = _page("deepseek")
    url = "https://chat.deepseek.com/share/4ymfwectd144n9rq28"
    assert conv.provider == "deepseek"
    assert conv.source_url == url
    assert conv.source_id == "4ymfwectd144n9rq28"
    # Every DeepSeek share has the same <title>; the first prompt names the chat instead.
    assert conv.title == "create a stunning versionof this website targeted to silicon valley and san…"
    assert _roles(conv) == ["user", "assistant"] * 3
    assert conv.messages[0].source_id == derived_id(url, "0")

    first = conv.messages[0]
    assert first.parts[0] == {"type": "attachment"}  # the page hides shared files' names
    assert _first_text(first) == (
        "create a stunning versionof this website targeted to silicon valley and san francisco "
        "audience --- animate the intro so we zoom into the wor Engage and it feels 3D ---"
    )
    assert _first_text(conv.messages[2]) == "show me what it would look like"

    thoughts = _parts(conv, "thinking")
    assert [t["summary"] for t in thoughts] == [
        "Thought for 42 seconds",
        "Thought for 20 seconds",
        "Thought for 28 seconds",
    ]
    assert thoughts[0]["text"].startswith(
        "We are creating a version of the website targeted at a Silicon Valley and San Francisco audience."
    )
    codes = _parts(conv, "code")
    assert Counter(p.get("language") for p in codes) == {"text": 25, "css": 1, "javascript": 1}
    assert codes[0]["language"] == "css"
    assert codes[0]["code"].split("\n")[0] == ".engage-3d-zoom {"
    assert "Copy" not in codes[0]["code"] and "Download" not in codes[0]["code"]


def test_grok_page_keeps_katex_sources_display_apart_and_inline_in_the_sentence() -> None:
    conv = _page("grok")
    assert conv.provider == "grok"
    assert conv.title == "Moscow Rules: Espionage Tactics and Principles"
    # The saved address carried ?rid=...; the share address is the conversation's.
    assert conv.source_url == "https://grok.com/share/bGVnYWN5LWNvcHk_32845a54-452d-4563-b9ca-8d9871b40595"
    assert conv.source_id == "bGVnYWN5LWNvcHk_32845a54-452d-4563-b9ca-8d9871b40595"
    assert _roles(conv) == ["user", "assistant"] * 3
    assert [m.source_id for m in conv.messages[:2]] == [
        "f59a9edc-b193-4fa4-a00a-eb9b976a09db",
        "8842e6d9-873c-4ed7-babd-022eaf9b1ee3",
    ]
    assert [_first_text(m) for m in conv.messages if m.role == "user"] == [
        "moscow rules",
        "in math - as a set of axioms",
        "deraive each using foundatiojal math with full notation",
    ]
    latex = _parts(conv, "latex")
    assert len(latex) == 7 and all(p["display"] for p in latex)
    assert latex[0]["latex"] == (
        "P(H \\mid e) \\geq \\inf_{Q \\in \\mathcal{Q}} \\frac{\\int_H q(x) \\, dx}{\\int q(x) \\, dx}"
    )
    derivation = conv.messages[5]
    texts = [p["text"] for p in derivation.parts if p["type"] == "text"]
    assert "maximize the probability of mission success $P(\\text{success}) = " in texts[0]
    assert texts[1].startswith("where $\\mathcal{Q}$ is the ambiguity set")
    assert (
        sum(t.count("$") for m in conv.messages for p in m.parts if p["type"] == "text" for t in [p["text"]])
        == 82
    )
    # Source favicons and the avatar sit outside the message text.
    assert _parts(conv, "image") == []


def test_kimi_page_takes_ids_times_and_exact_file_metadata_from_the_hydration_state() -> None:
    conv = _page("kimi")
    assert conv.provider == "kimi"
    assert conv.title == "技术记录概念提炼"
    assert conv.source_url == "https://www.kimi.com/share/19be85a5-0c42-8bc7-8000-0000f26198c2"
    assert conv.source_id == "19be85a5-0c42-8bc7-8000-0000f26198c2"
    assert conv.created_at == parse_time(1767900896.797148)
    assert _roles(conv) == ["user", "assistant"]
    user, answer = conv.messages
    assert user.source_id == "19b9f1ad-e592-8036-8000-0ad2549d4d9b"
    assert answer.source_id == "19b9f1ad-e592-8037-8000-0ad22576f735"
    assert user.created_at == parse_time(1767900896.857132)
    assert user.parts == [
        {
            "type": "attachment",
            "name": "chat-Clone of New Chat.txt",
            "mime_type": "text/plain",
            "size_bytes": 935421,
            "ref": "19b9f19d-a212-80ce-8000-000079ad36f9",
        },
        {"type": "text", "text": "Extract and organize key concepts of this file"},
    ]
    assert [p["type"] for p in answer.parts] == ["thinking", "text", "table", "text"]
    thinking = answer.parts[0]
    assert (
        thinking["summary"]
        == "Bacterial Communication via Signals Synthesis Reception Contact Vesicles Nanotubes"
    )
    assert thinking["text"].startswith(
        'The user is asking me to "Extract and organize key concepts of this file,"'
    )
    assert answer.parts[1]["text"].startswith(
        "# Key Concepts in Bacterial Information Transfer (Phase 2: 2015-2022)\n\n"
    )
    table = answer.parts[2]
    assert table["headers"] == ["Mechanism", "Signal Type", "Transport", "Range", "Speed", "Fidelity"]
    assert table["rows"][0] == [
        "AHL QS",
        "Small molecule",
        "Passive diffusion",
        "Short (<100 μm)",
        "Fast (seconds)",
        "Low (noise-prone)",
    ]
    assert len(table["rows"]) == 6


def test_zai_page_reads_codemirror_code_mermaid_sources_and_the_model_name() -> None:
    conv = _page("zai")
    assert conv.provider == "zai"
    assert conv.title == "New Chat"  # what z.ai shows for a chat it never named
    assert conv.source_url == "https://chat.z.ai/s/e6b0a2c9-8439-4869-94aa-e46bed7e8040"
    assert conv.source_id == "e6b0a2c9-8439-4869-94aa-e46bed7e8040"
    assert _roles(conv) == ["user", "assistant"] * 3
    assert [m.model for m in conv.messages] == [None, "GLM-4.7"] * 3
    assert conv.messages[0].source_id == "76ad8bb4-6ba0-4d8a-8f4e-1a55226a07e8"
    assert conv.messages[1].metadata == {"shown_time": "Sunday, December 28, 2025 12:16 AM"}

    prompt = _first_text(conv.messages[0])  # plain text: its 21 lines survive
    lines = prompt.split("\n")
    assert len(lines) == 21 and len(prompt) == 3190
    assert lines[0].startswith(
        "design a series of  mremaid visualizaitons that would help me understand how to properly "
        "leverage the following /// - **Pester**: A testing framework for PowerShell"
    )
    assert lines[-1] == (
        "- **PowerShellGet**: Essential module for finding, installing, updating, and publishing "
        "PowerShell modules and resources from the Gallery."
    )
    assert conv.messages[2].parts == [
        {"type": "attachment", "name": "PROJECT_SOURCE_CODE_20251227_231710.txt"},
        {"type": "text", "text": "what is missing for this project top top productivitiy"},
    ]

    mermaid = _parts(conv, "mermaid")
    assert len(mermaid) == 8
    assert mermaid[0]["mermaid"].split("\n")[:2] == ["graph LR", "    Core[PowerShell Core]"]
    # Two diagrams failed to render on the page; their sources are still there.
    assert [m["mermaid"].split("\n")[0] for m in mermaid[5:]] == ["flowchart LR", "timeline", "graph LR"]
    codes = _parts(conv, "code")
    assert Counter(p.get("language") for p in codes) == {"powershell": 13, "json": 1, "yaml": 1, None: 1}
    assert codes[0] == {
        "type": "code",
        "code": "code --install-extension ms-vscode.PowerShell",
        "language": "powershell",
    }
    yaml = next(p for p in codes if p.get("language") == "yaml")
    assert yaml["code"].split("\n")[:3] == [
        "# .github/workflows/test-and-publish.yml",
        "name: Test and Publish PWS",
        "",
    ]
    tables = _parts(conv, "table")
    assert tables[0]["headers"] == ["Category", "Current State", "Missing for Top Productivity", "Impact"]
    assert len(tables) == 3
    thinking = conv.messages[3].parts[0]
    assert thinking["type"] == "thinking"
    assert thinking["text"].startswith(
        "嗯，用户想要了解如何让这个PowerShell Workspace项目达到顶级生产力水平。"
    )
    assert "\n> " not in thinking["text"]  # shown as a quotation, but it is not one


def test_lmarena_side_by_side_keeps_both_models_as_assistant_messages() -> None:
    conv = _page("lmarena")
    url = "https://lmarena.ai/c/019be8b4-a33e-71a5-a5b0-9ce1a574300d"
    assert conv.provider == "lmarena"
    assert conv.source_url == url
    assert conv.source_id == "019be8b4-a33e-71a5-a5b0-9ce1a574300d"
    assert (
        conv.title == "Complete Technical Design Specification Request"
    )  # the page's title is LMArena's own
    assert _roles(conv) == ["user", "assistant", "assistant"]
    assert conv.metadata["models"] == ["claude-opus-4-5-20251101-thinking-32k", "gpt-5.2-high"]
    assert conv.metadata["mode"] == "Side by Side"
    assert conv.model is None

    prompt, left, right = conv.messages
    assert _first_text(prompt).startswith(
        "# Complete Technical Design Specification Request\n\n## Community-Owned AI Knowledge Graph System\n\n"
        "You are tasked with creating a **complete, production-ready technical design specification**"
    )
    assert _first_text(prompt).endswith(
        "#### 4A. Ownership State Machine\n\nDefine exact ownership states and transitions:"
    )
    assert (left.author, left.model, left.status) == (
        "claude-opus-4-5-20251101-thinking-32k",
        "claude-opus-4-5-20251101-thinking-32k",
        "error",
    )
    assert left.parts == []
    assert left.metadata == {
        "error": "Something went wrong with this response, please try again.",
        "side": "A",
    }
    assert (right.author, right.model, right.status) == ("gpt-5.2-high", "gpt-5.2-high", "completed")
    assert right.metadata == {"side": "B"}
    assert left.parent_source_id == right.parent_source_id == prompt.source_id == derived_id(url, "0")
    assert _first_text(right).startswith(
        "# Community-Owned AI Knowledge Graph System — Production Technical Design Specification (Zero→Full)"
    )

    codes = _parts(conv, "code")
    assert Counter(p.get("language") for p in codes) == {"sql": 23, "json": 19, "text": 2}
    assert prompt.parts[1] == {
        "type": "code",
        "code": prompt.parts[1]["code"],
        "language": "text",
    }
    assert (
        prompt.parts[1]["code"].split("\n")[0]
        == "States: PRIVATE, PREPARING_SHARE, SHARED, DERIVATIVE, TOMBSTONE"
    )
    sql = next(p for p in right.parts if p["type"] == "code")
    assert (sql["language"], sql["code"].split("\n")[0]) == ("sql", "PRAGMA foreign_keys = ON;")
    assert [m["mermaid"].split("\n")[0] for m in _parts(conv, "mermaid")] == ["flowchart TB"]
    assert [t["headers"] for t in _parts(conv, "table")][0] == ["Option", "Pros", "Cons", "Decision"]


@pytest.mark.parametrize("provider", ["chatgpt", "claude", "deepseek", "grok", "kimi", "zai", "lmarena"])
def test_each_saved_page_parses_well_under_a_second(provider: str) -> None:
    source = Source.from_path(shared_fixture(f"share-pages/{provider}.html"))
    started = time.perf_counter()
    items = list(PARSER.parse(source))
    elapsed = time.perf_counter() - started
    assert isinstance(items[0], ParsedConversation)
    assert elapsed < 1.0, f"{provider}: {elapsed:.2f}s"


def test_no_part_carries_inline_image_bytes_or_page_chrome() -> None:
    for provider in ("chatgpt", "claude", "deepseek", "grok", "kimi", "zai", "lmarena"):
        conv = _page(provider)
        for message in conv.messages:
            for part in message.parts:
                assert "base64," not in str(part), (provider, part)
                if part["type"] == "text":
                    assert "Copy code" not in part["text"], provider


# --- handmade pages ------------------------------------------------------------------------


def test_a_page_without_any_address_is_recognised_by_its_markup_and_gets_derived_ids() -> None:
    source = Source.from_path(DATA / "chatgpt_no_url.html")
    assert PARSER.sniff(source.head(), source.name)
    (conv,) = list(PARSER.parse(source))
    assert isinstance(conv, ParsedConversation)
    assert conv.provider == "chatgpt"
    assert conv.source_url is None
    assert conv.title == "Prime sieve"
    assert conv.source_id == derived_id(
        "share-page", "chatgpt", "Prime sieve", "write a prime sieve\nin python, please"
    )
    user, answer = conv.messages
    assert (user.source_id, answer.source_id, answer.parent_source_id) == (
        "aaaa-0001",
        "aaaa-0002",
        "aaaa-0001",
    )
    assert user.parts == [{"type": "text", "text": "write a prime sieve\nin python, please"}]
    assert answer.model == "gpt-4o"
    assert answer.parts == [
        {
            "type": "text",
            "text": "Here is the **sieve of Eratosthenes**, see "
            "[Wikipedia](https://en.wikipedia.org/wiki/Sieve_of_Eratosthenes):",
        },
        {"type": "code", "code": "def sieve(n):\n    return [p for p in range(2, n)]", "language": "python"},
        {"type": "table", "headers": ["n", "primes below n"], "rows": [["10", "4"], ["100", "25"]]},
        {"type": "text", "text": "The count grows like $n / \\ln n$."},
        {"type": "latex", "latex": "\\pi(n) \\sim \\frac{n}{\\ln n}", "display": True},
    ]


def test_a_provider_page_saved_before_it_loaded_yields_one_clear_record_error() -> None:
    source = Source.from_path(DATA / "grok_not_loaded.html")
    assert PARSER.sniff(source.head(), source.name)
    (item,) = list(PARSER.parse(source))
    assert isinstance(item, RecordError)
    assert item.code == "no_messages"
    assert item.message == (
        f"{source.name}: saved Grok page but no messages found (was it saved before it finished loading?)"
    )


def test_an_ordinary_web_page_is_not_claimed_and_forcing_it_gives_a_record_error() -> None:
    # Documented behaviour: sniff leaves non-provider HTML alone (a link to claude.ai in the
    # text does not make it a Claude page); parsing it anyway says why nothing came out.
    source = Source.from_path(DATA / "not_a_chat.html")
    assert not PARSER.sniff(source.head(), source.name)
    (item,) = list(PARSER.parse(source))
    assert isinstance(item, RecordError)
    assert item.code == "unsupported_page"
    assert "not a saved share page of a supported provider" in item.message


def test_json_and_text_inputs_are_neither_claimed_nor_crash() -> None:
    assert not PARSER.sniff(b'[{"mapping": {}}]', "conversations.json")
    (item,) = list(PARSER.parse(Source.from_bytes("notes.txt", b"just some notes")))
    assert isinstance(item, RecordError) and item.message == "notes.txt: not an HTML page"


def test_a_claude_page_with_only_a_canonical_link_is_sniffed_and_parsed() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>Tea | Claude</title>"
        "<link rel=canonical href=https://claude.ai/share/1111-2222></head><body>"
        "<div data-test-render-count=1><div data-testid=user-message><p class=whitespace-pre-wrap>green or black?</p></div></div>"
        "<div data-test-render-count=1><div class=font-claude-response><div class=standard-markdown>"
        "<p>Green, <em>steeped</em> at 80 °C.</p></div></div></div></body></html>"
    ).encode()
    assert PARSER.sniff(html, "x.html")
    (conv,) = list(PARSER.parse(Source.from_bytes("x.html", html)))
    assert isinstance(conv, ParsedConversation)
    assert (conv.provider, conv.title, conv.source_id) == ("claude", "Tea", "1111-2222")
    assert [m.parts for m in conv.messages] == [
        [{"type": "text", "text": "green or black?"}],
        [{"type": "text", "text": "Green, *steeped* at 80 °C."}],
    ]
    assert conv.messages[1].source_id == derived_id("https://claude.ai/share/1111-2222", "1")


def test_parse_html_reports_a_broken_provider_page_instead_of_raising() -> None:
    html = "<!DOCTYPE html><html><head><link rel=canonical href=https://chat.deepseek.com/share/x></head><body></body></html>"
    item = parse_html("p.html", html)
    assert isinstance(item, RecordError)
    assert (
        item.message
        == "p.html: saved DeepSeek page but no messages found (was it saved before it finished loading?)"
    )


# --- page helpers ----------------------------------------------------------------------------


def test_saved_url_reads_singlefile_and_browser_comments() -> None:
    singlefile = "<!DOCTYPE html> <html><!--\n Page saved with SingleFile \n url: https://grok.com/share/abc?rid=1 \n saved date: x\n-->"
    assert saved_url(singlefile) == "https://grok.com/share/abc?rid=1"
    chrome = "<!DOCTYPE html>\n<!-- saved from url=(0040)https://chatgpt.com/share/abc-def -->\n<html>"
    assert saved_url(chrome) == "https://chatgpt.com/share/abc-def"
    assert saved_url("<html><body>no comment</body></html>") is None
    page = SavedPage.from_text("p", singlefile + "<title>t</title>")
    assert page.share_url("grok") == "https://grok.com/share/abc"
    assert page.share_url("claude") is None
    assert share_id("https://chat.z.ai/s/e6b0/") == "e6b0"


def test_turbo_stream_decoding_follows_indexes_and_special_values() -> None:
    flat = [{"_1": 2, "_3": -5, "_4": 5}, "title", "Hello", "gone", "items", [6, 2, -7], 3]
    assert decode_turbo_stream(flat) == {"title": "Hello", "gone": None, "items": [3, "Hello", None]}


def test_js_literals_become_json_without_touching_strings() -> None:
    js = '{"a":undefined,"n":BigInt("935421"),"s":"undefined BigInt(\\"1\\")"}'
    assert js_literal_to_json(js) == '{"a":null,"n":935421,"s":"undefined BigInt(\\"1\\")"}'


# --- element -> parts (dom.py) ---------------------------------------------------------------


def test_code_language_comes_from_the_class_or_from_the_header_label_and_buttons_are_dropped() -> None:
    html = (
        "<p>First:</p>"
        '<pre><code class="language-Python">print(1)\n</code></pre>'
        '<div class="code-wrap"><div class="hdr"><span>rust</span><button>Copy</button></div>'
        "<pre><span>fn main() {}</span></pre></div>"
        '<div class="md-code-block"><div class="banner"><span>bash</span><button><span>Download</span></button></div>'
        '<pre><code class="language-sh">ls -la</code></pre></div>'
    )
    assert _html_parts(html) == [
        {"type": "text", "text": "First:"},
        {"type": "code", "code": "print(1)", "language": "python"},
        {"type": "code", "code": "fn main() {}", "language": "rust"},
        # An explicit class wins over the label shown above the block.
        {"type": "code", "code": "ls -la", "language": "sh"},
    ]


def test_codemirror_and_shiki_lines_are_joined_and_mermaid_is_recognised() -> None:
    html = (
        '<div class="language-python"><div class="cm-editor"><div class="cm-gutters" aria-hidden="true">'
        '<div>1</div><div>2</div></div><div class="cm-content">'
        '<div class="cm-line">x = 1</div><div class="cm-line"><br></div><div class="cm-line">  y = 2</div>'
        "</div></div></div>"
        '<pre class="shiki"><code><span class="line">sequenceDiagram</span><span class="line">  A->>B: hi</span></code></pre>'
        '<pre><code class="language-mermaid">pie\n  "a": 1</code></pre>'
        "<pre><code>graph is a word, not a diagram</code></pre>"
    )
    assert _html_parts(html) == [
        {"type": "code", "code": "x = 1\n\n  y = 2", "language": "python"},
        {"type": "mermaid", "mermaid": "sequenceDiagram\n  A->>B: hi"},
        {"type": "mermaid", "mermaid": 'pie\n  "a": 1'},
        {"type": "code", "code": "graph is a word, not a diagram"},
    ]


def test_tables_get_headers_from_thead_or_a_leading_row_of_th_cells() -> None:
    html = (
        "<table><thead><tr><th><strong>Name</strong></th><th>Role</th></tr></thead>"
        "<tbody><tr><td>Ada</td><td>writes <em>code</em></td></tr></tbody></table>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1<br>2</td></tr></table>"
        "<table><tr><td>no</td><td>header</td></tr></table>"
    )
    assert _html_parts(html) == [
        {"type": "table", "headers": ["Name", "Role"], "rows": [["Ada", "writes code"]]},
        {"type": "table", "headers": ["k", "v"], "rows": [["a", "1 2"]]},
        {"type": "table", "headers": [], "rows": [["no", "header"]]},
    ]


def test_katex_display_math_is_a_latex_part_and_inline_math_stays_in_the_sentence() -> None:
    katex_inline = (
        '<span class="katex"><span class="katex-mathml"><math><semantics><mrow><mi>x</mi></mrow>'
        '<annotation encoding="application/x-tex"> x^2 </annotation></semantics></math></span>'
        '<span class="katex-html" aria-hidden="true">x2</span></span>'
    )
    katex_display = (
        '<span class="katex-display"><span class="katex"><span class="katex-mathml"><math display="block">'
        '<semantics><mrow></mrow><annotation encoding="application/x-tex">\\int_0^1 f</annotation>'
        '</semantics></math></span><span class="katex-html" aria-hidden="true">∫f</span></span></span>'
    )
    html = f"<p>Take {katex_inline} and then {katex_display} done.</p>"
    assert _html_parts(html) == [
        {"type": "text", "text": "Take $x^2$ and then"},
        {"type": "latex", "latex": "\\int_0^1 f", "display": True},
        {"type": "text", "text": "done."},
    ]


def test_mathjax_and_bare_mathml_fall_back_to_their_attributes() -> None:
    html = (
        '<mjx-container class="MathJax" display="true" data-latex="a+b"><mjx-math>a+b</mjx-math></mjx-container>'
        '<math display="block" alttext="E=mc^2"><mi>E</mi></math>'
        '<p>so <mjx-container class="MathJax" data-latex="c"><mjx-math>c</mjx-math></mjx-container> and '
        '<math alttext="d"><mi>d</mi></math> hold</p>'
    )
    assert _html_parts(html) == [
        {"type": "latex", "latex": "a+b", "display": True},
        {"type": "latex", "latex": "E=mc^2", "display": True},
        {"type": "text", "text": "so $c$ and $d$ hold"},
    ]


def test_data_uri_images_keep_only_a_hash_and_the_size() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    digest = hashlib.sha256(png).hexdigest()
    html = (
        f'<p>Look:</p><img src="{uri}" alt="chart" width="640" height="480">'
        '<img src="/files/a.jpg" alt="relative"><img src="data:," alt="dropped by SingleFile">'
    )
    assert _html_parts(html) == [
        {"type": "text", "text": "Look:"},
        {
            "type": "image",
            "ref": f"data:image/png;sha256={digest}",
            "alt": "chart",
            "mime_type": "image/png",
            "size_bytes": len(png),
            "width": 640,
            "height": 480,
        },
        {"type": "image", "ref": "https://chat.example/files/a.jpg", "alt": "relative"},
    ]
    assert data_uri_ref("data:image/svg+xml,%3Csvg%2F%3E") == (
        f"data:image/svg+xml;sha256={hashlib.sha256(b'<svg/>').hexdigest()}",
        "image/svg+xml",
        6,
    )
    assert data_uri_ref("data:,") is None


def test_scripts_styles_buttons_and_hidden_text_are_ignored() -> None:
    html = (
        "<style>.x{color:red}</style><script>alert('no')</script><noscript>enable js</noscript>"
        '<h5 class="sr-only">You said:</h5><p>Visible <button>Copy</button>text'
        '<span aria-hidden="true">decoration</span><span hidden>secret</span>.</p>'
        "<template><p>later</p></template><svg><text>icon</text></svg>"
    )
    assert _html_parts(html) == [{"type": "text", "text": "Visible text."}]


def test_prose_becomes_markdown_with_headings_nested_lists_quotes_and_links() -> None:
    html = (
        "<h2>Plan</h2><p>Read <a href='https://example.org/a'>the doc</a> or https://x.org, then "
        "<a href='https://x.org'>https://x.org</a> and <code>pip  install</code>.</p>"
        "<ol start='3'><li><p>three</p><ul><li>nested <strong>bold</strong></li></ul></li><li>four</li></ol>"
        "<blockquote><p>quoted</p></blockquote><hr><p>end<br>line</p>"
    )
    assert _html_parts(html) == [
        {
            "type": "text",
            "text": "## Plan\n\n"
            "Read [the doc](https://example.org/a) or https://x.org, then https://x.org and `pip install`.\n\n"
            "3. three\n   - nested **bold**\n4. four\n\n"
            "> quoted\n\n"
            "end\nline",
        }
    ]


def test_plain_text_prompts_keep_their_line_breaks_and_spacing() -> None:
    html = '<div class="bubble">  two  spaces\nnext line  </div>'
    assert _html_parts(html) == [{"type": "text", "text": "two spaces next line"}]
    assert _html_parts(html, preserve_whitespace=True) == [{"type": "text", "text": "two  spaces\nnext line"}]
    assert _html_parts('<p class="whitespace-pre-wrap">a\n  b</p>') == [{"type": "text", "text": "a\n  b"}]


def test_a_code_block_inside_a_list_item_splits_the_list_without_indenting_what_follows() -> None:
    html = "<ol><li><p>Install:</p><pre><code class='language-bash'>pip install x</code></pre><p>then run it</p></li><li>Done</li></ol>"
    assert _html_parts(html) == [
        {"type": "text", "text": "1. Install:"},
        {"type": "code", "code": "pip install x", "language": "bash"},
        {"type": "text", "text": "then run it\n2. Done"},
    ]
