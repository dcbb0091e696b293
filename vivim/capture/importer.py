"""Import inputs into a user's vault: detect, parse (streaming), normalise, store, record.

Guarantees:
- a conversation is stored whole or not at all (each is written inside a savepoint of the
  batch transaction);
- re-running an import, even after a crash, gives exactly the result of one clean import
  (ids are derived from the provider's ids, saving is idempotent);
- one bad record costs that record only; the rest of the file still imports;
- memory stays bounded: parsers stream and batches are flushed as they fill.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from vivim.capture.base import Parser, Source
from vivim.capture.normalize import as_json
from vivim.capture.producer import Pending, fewer_gc_passes, producer_for
from vivim.capture.registry import detect
from vivim.capture.sources import SourceProblem, expand, fingerprint
from vivim.domain.canonical import content_hash
from vivim.domain.conversation import RecordError
from vivim.domain.errors import ParseError
from vivim.domain.ids import derived_id
from vivim.domain.times import to_iso, utcnow
from vivim.store.master import captures
from vivim.store.master.captures import Attempt, StatsDelta
from vivim.store.user.conversations import (
    ConversationRows,
    SaveResult,
    find_conversation_states,
    insert_new_conversations,
    save_conversation,
)
from vivim.store.user.db import UserStore

# Bump when normalisation changes what is stored, so fingerprinted files are re-read.
CAPTURE_VERSION = "1"
IMPORT_CACHE_KIB = 65_536  # SQLite page cache during imports, KiB (VIVIM_IMPORT_CACHE_KIB)
# WAL pages between two checkpoints during imports (SQLite's default is 1,000: 2 MiB here).
# Each batch's commit dirtied more than that, so every commit ended in a checkpoint that
# copied the index pages it had just written; then the next batch dirtied most of them
# again. Bounded, so the WAL stays well under the size of what is imported.
IMPORT_AUTOCHECKPOINT_PAGES = 32_768


class Progress(Protocol):
    def start_file(self, name: str, total_bytes: int | None) -> None: ...
    def advance(self, n_bytes: int) -> None: ...
    def conversation(self, status: str) -> None: ...
    def end_file(self, summary: FileSummary) -> None: ...


@dataclass
class FileSummary:
    source: str
    format: str | None = None
    status: str = "imported"
    """``imported``, ``unchanged`` (fingerprint matched), ``partial`` (some records failed),
    ``failed`` (nothing imported), ``skipped`` (an archive member that holds no conversations)."""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    new_messages: int = 0
    changed_messages: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    duration_ms: int = 0
    conversation_ids: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "status": self.status,
            "conversations": {
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "failed": self.failed,
            },
            "messages": {"new": self.new_messages, "changed": self.changed_messages},
            "errors": self.errors,
            "duration_ms": self.duration_ms,
        }


@dataclass
class ImportSummary:
    files: list[FileSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when at least one conversation is in the vault as a result."""
        return any(f.imported for f in self.files)

    def totals(self) -> dict[str, int]:
        keys = ("created", "updated", "unchanged", "failed", "new_messages", "changed_messages")
        out = {k: sum(getattr(f, k) for f in self.files) for k in keys}
        out["files"] = len(self.files)
        out["errors"] = sum(len(f.errors) for f in self.files)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "totals": self.totals(), "files": [f.to_json() for f in self.files]}


