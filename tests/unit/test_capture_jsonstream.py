"""Streaming the records of a JSON array: the same values as decoding the whole document,
wherever the chunks happen to end, and one clear error after the good records otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vivim.capture import jsonstream
from vivim.capture.base import Source
from vivim.domain.conversation import RecordError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


def _stream(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(jsonstream, "_CHUNK_BYTES", chunk)
    return list(jsonstream.stream_json_records(Source.from_bytes("export.json", data)))


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(values, max_size=6),
    chunk=st.integers(min_value=1, max_value=64),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
)
def test_records_are_the_decoded_document_whatever_the_chunk_size(
    records: list[Any], chunk: int, indent: int | None, ascii_only: bool
) -> None:
    data = json.dumps(records, indent=indent, ensure_ascii=ascii_only).encode()
    with pytest.MonkeyPatch.context() as mp:
        got = _stream(data, chunk, mp)
    assert got == list(enumerate(records))


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(max_size=6), scalars, max_size=4), min_size=1, max_size=4),
       chunk=st.integers(min_value=1, max_value=16), data=st.data())
def test_a_cut_document_yields_each_complete_record_then_one_error(
    records: list[dict[str, Any]], chunk: int, data: st.DataObject
) -> None:
    whole = json.dumps(records, ensure_ascii=False).encode()
    cut = data.draw(st.integers(min_value=1, max_value=len(whole) - 1))
    prefix = whole[:cut]
    with pytest.MonkeyPatch.context() as mp:
        got = _stream(prefix, chunk, mp)
    *good, last = got
    assert isinstance(last, RecordError)
    assert good == list(enumerate(records[: len(good)]))
    assert last.record == f"record {len(good)}"
    # exactly the records whose text ends before the cut
    end, complete = 1, 0
    for record in records:
        end += len(json.dumps(record, ensure_ascii=False).encode())
        complete += end <= cut
        end += 2  # ", "
    assert len(good) == complete


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_a_malformed_record_in_the_middle_names_its_index(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    got = _stream(b'[{"a": 1},\n {"b": tru}, {"c": 3}]', chunk, monkeypatch)
    assert got[0] == (0, {"a": 1})
    assert isinstance(got[1], RecordError) and len(got) == 2
    assert got[1].record == "record 1" and "export.json" in got[1].message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[]", []),
        (b"  [ ]  ", []),
        (b"\xef\xbb\xbf[1]", [(0, 1)]),
        (b'{"only": "object"}', [(0, {"only": "object"})]),
        ('["caf\u00e9 \U0001f600"]'.encode(), [(0, "caf\u00e9 \U0001f600")]),
    ],
)
def test_small_documents(data: bytes, expected: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _stream(data, 1, monkeypatch) == expected


@pytest.mark.parametrize(
    ("data", "wanted"),
    [
        (b"", "input is empty"),
        (b"42", "starts with b'4'"),
        (b"[1 2]", "expected ',' or ']'"),
        (b"[1,]", "record 1"),
        (b'["\xff"]', "can't decode"),
    ],
)
def test_bad_documents_give_one_error_that_says_what(
    data: bytes, wanted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = _stream(data, 2, monkeypatch)
    assert isinstance(got[-1], RecordError) and wanted in got[-1].message
    assert all(not isinstance(g, RecordError) for g in got[:-1])
