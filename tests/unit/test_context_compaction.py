"""Extractive compaction of a hand-written conversation: decisions, open questions, code
artifacts and summary, without an LLM."""

from __future__ import annotations

from vivim.context.budget import count
from vivim.context.compaction import compact, describe_artifact
from vivim.context.sources import Turn

CODE = """def to_cents(amount: str) -> int:
    units, _, frac = amount.partition(".")
    return int(units) * 100 + int((frac + "00")[:2])


class Ledger:
    pass"""

SCRIPT = [
    (
        "user",
        "I'm building a budgeting app for my family. Should I use SQLite or PostgreSQL for the backend?",
        None,
    ),
    (
        "assistant",
        "For a single-family app SQLite is simpler: one file, no server to run. PostgreSQL pays off "
        "with many concurrent writers, which a family budget does not have.",
        None,
    ),
    ("user", "Let's go with SQLite then. How do I store amounts without rounding errors?", None),
    (
        "assistant",
        "Store amounts as integer cents, never as floats. Here is a helper that parses a decimal "
        "string into cents:",
        CODE,
    ),
    (
        "user",
        "We decided to keep amounts in integer cents. What about currency conversion later? "
        "I'm not sure yet whether to support multiple users.",
        None,
    ),
    ("assistant", "Certainly, I'll use the helper in the import path as well. Integer cents it is.", None),
    ("user", "What's the best chart library for React Native?", None),
]


def turns() -> list[Turn]:
    out = []
    for i, (role, text, code) in enumerate(SCRIPT):
        parts_code = [{"type": "code", "language": "python", "code": code}] if code else []
        full = text + ("\n\n" + code if code else "")
        out.append(Turn(f"m{i}", f"src-{i}", i, role, None, full, text, parts_code))
    return out


def test_decisions_open_questions_and_code_are_found() -> None:
    c = compact("conv-1", turns(), max_tokens=400)
    assert c.key_decisions == [
        "user: Let's go with SQLite then.",
        "user: We decided to keep amounts in integer cents.",
    ]
    # Answered questions are not open; the unanswered and the undecided are, in order.
    assert c.open_questions == [
        "user: What about currency conversion later?",
        "user: I'm not sure yet whether to support multiple users.",
        "user: What's the best chart library for React Native?",
    ]
    assert c.code_artifacts == [
        {
            "language": "python",
            "lines": 7,
            "message_index": 3,
            "defines": ["to_cents", "Ledger"],
            "first_line": "def to_cents(amount: str) -> int:",
        }
    ]
    assert describe_artifact(c.code_artifacts[0]) == "python, 7 lines (message 3): to_cents, Ledger"
    assert (c.from_message_index, c.to_message_index) == (0, 6)


def test_summary_is_extractive_ordered_and_attributed() -> None:
    ts = turns()
    c = compact("conv-1", ts, max_tokens=400)
    assert c.summary, c
    sources = [t.prose for t in ts]
    positions = []
    for line in c.summary:
        speaker, _, sentence = line.partition(": ")
        assert speaker in ("user", "assistant")
        idx = next(i for i, s in enumerate(sources) if sentence in s)
        assert ts[idx].role == speaker
        positions.append(idx)
    assert positions == sorted(positions)
    assert c.summary[0] == "user: I'm building a budgeting app for my family."


def test_token_counts_and_ratio() -> None:
    ts = turns()
    c = compact("conv-1", ts, max_tokens=60)
    assert c.original_tokens == sum(count(t.text) for t in ts)
    assert c.compacted_tokens == count(c.render()) <= 60
    assert c.compression_ratio == round(c.compacted_tokens / c.original_tokens, 4)
    assert c.compression_ratio < 0.5
    text = c.render()
    assert text.startswith("Earlier in this conversation (messages 0-6, compacted from")
    md = c.render(markdown=True)
    assert md.startswith("**Earlier in this conversation")


def test_the_same_turns_give_the_same_id_and_an_edit_a_new_one() -> None:
    a = compact("conv-1", turns(), max_tokens=400)
    b = compact("conv-1", turns(), max_tokens=400)
    edited = turns()
    edited[2].text = edited[2].prose = "Let's go with PostgreSQL then."
    c = compact("conv-1", edited, max_tokens=400)
    assert a.id == b.id and a.id != c.id
