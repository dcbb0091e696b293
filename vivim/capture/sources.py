"""Expanding what the user named (files, folders, zip archives) into input sources."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vivim.capture.base import Source

# Members of provider archives that hold conversations; the rest (user.json, feedback,
# images...) are not conversations and are skipped without noise.
_CANDIDATE_SUFFIXES = (".json", ".html", ".htm")


@dataclass(frozen=True)
class SourceProblem:
    """A path that could not even be opened as an input (missing, truncated archive...)."""

    name: str
    message: str
    code: str


def expand(paths: list[Path]) -> Iterator[Source | SourceProblem]:
    for path in paths:
        if not path.exists():
            yield SourceProblem(str(path), f"{path}: no such file or folder", "not_found")
        elif path.is_dir():
            found = False
            for child in sorted(path.rglob("*")):
                if child.is_file() and (
                    child.suffix.lower() in _CANDIDATE_SUFFIXES or child.suffix.lower() == ".zip"
                ):
                    found = True
                    yield from expand([child])
            if not found:
                yield SourceProblem(str(path), f"{path}: folder holds no .json, .html or .zip files", "empty")
        elif path.suffix.lower() == ".zip" or _is_zip(path):
            yield from _zip_members(path)
        else:
            yield Source.from_path(path)


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _zip_members(path: Path) -> Iterator[Source | SourceProblem]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            bad = zf.testzip() if path.stat().st_size < 64 * 1024 * 1024 else None
    except zipfile.BadZipFile as exc:
        yield SourceProblem(
            str(path), f"{path}: not a readable zip archive ({exc}); is the download complete?", "bad_zip"
        )
        return
    except OSError as exc:
        yield SourceProblem(str(path), f"{path}: {exc}", "io_error")
        return
    if bad is not None:
        yield SourceProblem(f"{path}!{bad}", f"{path}: member {bad} is damaged (CRC mismatch)", "bad_zip")
    candidates = [
        m for m in members if m.filename.lower().endswith(_CANDIDATE_SUFFIXES) and m.filename != bad
    ]
    if not candidates:
        yield SourceProblem(str(path), f"{path}: the archive holds no .json or .html files", "empty")
    for m in sorted(candidates, key=lambda m: m.filename):
        yield Source.from_zip_member(path, m)


def fingerprint(source: Source, salt: str) -> tuple[str, int]:
    """A hash of the source's bytes (and ``salt``: format + capture version) and its size."""
    h = hashlib.blake2b(salt.encode(), digest_size=20)
    size = 0
    with source.open() as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
