"""Checks an upload must pass before an import job is started for it.

They answer at once, with a 422 naming the file and the reason, for inputs that could not
import anything: an empty file, an unknown format, an archive that is not readable (e.g.
truncated), an unknown provider hint, and JSON that is not well formed. The JSON check is a
streaming pass (bounded memory, ~140 MB/s) over every JSON input; with ``allow_partial`` it
is skipped, and the import keeps the good records of a damaged file, as ``vivim import``
does locally.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from vivim.api.errors import ApiError
from vivim.capture.base import Source
from vivim.capture.registry import SHARE_PAGE_PROVIDERS, detect, format_names
from vivim.capture.sources import SourceProblem, expand
from vivim.domain.errors import ParseError

_NEVER = "vivim.preflight.never"  # an ijson prefix no document has: parse, build nothing


class _Counting:
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data


def display_names(job_dir: Path) -> Callable[[str], str]:
    """Maps server paths in messages back to the names the client uploaded."""
    pattern = re.compile(re.escape(str(job_dir)) + r"/\d+/")
    return lambda text: pattern.sub("", text)


def check_provider(provider: str | None) -> None:
    if provider is not None and provider not in set(format_names()) | set(SHARE_PAGE_PROVIDERS):
        known = ", ".join(sorted(set(format_names()) | set(SHARE_PAGE_PROVIDERS)))
        raise ApiError(422, "unknown_provider", f"unknown provider/format {provider[:40]!r}; known: {known}")


def _looks_like_json(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"{", b"[")


def _check_json(source: Source, show: Callable[[str], str]) -> None:
    with source.open() as raw:
        counted = _Counting(raw)
        try:
            for _ in ijson.items(counted, _NEVER, buf_size=1 << 16):
                pass
        except ijson.JSONError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid JSON"
            raise ApiError(
                422,
                "malformed_json",
                f"{show(source.name)}: not valid JSON (within the first {counted.count} bytes: {reason}); "
                "upload the complete file, or pass allow_partial=true to keep the records before the damage",
            ) from None


def _check_source(item: Source, provider: str | None, check_json: bool, show: Callable[[str], str]) -> None:
    try:
        head = item.head()
        if not head.strip():
            raise ApiError(422, "empty_file", f"{show(item.name)}: the file is empty")
        try:
            parser = detect(item, provider)
        except ParseError as exc:
            raise ApiError(422, "unknown_format", show(str(exc))) from None
        if check_json and parser.name != "share-page" and _looks_like_json(head):
            _check_json(item, show)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ApiError(422, "bad_archive", f"{show(item.name)}: damaged archive member ({exc})") from None
    except OSError as exc:
        raise ApiError(422, "unreadable", f"{show(item.name)}: cannot be read: {exc}") from None


def preflight(paths: list[Path], *, provider: str | None, check_json: bool, job_dir: Path) -> dict[str, Any]:
    """Raise :class:`ApiError` (422) for an upload that cannot import; else return what the
    job needs to report progress: ``{"bytes_total": int, "sources": int}``.

    Every uploaded file must be importable. An archive is importable when at least one of
    its members is: provider exports carry members that are not conversations (a ChatGPT
    export's ``user.json``), which the import reports and skips.
    """
    show = display_names(job_dir)
    check_provider(provider)
    total = 0
    sources = 0
    for path in paths:
        items = list(expand([path]))
        archive = len(items) != 1 or (isinstance(items[0], Source) and "!" in items[0].name)
        first_error: ApiError | None = None
        usable = 0
        for item in items:
            try:
                if isinstance(item, SourceProblem):
                    code = {"empty": "empty_archive", "bad_zip": "bad_archive"}.get(item.code, item.code)
                    raise ApiError(422, code, show(item.message))
                _check_source(item, provider, check_json, show)
            except ApiError as exc:
                # Damaged JSON inside an archive refuses it like a damaged file would.
                if not archive or exc.code in ("malformed_json", "bad_archive"):
                    raise
                first_error = first_error or exc
                continue
            usable += 1
            total += item.size or 0
        if usable == 0:
            raise first_error or ApiError(422, "empty_archive", f"{show(str(path))}: nothing to import")
        sources += usable
    return {"bytes_total": total, "sources": sources}
