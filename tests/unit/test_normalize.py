"""The canonical JSON of stored parts and metadata is byte for byte what the standard
library writes: content hashes over it must not change between vivim versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vivim.capture.normalize import _dumps


def _reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-9, max_value=1e-3)
    | texts
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=20
)


@settings(max_examples=500, deadline=None)
@given(values)
def test_canonical_json_is_the_standard_librarys(value: Any) -> None:
    assert _dumps(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        1e-05,
        2.5e-7,
        0.0001,
        1e16,
        -0.0,
        2**64,
        {"b": 1, "a": [1.5e-5, "x\u2028\x7f\x00"]},
        "\ud800 a lone surrogate",
        [{"é": 1, "e": 2, "z": 3}],
        "the e-mail said 0.00001",
    ],
    ids=repr,
)
def test_values_where_fast_encoders_usually_differ(value: Any) -> None:
    assert _dumps(value) == _reference(value)


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError):
        _dumps({"when": object()})
