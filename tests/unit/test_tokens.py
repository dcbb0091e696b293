"""Token counts: rs_bpe's cl100k counter (what imports and budgets use) agrees with
tiktoken's cl100k (the reference, which vivim also uses to encode and decode)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shared import FIXTURES
from vivim.capture.tokens import count_tokens, count_tokens_many, encoding


def _reference(text: str) -> int:
    return len(encoding().encode_ordinary(text))


# The pre-tokenizer's hard cases: runs of whitespace before words and line ends, contractions
# in any case, digit groups, punctuation runs, combining marks, emoji with modifiers, CJK.
_PIECES = [" ", "  ", "\t", "\n", "\r\n", "\n\n ", "\u00a0", "\u3000", "a", "Z", "'s", "'LL", "'ve",
           "123", "4567", "...", "!?", "()", "é", "e\u0301", "Жж", "中文", "😀", "👍🏽", "\u200d",
           "def f(x):", "    return", "`", "$$"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join) | st.text(max_size=60))
def test_counts_match_tiktoken_on_awkward_text(text: str) -> None:
    assert count_tokens(text) == _reference(text)


def test_counts_match_tiktoken_on_every_shared_fixture() -> None:
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file()) if FIXTURES.exists() else []
    if not files:
        pytest.skip(f"shared fixtures not available ({FIXTURES} missing)")
    texts = [p.read_text(encoding="utf-8", errors="replace")[:300_000] for p in files]
    assert count_tokens_many(texts) == [_reference(t) for t in texts]


def test_empty_text_counts_nothing() -> None:
    assert count_tokens("") == 0 and count_tokens_many(["", "hello world"]) == [0, 2]
