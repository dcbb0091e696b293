"""The contract every parser module follows.

A parser is a module-level object with a ``name`` (the format), a ``sniff`` that decides from
the first bytes whether an input is its format, and a ``parse`` that streams
:class:`ParsedConversation` values (or :class:`RecordError` for records it cannot read,
then carries on with the next record).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from vivim.domain.conversation import ParsedConversation, RecordError

ParseItem = ParsedConversation | RecordError

SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Source:
    """One input stream: a file on disk or a member of an archive."""

    name: str
    """What to call it in messages: the path, or ``archive.zip!member.json``."""
    opener: Callable[[], BinaryIO]
    size: int | None = None
    location: tuple[str, ...] | None = None
    """How another process can open the same input: ``("file", path)`` or
    ``("zip", archive, member)``; None for inputs that exist only in memory."""

    def open(self) -> BinaryIO:
        return self.opener()

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        with self.open() as f:
            return f.read(n)

    @classmethod
    def from_path(cls, path: Path) -> Source:
        return cls(
            name=str(path), opener=lambda: open(path, "rb"), size=path.stat().st_size, location=("file", str(path))
        )

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> Source:
        return cls(name=name, opener=lambda: io.BytesIO(data), size=len(data))

    @classmethod
    def from_zip_member(cls, archive: Path, member: zipfile.ZipInfo) -> Source:
        def opener() -> BinaryIO:
            zf = zipfile.ZipFile(archive)
            # The member stream keeps the archive open; closing it is enough for our use.
            return zf.open(member)

        return cls(
            name=f"{archive}!{member.filename}",
            opener=opener,
            size=member.file_size,
            location=("zip", str(archive), member.filename),
        )

    @classmethod
    def from_location(cls, location: tuple[str, ...]) -> Source:
        kind = location[0]
        if kind == "file":
            return cls.from_path(Path(location[1]))
        if kind == "zip":
            with zipfile.ZipFile(location[1]) as zf:
                member = zf.getinfo(location[2])
            return cls.from_zip_member(Path(location[1]), member)
        raise ValueError(f"unknown source location {location!r}")


class Parser(Protocol):
    name: str
    """Format name, e.g. ``chatgpt``; also accepted by ``vivim import --provider``."""

    def sniff(self, head: bytes, source_name: str) -> bool: ...

    def parse(self, source: Source) -> Iterator[ParseItem]: ...