@dataclass
class Importer:
    """Imports for one user. ``master`` is the master DB (attempts and stats go there)."""

    store: UserStore
    master: Any
    user_id: str
    provider_hint: str | None = None
    progress: Progress | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    force: bool = False
    """Re-read files even when their fingerprint says they were fully imported already."""

    def import_paths(self, paths: Iterable[Path]) -> ImportSummary:
        with self.store.read() as conn:
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            autocheckpoint = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            # Inserts into the message indexes hit random pages (ids are hashes); a larger
            # page cache for the duration of an import keeps them in memory.
            conn.execute(
                f"PRAGMA cache_size = -{int(os.environ.get('VIVIM_IMPORT_CACHE_KIB', IMPORT_CACHE_KIB))}"
            )
            conn.execute(f"PRAGMA wal_autocheckpoint = {max(autocheckpoint, IMPORT_AUTOCHECKPOINT_PAGES)}")
        try:
            return self._import_paths(paths)
        finally:
            with self.store.read() as conn:
                conn.execute(f"PRAGMA cache_size = {cache}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
                if not self.store.in_transaction:
                    # What the import left in the WAL goes to the database now, not at
                    # some later, unrelated commit.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _import_paths(self, paths: Iterable[Path]) -> ImportSummary:
        summary = ImportSummary()
        for item in expand(list(paths)):
            if isinstance(item, SourceProblem):
                fs = FileSummary(source=item.name, status="failed")
                fs.errors.append({"record": "", "code": item.code, "message": item.message})
                self._record_file_attempt(fs, None, utcnow(), item.code, item.message)
                summary.files.append(fs)
                if self.progress:
                    self.progress.end_file(fs)
                continue
            summary.files.append(self.import_source(item))
        return summary

    # -- one source ---------------------------------------------------------------------
    def import_source(self, source: Source) -> FileSummary:
        started = utcnow()
        t0 = time.perf_counter()
        fs = FileSummary(source=source.name)
        if self.progress:
            self.progress.start_file(source.name, source.size)
        try:
            parser = detect(source, self.provider_hint)
        except ParseError as exc:
            if source.location and source.location[0] == "zip":
                # Provider archives hold more than conversations (user.json, feedback,
                # images...): a member no parser recognises is skipped, not a failure.
                fs.status = "skipped"
                fs.errors.append({"record": "", "code": "skipped", "message": str(exc)})
                if self.progress:
                    self.progress.end_file(fs)
                return fs
            return self._failed(fs, t0, started, exc.code, str(exc))
        except OSError as exc:
            return self._failed(fs, t0, started, "io_error", str(exc))
        fs.format = parser.name
        salt = f"{parser.name}\x1f{CAPTURE_VERSION}"
        try:
            fp, size = fingerprint(source, salt)
        except Exception as exc:  # unreadable archive member, I/O error
            return self._failed(fs, t0, started, "io_error", f"{source.name}: {exc}")
        if not self.force and self._already_imported(fp, fs):
            fs.status = "unchanged"
            if self.progress:
                self.progress.advance(size)
            self._finish(fs, t0, started, None, None)
            return fs
        self._parse_and_store(parser, source, fs)
        if fs.failed == 0 and not fs.errors and fs.imported:
            self._remember(fp, size, source, parser.name, fs)
        if fs.imported == 0:
            fs.status = "failed"
        elif fs.errors:
            fs.status = "partial"
        first_error = fs.errors[0] if fs.errors else None
        self._finish(
            fs,
            t0,
            started,
            first_error["code"] if first_error and fs.status == "failed" else None,
            first_error["message"] if first_error and fs.status == "failed" else None,
        )
        return fs

    def _failed(self, fs: FileSummary, t0: float, started: Any, code: str, message: str) -> FileSummary:
        """The whole input failed before any record was read."""
        fs.status = "failed"
        fs.errors.append({"record": "", "code": code, "message": message})
        self._finish(fs, t0, started, code, message)
        return fs

    def _finish(
        self, fs: FileSummary, t0: float, started: Any, code: str | None, message: str | None
    ) -> None:
        fs.duration_ms = int((time.perf_counter() - t0) * 1000)
        self._record_file_attempt(fs, fs.format, started, code, message)
        if self.progress:
            self.progress.end_file(fs)

    def _parse_and_store(self, parser: Parser, source: Source, fs: FileSummary) -> None:
        """Store each batch as it comes (for big inputs, while the parser process prepares
        the next one)."""
        on_read = self.progress.advance if self.progress else (lambda n: None)
        with fewer_gc_passes():
            for item in producer_for(source)(parser, source, on_read):
                if isinstance(item, RecordError):
                    fs.errors.append({"record": item.record, "code": item.code, "message": item.message})
                    if item.code != "read_error":
                        fs.failed += 1
                    self._record_failed_record(fs, item)
                    continue
                self._flush(item.items, fs)

    def _flush(self, batch: list[Pending], fs: FileSummary) -> None:
        captured_at = to_iso(utcnow())
        urls = [self._conversation_url(fs, p) for p in batch]
        with self.master.session() as s:
            retries = captures.failed_attempts(s, user_id=self.user_id, source_urls=urls)
        outcomes = self._store_batch(batch, captured_at)
        attempts: list[Attempt] = []
        deltas: dict[str, StatsDelta] = {}
        tally = FileSummary(source=fs.source)
        for conv, url, (result, error, started, done) in zip(batch, urls, outcomes, strict=True):
            rows = conv.rows
            retry = retries.get(url)
            retry_kw = {"retry_of": retry[0], "retry_count": retry[1] + 1} if retry else {}
            delta = deltas.setdefault(conv.provider, StatsDelta())
            delta.captures += 1
            delta.duration_ms_sum += (done - started).total_seconds() * 1000
            delta.last_capture_at = done
            if result is None or rows is None:
                tally.failed += 1
                tally.errors.append(
                    {"record": conv.title or conv.source_id, "code": "store_error", "message": error or ""}
                )
                delta.failures += 1
                attempts.append(
                    Attempt(
                        url,
                        conv.provider,
                        "failed",
                        started,
                        done,
                        error_code="store_error",
                        error_message=error,
                        ip_address=self.ip_address,
                        user_agent=self.user_agent,
                        **retry_kw,
                    )  # type: ignore[arg-type]
                )
                if self.progress:
                    self.progress.conversation("failed")
                continue
            setattr(tally, result.status, getattr(tally, result.status) + 1)
            tally.new_messages += result.new_messages
            tally.changed_messages += result.changed_messages
            tally.conversation_ids.append(rows.id)
            delta.successes += 1
            delta.message_count_sum += rows.counters["message_count"]
            delta.token_count_sum += rows.counters["total_tokens"]
            delta.new_messages += result.new_messages
            if result.status == "created":
                delta.new_code_blocks += rows.counters["total_code_blocks"]
                delta.new_images += rows.counters["total_images"]
                delta.new_tool_calls += rows.counters["total_tool_calls"]
            attempts.append(
                Attempt(
                    url,
                    conv.provider,
                    "success" if result.status != "unchanged" else "unchanged",
                    started,
                    done,
                    conversation_id=rows.id,
                    ip_address=self.ip_address,
                    user_agent=self.user_agent,
                    **retry_kw,
                )  # type: ignore[arg-type]
            )
            if self.progress:
                self.progress.conversation(result.status)
        with self.master.session() as s:
            captures.record_attempts(s, user_id=self.user_id, attempts=attempts)
            for provider, delta in deltas.items():
                captures.apply_stats(s, user_id=self.user_id, provider=provider, delta=delta)
        for key in ("created", "updated", "unchanged", "failed", "new_messages", "changed_messages"):
            setattr(fs, key, getattr(fs, key) + getattr(tally, key))
        fs.errors.extend(tally.errors)
        fs.conversation_ids.extend(tally.conversation_ids)

    def _store_batch(
        self, batch: list[Pending], captured_at: str
    ) -> list[tuple[SaveResult | None, str | None, datetime, datetime]]:
        """Write a batch: conversations not yet stored go in with two bulk statements (one
        transaction); the others one by one, each in its own savepoint so a failure costs
        only that conversation.

        If the bulk statements fail, their transaction is rolled back and the batch is
        written one by one instead, which names the conversation that fails."""
        out: list[tuple[SaveResult | None, str | None, datetime, datetime] | None] = [None] * len(batch)
        self._insert_fresh(batch, captured_at, out)
        if any(o is None for o in out):
            with self.store.transaction() as conn:
                for i, p in enumerate(batch):
                    if out[i] is not None:
                        continue
                    started = utcnow()
                    result: SaveResult | None = None
                    error = p.error
                    if p.rows is not None:
                        try:
                            with self.store.transaction():  # savepoint: this conversation or nothing
                                result = save_conversation(conn, p.rows, captured_at=captured_at)
                                if p.rows.custom_instructions:
                                    _save_custom_instructions(conn, p.rows, captured_at)
                        except Exception as exc:
                            error = f"conversation {p.source_id!r}: could not be stored: {exc}"
                            result = None
                    out[i] = (result, error, started, utcnow())
        return [o for o in out if o is not None]

    def _insert_fresh(
        self,
        batch: list[Pending],
        captured_at: str,
        out: list[tuple[SaveResult | None, str | None, datetime, datetime] | None],
    ) -> None:
        """The first-import fast path: the batch's conversations that are not stored yet,
        in one transaction of two bulk statements; fills in their ``out`` entries.

        Two things make it about twice as fast as before, both safe for rows built by
        :func:`normalize`: no savepoint (inside one, SQLite copies every page it first
        touches to a sub-journal), and no foreign-key checks (each message refers only to
        its own conversation, inserted by the same statements, and to parents of the same
        conversation, which normalize keeps only when present). The checks are off only
        while the store's lock is held, so no other user of the connection runs without."""
        with self.store.read() as conn:
            toggle = not self.store.in_transaction  # the pragma is a no-op inside a transaction
            if toggle:
                conn.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.store.transaction():
                    ids = [p.rows.id for p in batch if p.rows is not None]
                    existing = find_conversation_states(conn, ids)
                    seen: set[str] = set()
                    fresh: list[int] = []
                    for i, p in enumerate(batch):
                        if p.rows is not None and p.rows.id not in existing and p.rows.id not in seen:
                            fresh.append(i)
                        if p.rows is not None:
                            seen.add(p.rows.id)
                    if not fresh:
                        return
                    started = utcnow()
                    fresh_rows = [batch[i].rows for i in fresh]
                    insert_new_conversations(conn, fresh_rows, captured_at=captured_at)  # type: ignore[arg-type]
                    for r in fresh_rows:
                        if r is not None and r.custom_instructions:
                            _save_custom_instructions(conn, r, captured_at)
            except Exception:
                return  # rolled back: the caller writes them one by one
            finally:
                if toggle:
                    conn.execute("PRAGMA foreign_keys = ON")
        done = utcnow()
        per = (done - started) / max(1, len(fresh))
        for k, i in enumerate(fresh):
            rows = batch[i].rows
            assert rows is not None
            t0 = started + per * k
            out[i] = (SaveResult(rows.id, "created", 1, new_messages=len(rows.messages)), None, t0, t0 + per)

    # -- fingerprints --------------------------------------------------------------------
    def _already_imported(self, fp: str, fs: FileSummary) -> bool:
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT conversations FROM import_sources WHERE fingerprint = ?", (fp,)
            ).fetchone()
            if row is None:
                return False
            expected = dict(json.loads(row[0]))
            found = {}
            ids = list(expected)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT id, content_hash FROM conversations WHERE id IN ({','.join('?' * len(chunk))})"
                found.update(conn.execute(q, chunk).fetchall())
        if found != expected:
            return False  # something it wrote was deleted or changed since: import again
        fs.unchanged = len(expected)
        fs.conversation_ids = ids
        return True

    def _remember(self, fp: str, size: int, source: Source, fmt: str, fs: FileSummary) -> None:
        with self.store.transaction() as conn:
            ids = fs.conversation_ids
            hashes: dict[str, str] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT id, content_hash FROM conversations WHERE id IN ({','.join('?' * len(chunk))})"
                hashes.update(conn.execute(q, chunk).fetchall())
            conn.execute(
                "INSERT OR REPLACE INTO import_sources (fingerprint, source_name, format, size_bytes, conversations,"
                " imported_at) VALUES (?,?,?,?,?,?)",
                (fp, source.name, fmt, size, as_json(sorted(hashes.items())), to_iso(utcnow())),
            )

    # -- attempts ------------------------------------------------------------------------
    def _conversation_url(self, fs: FileSummary, conv: Pending) -> str:
        return conv.source_url or f"{fs.source}#{conv.source_id}"

    def _record_failed_record(self, fs: FileSummary, err: RecordError) -> None:
        now = utcnow()
        attempt = Attempt(
            f"{fs.source}#{err.record}",
            fs.format,
            "failed",
            now,
            now,
            error_code=err.code,
            error_message=err.message,
            ip_address=self.ip_address,
            user_agent=self.user_agent,
        )
        with self.master.session() as s:
            captures.record_attempts(s, user_id=self.user_id, attempts=[attempt])
            if fs.format:
                captures.apply_stats(
                    s, user_id=self.user_id, provider=fs.format, delta=StatsDelta(captures=1, failures=1)
                )
        if self.progress:
            self.progress.conversation("failed")

    def _record_file_attempt(
        self, fs: FileSummary, fmt: str | None, started: Any, code: str | None, message: str | None
    ) -> None:
        status = {"imported": "success", "unchanged": "unchanged", "partial": "partial", "failed": "failed"}[
            fs.status
        ]
        url = f"file://{Path(fs.source.split('!', 1)[0]).resolve()}" + (
            f"!{fs.source.split('!', 1)[1]}" if "!" in fs.source else ""
        )
        with self.master.session() as s:
            retry = captures.failed_attempts(s, user_id=self.user_id, source_urls=[url]).get(url)
            captures.record_attempts(
                s,
                user_id=self.user_id,
                attempts=[
                    Attempt(
                        url,
                        fmt,
                        status,
                        started,
                        utcnow(),
                        error_code=code,
                        error_message=message,
                        retry_of=retry[0] if retry else None,
                        retry_count=retry[1] + 1 if retry else 0,
                        ip_address=self.ip_address,
                        user_agent=self.user_agent,
                    )
                ],
            )


def _save_custom_instructions(conn: Any, rows: ConversationRows, now: str) -> None:
    for text in rows.custom_instructions:
        h = content_hash(text)
        conn.execute(
            "INSERT OR IGNORE INTO custom_instructions (id, content, content_hash, scope, source,"
            " source_conversation_id, created_at, updated_at) VALUES (?,?,?,'global',?,?,?,?)",
            (derived_id("instruction", h), text, h, f"{rows.provider}_export", rows.id, now, now),
        )


__all__ = ["FileSummary", "ImportSummary", "Importer", "Progress"]
