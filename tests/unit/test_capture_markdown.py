"""Splitting markdown message text into typed parts."""

from __future__ import annotations

import time

from vivim.capture.markdown import split_markdown


def test_plain_text_takes_the_fast_path_and_is_returned_unchanged() -> None:
    text = "  Hello there.\n\nNo markup here at all, only *emphasis* and `inline code`. "
    assert split_markdown(text) == [{"type": "text", "text": text}]


def test_empty_and_blank_text_give_no_parts() -> None:
    assert split_markdown("") == []
    assert split_markdown(" \n\t\n") == []


def test_fenced_code_becomes_a_code_part_between_text_parts() -> None:
    text = "Run this:\n\n```Python\nprint('hi')\nprint('there')\n```\n\nThen check the output."
    assert split_markdown(text) == [
        {"type": "text", "text": "Run this:"},
        {"type": "code", "code": "print('hi')\nprint('there')", "language": "python"},
        {"type": "text", "text": "Then check the output."},
    ]


def test_fence_without_language_has_no_language_key() -> None:
    assert split_markdown("```\nls -l\n```") == [{"type": "code", "code": "ls -l"}]


def test_tilde_fences_are_code_too() -> None:
    assert split_markdown("~~~sql\nSELECT 1;\n~~~") == [
        {"type": "code", "code": "SELECT 1;", "language": "sql"}
    ]


def test_longer_outer_fence_keeps_the_inner_fence_as_content() -> None:
    text = "Example:\n````markdown\n# Title\n```python\nx = 1\n```\n````\nEnd."
    assert split_markdown(text) == [
        {"type": "text", "text": "Example:"},
        {"type": "code", "code": "# Title\n```python\nx = 1\n```", "language": "markdown"},
        {"type": "text", "text": "End."},
    ]


def test_same_length_nested_fence_with_language_does_not_close_the_outer_block() -> None:
    text = "```markdown\nUse:\n```bash\nmake test\n```\nDone.\n```\nAfter."
    assert split_markdown(text) == [
        {"type": "code", "code": "Use:\n```bash\nmake test\n```\nDone.", "language": "markdown"},
        {"type": "text", "text": "After."},
    ]


def test_unclosed_fence_runs_to_the_end_of_the_text() -> None:
    assert split_markdown("Start\n```js\nlet a = 1;\nlet b") == [
        {"type": "text", "text": "Start"},
        {"type": "code", "code": "let a = 1;\nlet b", "language": "js"},
    ]


def test_triple_backticks_inside_a_line_are_not_a_fence() -> None:
    text = "Wrap it as ```code``` like so."
    assert split_markdown(text) == [{"type": "text", "text": text}]


def test_fence_indented_in_a_list_item_is_dedented() -> None:
    text = "1. Install:\n   ```bash\n   pip install x\n     --upgrade\n   ```\n2. Done"
    assert split_markdown(text) == [
        {"type": "text", "text": "1. Install:"},
        {"type": "code", "code": "pip install x\n  --upgrade", "language": "bash"},
        {"type": "text", "text": "2. Done"},
    ]


def test_mermaid_fence_becomes_a_mermaid_part() -> None:
    text = "Flow:\n```mermaid\ngraph TD\n  A-->B\n```"
    assert split_markdown(text) == [
        {"type": "text", "text": "Flow:"},
        {"type": "mermaid", "mermaid": "graph TD\n  A-->B"},
    ]


def test_math_fence_becomes_display_latex() -> None:
    assert split_markdown("```math\na^2 + b^2 = c^2\n```") == [
        {"type": "latex", "latex": "a^2 + b^2 = c^2", "display": True}
    ]


def test_dollar_dollar_and_bracket_math_become_display_latex() -> None:
    text = "Energy:\n$$\nE = mc^2\n$$\nand the sum \\[ \\sum_{i=1}^n i \\] is known."
    assert split_markdown(text) == [
        {"type": "text", "text": "Energy:"},
        {"type": "latex", "latex": "E = mc^2", "display": True},
        {"type": "text", "text": "and the sum"},
        {"type": "latex", "latex": "\\sum_{i=1}^n i", "display": True},
        {"type": "text", "text": " is known."},
    ]


def test_latex_inside_a_code_block_stays_code() -> None:
    text = "```tex\n$$x$$\n```"
    assert split_markdown(text) == [{"type": "code", "code": "$$x$$", "language": "tex"}]


def test_pipe_table_becomes_a_table_part_with_headers_and_rows() -> None:
    text = (
        "Prices:\n\n"
        "| Model | Input | Output |\n"
        "|:------|------:|:------:|\n"
        "| GPT-4o | $2.50 | $10 |\n"
        "| Haiku | $0.25 |\n"
        "| a \\| b | x | y | extra |\n"
        "\nThat is all."
    )
    assert split_markdown(text) == [
        {"type": "text", "text": "Prices:"},
        {
            "type": "table",
            "headers": ["Model", "Input", "Output"],
            "rows": [["GPT-4o", "$2.50", "$10"], ["Haiku", "$0.25", ""], ["a | b", "x", "y"]],
        },
        {"type": "text", "text": "That is all."},
    ]


def test_table_without_outer_pipes() -> None:
    assert split_markdown("a | b\n--- | ---\n1 | 2") == [
        {"type": "table", "headers": ["a", "b"], "rows": [["1", "2"]]}
    ]


def test_pipes_without_a_delimiter_row_are_plain_text() -> None:
    text = "Use a | b in the shell.\nOr c | d."
    assert split_markdown(text) == [{"type": "text", "text": text}]


def test_delimiter_row_with_a_different_cell_count_is_not_a_table() -> None:
    text = "| a | b |\n| --- |\n| 1 | 2 |"
    assert split_markdown(text) == [{"type": "text", "text": text}]


def test_all_kinds_together_keep_their_order() -> None:
    text = "Intro\n```py\nx = 1\n```\n| h |\n|---|\n| v |\n$$y$$\n```mermaid\nA-->B\n```\nOutro"
    assert [p["type"] for p in split_markdown(text)] == [
        "text",
        "code",
        "table",
        "latex",
        "mermaid",
        "text",
    ]


def test_plain_messages_split_fast() -> None:
    messages = [f"Message number {i} with a few ordinary words in it." for i in range(100_000)]
    start = time.perf_counter()
    for m in messages:
        split_markdown(m)
    # Far below the import budget of 100,000 messages per second, leaving room for slow CI.
    assert time.perf_counter() - start < 0.5
