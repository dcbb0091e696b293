"""Streaming the records of a top-level JSON array (or one top-level object).

Shared by the JSON export parsers: ijson keeps memory bounded whatever the file size, and
a malformed or truncated file ends with one RecordError after the records read before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import ijson

from vivim.capture.base import Source
from vivim.domain.conversation import ParsedConversation, RecordError

_UTF8_BOM = b"\xef\xbb\xbf"


class _CountingReader:
    """A byte stream that replays a peeked prefix and counts what was read (for messages)."""

    def __init__(self, raw: BinaryIO, prefix: bytes) -> None:
        self._raw = raw
        self._prefix = prefix
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0:
                data = self._prefix + self._raw.read()
                self._prefix = b""
            else:
                data, self._prefix = self._prefix[:n], self._prefix[n:]
        else:
            data = self._raw.read(n)
        self.consumed += len(data)
        return data


def stream_json_records(
    source: Source, *, allow_single_object: bool = True
) -> Iterator[tuple[int, Any] | RecordError]:
    """Yield ``(index, record)`` for each element of a top-level JSON array, streaming.

    A top-level object is yielded as record 0 when ``allow_single_object``. Malformed or
    truncated JSON ends the stream with one :class:`RecordError`; records read before the
    fault are still yielded. Shared by the JSON export parsers.
    """
    index = 0
    reader: _CountingReader | None = None
    try:
        with source.open() as raw:
            head = raw.read(4096)
            if head.startswith(_UTF8_BOM):
                head = head[len(_UTF8_BOM) :]
            while head and not head.strip():
                # Leading whitespace need not be replayed, so it is never held in memory.
                head = raw.read(65536)
            stripped = head.lstrip()
            first = stripped[:1]
            reader = _CountingReader(raw, head)
            if first == b"{" and allow_single_object:
                for record in ijson.items(reader, "", use_float=True):
                    yield 0, record
                    index = 1
                return
            if first != b"[":
                what = "empty" if not stripped else f"starts with {first!r}"
                yield RecordError(
                    source=source.name,
                    record="file",
                    message=f"{source.name}: expected a JSON array, input is {what}",
                )
                return
            for record in ijson.items(reader, "item", use_float=True):
                yield index, record
                index += 1
    except Exception as exc:  # any read or decode fault ends this input only
        detail = str(exc).strip().split("\n", 1)[0] or type(exc).__name__
        consumed = reader.consumed if reader is not None else 0
        yield RecordError(
            source=source.name,
            record=f"record {index}",
            message=(
                f"{source.name}: invalid or truncated JSON at record {index} "
                f"(after {index} complete records, within the first {consumed} bytes): {detail}"
            ),
        )




def parse_records(
    source: Source,
    convert: Callable[[dict[str, Any], int, str], ParsedConversation | RecordError],
    *,
    allow_single_object: bool = True,
) -> Iterator[ParsedConversation | RecordError]:
    """The parse loop of the JSON export parsers: stream records, refuse non-objects with a
    RecordError naming the record, and hand each object to ``convert(record, index,
    source_name)``."""
    for item in stream_json_records(source, allow_single_object=allow_single_object):
        if isinstance(item, RecordError):
            yield item
            return
        index, record = item
        if not isinstance(record, dict):
            yield RecordError(
                source=source.name,
                record=f"record {index}",
                message=f"record {index} is a JSON {type(record).__name__}, not a conversation object",
            )
            continue
        yield convert(record, index, source.name)
