"""HTML fragments (Gemini's stored answers) into typed parts."""

from __future__ import annotations

from vivim.capture.html_parts import html_to_parts, html_to_text


def test_paragraphs_and_a_list_become_one_text_part_and_scripts_are_dropped() -> None:
    html = (
        "<p>Here is a simple recipe:</p><ul><li>500 g flour</li><li>325 g water</li></ul>"
        "<script>ignored()</script><p>Mix &amp; rest.</p>"
    )
    assert html_to_parts(html) == [
        {"type": "text", "text": "Here is a simple recipe:\n\n- 500 g flour\n- 325 g water\n\nMix & rest."}
    ]


def test_inline_markup_is_dropped_and_whitespace_collapsed() -> None:
    html = "<p>At   least <b>24\n hours</b> in the <i>fridge</i>.</p>"
    assert html_to_parts(html) == [{"type": "text", "text": "At least 24 hours in the fridge."}]


def test_pre_code_becomes_a_code_part_with_its_language_and_verbatim_whitespace() -> None:
    html = (
        "<p>Run this:</p>"
        '<pre><code class="hljs language-python">def f():\n    return  1\n</code></pre>'
        "<p>Done.</p>"
    )
    assert html_to_parts(html) == [
        {"type": "text", "text": "Run this:"},
        {"type": "code", "code": "def f():\n    return  1", "language": "python"},
        {"type": "text", "text": "Done."},
    ]


def test_pre_without_language_and_a_mermaid_block() -> None:
    assert html_to_parts("<pre>plain  text</pre>") == [{"type": "code", "code": "plain  text"}]
    assert html_to_parts('<pre><code class="language-mermaid">graph TD\nA--&gt;B</code></pre>') == [
        {"type": "mermaid", "mermaid": "graph TD\nA-->B"}
    ]
    assert html_to_parts('<pre data-language="rust"><code>fn main() {}</code></pre>') == [
        {"type": "code", "code": "fn main() {}", "language": "rust"}
    ]


def test_table_with_thead_becomes_headers_and_rows() -> None:
    html = (
        "<table><thead><tr><th>City</th><th>Pop.</th></tr></thead>"
        "<tbody><tr><td>Canberra</td><td>0.46 <b>M</b></td></tr>"
        "<tr><td>Sydney</td><td>5.3 M</td></tr></tbody></table>"
    )
    assert html_to_parts(html) == [
        {"type": "table", "headers": ["City", "Pop."], "rows": [["Canberra", "0.46 M"], ["Sydney", "5.3 M"]]}
    ]


def test_table_without_header_cells_has_no_headers_and_ignores_nested_table_rows() -> None:
    html = "<table><tr><td>a</td><td>b<table><tr><td>inner</td></tr></table></td></tr></table>"
    assert html_to_parts(html) == [{"type": "table", "headers": [], "rows": [["a", "b inner"]]}]


def test_images_are_references_and_data_uris_keep_only_type_and_size() -> None:
    html = (
        '<p>Look:</p><img src="https://example.com/cat.png" alt="a cat" width="64" height="32">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    assert html_to_parts(html) == [
        {"type": "text", "text": "Look:"},
        {"type": "image", "ref": "https://example.com/cat.png", "alt": "a cat", "width": 64, "height": 32},
        {"type": "image", "mime_type": "image/png", "size_bytes": 8},
    ]


def test_links_keep_their_url_in_the_text() -> None:
    html = (
        '<p>See <a href="https://docs.python.org/3/">the docs</a>, '
        '<a href="https://example.org">https://example.org</a> and <a href="#top">top</a>.</p>'
    )
    assert html_to_text(html) == ("See [the docs](https://docs.python.org/3/), https://example.org and top.")


def test_inline_code_keeps_backticks_and_br_is_a_newline() -> None:
    assert html_to_parts("<p>Use <code>ls -l</code><br>then exit</p>") == [
        {"type": "text", "text": "Use `ls -l`\nthen exit"}
    ]


def test_ordered_and_nested_lists_with_paragraphs_inside_items() -> None:
    html = '<ol start="3"><li><p>three</p></li><li>four<ul><li>deep</li></ul></li></ol><p>end</p>'
    assert html_to_parts(html) == [{"type": "text", "text": "3. three\n4. four\n  - deep\n\nend"}]


def test_tex_annotation_in_math_becomes_latex() -> None:
    html = (
        '<p>Area:</p><math display="block"><semantics><mi>A</mi>'
        '<annotation encoding="application/x-tex">A = \\pi r^2</annotation></semantics></math>'
    )
    assert html_to_parts(html) == [
        {"type": "text", "text": "Area:"},
        {"type": "latex", "latex": "A = \\pi r^2", "display": True},
    ]


def test_empty_script_only_and_plain_text_inputs() -> None:
    assert html_to_parts("") == []
    assert html_to_parts("   ") == []
    assert html_to_parts("<style>p{color:red}</style><!-- note --><script>x()</script>") == []
    assert html_to_parts("just text &lt;tag&gt;") == [{"type": "text", "text": "just text <tag>"}]


def test_broken_markup_does_not_raise() -> None:
    parts = html_to_parts("<p>unclosed <b>bold <table><tr><td>cell")
    assert [p["type"] for p in parts] == ["text", "table"]
    assert parts[0]["text"] == "unclosed bold"
    assert parts[1]["rows"] == [["cell"]]
