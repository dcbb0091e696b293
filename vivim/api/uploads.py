"""Streaming multipart uploads into a folder, with a hard size limit.

Starlette's own form parsing spools every file to disk before a handler can look at it,
so a size check in the handler would come after the disk filled up. This reads the raw
request stream instead: the declared Content-Length is checked before the first byte is
read, and the bytes actually received are counted as they arrive, so an upload is cut off
at the limit whatever the client declared. Files land in ``<dest>/<n>/<safe name>``; the
caller owns ``dest`` and removes it on any failure.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from vivim.api.errors import ApiError

FILE_FIELDS = ("files", "file")
MAX_FIELD_BYTES = 4096
MAX_NAME = 200
_UNSAFE = re.compile(r"[^\w.\- ()+,@=\[\]]")


@dataclass
class ReceivedFile:
    name: str
    """The client's file name, made safe (no folders, no control characters)."""
    path: Path
    size: int = 0


@dataclass
class Received:
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    body_bytes: int = 0


def safe_filename(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:MAX_NAME] or "upload"


def too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"the upload is larger than the limit of {limit} bytes")


class _Receiver:
    def __init__(self, dest: Path, max_files: int) -> None:
        self.dest = dest
        self.max_files = max_files
        self.result = Received()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None
        self._value = bytearray()
        self._file: ReceivedFile | None = None
        self._handle: IO[bytes] | None = None
        self._field_bytes = 0

    # python-multipart callbacks ------------------------------------------------------------
    def on_part_begin(self) -> None:
        self._disposition = b""
        self._field = None
        self._value = bytearray()
        self._file = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options and name in FILE_FIELDS:
            if len(self.result.files) >= self.max_files:
                raise ApiError(422, "too_many_files", f"at most {self.max_files} files per upload")
            folder = self.dest / str(len(self.result.files))
            folder.mkdir(parents=True)
            original = options[b"filename"].decode("utf-8", "replace")
            self._file = ReceivedFile(safe_filename(original), folder / safe_filename(original))
            self._handle = open(self._file.path, "wb")  # noqa: SIM115 - closed in on_part_end/close
            self.result.files.append(self._file)
        elif b"filename" in options:
            raise ApiError(422, "unexpected_file", f"files go in the 'files' field, not {name[:40]!r}")
        else:
            self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None and self._handle is not None:
            self._handle.write(chunk)
            self._file.size += len(chunk)
            return
        self._field_bytes += len(chunk)
        if self._field_bytes > MAX_FIELD_BYTES:
            raise ApiError(422, "field_too_large", f"form fields are limited to {MAX_FIELD_BYTES} bytes in all")
        self._value.extend(chunk)

    def on_part_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        elif self._field is not None:
            self.result.fields[self._field] = self._value.decode("utf-8", "replace")
        self._file = None
        self._field = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_upload(request: Request, dest: Path, *, max_bytes: int, max_files: int) -> Received:
    """Stream a multipart/form-data body into ``dest``; raises :class:`ApiError` (413, 415, 422)."""
    content_type = request.headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise ApiError(415, "unsupported_media_type", "send the files as multipart/form-data in the 'files' field")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_content_length", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise too_large(max_bytes)
    receiver = _Receiver(dest, max_files)
    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise too_large(max_bytes)
            # File data goes straight to disk from the parser callbacks: page-cache writes of
            # at most one network chunk, short enough not to stall the event loop.
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:
            raise ApiError(422, "incomplete_upload", "the multipart body ends early: the upload was cut off")
    except MultipartParseError as exc:
        raise ApiError(422, "invalid_multipart", f"the multipart body is malformed: {exc}") from None
    finally:
        receiver.close()
    receiver.result.body_bytes = total
    return receiver.result
