"""Extracting memories from stored conversations (runs after `vivim index`, or on its own).

Public functions:

- ``extract_memories(store, embedder=None, conversation_ids=None, rescan=False)`` ->
  :class:`ExtractReport`. Incremental: only conversations that are new or changed since
  their last extraction (``conversations.memories_state``) are read, unless ``rescan``.
- ``pending_conversations(store)`` -> how many conversations wait for extraction.

For each user message the rule-based extractor (:mod:`vivim.memory.extract`) finds
statements; each becomes a memory with provenance (conversation, message, and the unit
holding the sentence when units exist), unless it repeats one already remembered: then the
message is added to that memory's sources (``memory_sources``) and its mention count grows,
so a fact said ten times is one memory with ten sources. Identity and relationship
statements also become user facts. Memories the user deleted are not extracted again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from vivim.domain.ids import derived_id
from vivim.domain.parts import plain_text
from vivim.domain.times import to_iso, utcnow
from vivim.embed.base import Embedder
from vivim.memory.extract import (
    EXTRACTOR_VERSION,
    Statement,
    content_words,
    key_hash,
    normalise,
    similar,
    statements,
)
from vivim.memory.facts import upsert_fact
from vivim.memory.memories import embed_missing
from vivim.store.user.db import UserStore

BATCH = 200  # conversations per transaction
FACT_TYPES = frozenset({"IDENTITY", "RELATIONSHIP"})
EXTRACTED_FACT_CONFIDENCE = 0.8
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class ExtractReport:
    conversations: int = 0
    messages: int = 0
    memories_added: int = 0
    memories_merged: int = 0
    facts_added: int = 0
    embedded: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    """The conversations read (not in the JSON report)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "memories_added": self.memories_added,
            "memories_merged": self.memories_merged,
            "facts_added": self.facts_added,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
        }


class _Known:
    """The memories already in the vault, for merging: by key hash, and by meaning words
    (an inverted index per type, so near-duplicate checks look only at overlapping ones)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.by_hash: dict[str, str] = {}
        self.words: dict[str, frozenset[str]] = {}
        self.type_of: dict[str, str] = {}
        self.inverted: dict[tuple[str, str], set[str]] = {}
        for mid, digest, mtype, content in conn.execute("SELECT id, content_hash, memory_type, content FROM memories"):
            self.add(mid, digest, mtype, content_words(normalise(content)))
        self.suppressed = {r[0] for r in conn.execute("SELECT content_hash FROM memory_suppressions")}

    def add(self, mid: str, digest: str | None, mtype: str, words: frozenset[str]) -> None:
        if digest:
            self.by_hash.setdefault(digest, mid)
        self.words[mid] = words
        self.type_of[mid] = mtype
        for w in words:
            self.inverted.setdefault((mtype, w), set()).add(mid)

    def match(self, digest: str, mtype: str, words: frozenset[str]) -> str | None:
        found = self.by_hash.get(digest)
        if found:
            return found
        candidates: set[str] = set()
        for w in words:
            candidates |= self.inverted.get((mtype, w), set())
        for mid in sorted(candidates):
            if similar(words, self.words[mid]):
                return mid
        return None


def _user_text(parts_json: str) -> str:
    try:
        parts = json.loads(parts_json)
    except ValueError:
        return ""
    # Only prose the user typed: code, attachments and tool output are not statements.
    return "\n\n".join(plain_text(p) for p in parts if isinstance(p, dict) and p.get("type") == "text")


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


def _unit_for(units: list[tuple[str, str]], sentence: str) -> str | None:
    needle = _squash(sentence.rstrip("."))
    for uid, content in units:
        if needle and needle in _squash(content):
            return uid
    return None


def pending_conversations(store: UserStore) -> int:
    with store.read() as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM conversations WHERE memories_state IS NULL"
            " OR memories_state != COALESCE(content_hash, '') || ':' || ?",
            (EXTRACTOR_VERSION,),
        ).fetchone()[0]


def extract_memories(
    store: UserStore,
    *,
    embedder: Embedder | None = None,
    conversation_ids: list[str] | None = None,
    rescan: bool = False,
) -> ExtractReport:
    report = ExtractReport()
    t0 = time.perf_counter()
    with store.read() as conn:
        if conversation_ids is not None:
            pending = list(dict.fromkeys(conversation_ids))
        elif rescan:
            pending = [
                r[0] for r in conn.execute("SELECT id FROM conversations ORDER BY COALESCE(created_at, captured_at), id")
            ]
        else:
            pending = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM conversations WHERE memories_state IS NULL"
                    " OR memories_state != COALESCE(content_hash, '') || ':' || ?"
                    " ORDER BY COALESCE(created_at, captured_at), id",
                    (EXTRACTOR_VERSION,),
                )
            ]
        known = _Known(conn) if pending else None
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        assert known is not None
        with store.transaction() as conn:
            _extract_batch(conn, chunk, known, report)
        report.conversations += len(chunk)
        report.conversation_ids.extend(chunk)
    if pending:
        from vivim.memory.profiles import mark_dirty_for_conversations

        mark_dirty_for_conversations(store, pending)
    if embedder is not None:
        report.embedded = embed_missing(store, embedder)
    report.seconds = time.perf_counter() - t0
    return report


def _extract_batch(conn: sqlite3.Connection, chunk: list[str], known: _Known, report: ExtractReport) -> None:
    marks = ",".join("?" * len(chunk))
    # In the order given (oldest conversation first), so the first wording of a repeated
    # statement is the one a memory keeps.
    rank = {cid: i for i, cid in enumerate(chunk)}
    messages = sorted(
        conn.execute(
            f"SELECT id, conversation_id, parts, created_at, message_index, author FROM messages"
            f" WHERE conversation_id IN ({marks}) AND role = 'user' AND hidden = 0",
            chunk,
        ).fetchall(),
        key=lambda r: (rank[r[1]], r[4]),
    )
    units: dict[str, list[tuple[str, str]]] = {}
    for uid, mid, content in conn.execute(
        f"SELECT id, message_id, content FROM atomic_chat_units WHERE conversation_id IN ({marks})"
        " AND message_id IS NOT NULL ORDER BY message_index, position, id",
        chunk,
    ):
        units.setdefault(mid, []).append((uid, content))
    now = to_iso(utcnow())
    for message_id, conversation_id, parts_json, created_at, _index, author in messages:
        report.messages += 1
        speaker = author if author and author.lower() not in ("user", "you", "me") else None
        try:
            found = statements(_user_text(parts_json), speaker)
        except Exception as exc:  # one odd message must not stop extraction
            report.errors.append(f"message {message_id}: {type(exc).__name__}: {exc}")
            continue
        for st in found:
            _remember(conn, known, st, report, message_id=message_id, conversation_id=conversation_id,
                      unit_id=_unit_for(units.get(message_id, []), st.content), said_at=created_at, now=now,
                      speaker=speaker)
    conn.executemany(
        "UPDATE conversations SET memories_state = COALESCE(content_hash, '') || ':' || ? WHERE id = ?",
        [(EXTRACTOR_VERSION, cid) for cid in chunk],
    )


def _remember(
    conn: sqlite3.Connection,
    known: _Known,
    st: Statement,
    report: ExtractReport,
    *,
    message_id: str,
    conversation_id: str,
    unit_id: str | None,
    said_at: str | None,
    now: str,
    speaker: str | None,
) -> None:
    digest = key_hash(st.key)
    if digest in known.suppressed:
        return
    words = content_words(st.key)
    existing = known.match(digest, st.memory_type, words)
    memory_id = derived_id("memory", digest)
    if existing is None and conn.execute("SELECT 1 FROM memories WHERE id = ?", (memory_id,)).fetchone():
        existing = memory_id  # extracted before and since edited by the user: still the same memory
    if existing is not None:
        added = conn.execute(
            "INSERT OR IGNORE INTO memory_sources (memory_id, message_id, conversation_id, unit_id, excerpt,"
            " created_at) VALUES (?,?,?,?,?,?)",
            (existing, message_id, conversation_id, unit_id, st.content, now),
        ).rowcount
        if not added:
            return  # this message was already counted (a re-extraction)
        row = conn.execute("SELECT importance, metadata FROM memories WHERE id = ?", (existing,)).fetchone()
        meta = json.loads(row[1] or "{}")
        mentions = int(meta.get("mentions", 1)) + 1
        meta["mentions"] = mentions
        if said_at and said_at > str(meta.get("last_said_at") or ""):
            meta["last_said_at"] = said_at
        # Said again: a little more important each time, up to two points above its rule.
        importance = min(10, max(row[0], min(st.importance + 2, st.importance + mentions - 1)))
        conn.execute(
            "UPDATE memories SET importance = ?, metadata = ?, updated_at = ? WHERE id = ?",
            (importance, _dumps(meta), now, existing),
        )
        report.memories_merged += 1
        return
    meta: dict[str, Any] = {"origin": "extracted", "extractor": EXTRACTOR_VERSION, "mentions": 1,
                            "first_said_at": said_at, "last_said_at": said_at}
    if speaker:
        meta["speaker"] = speaker
    conn.execute(
        "INSERT INTO memories (id, content, summary, memory_type, category, content_hash, importance,"
        " source_conversation_id, source_message_id, source_unit_id, created_at, updated_at, metadata)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (memory_id, st.content, st.summary, st.memory_type, st.category, digest, st.importance, conversation_id,
         message_id, unit_id, now, now, _dumps(meta)),
    )
    conn.execute(
        "INSERT INTO memory_sources (memory_id, message_id, conversation_id, unit_id, excerpt, created_at)"
        " VALUES (?,?,?,?,?,?)",
        (memory_id, message_id, conversation_id, unit_id, st.content, now),
    )
    known.add(memory_id, digest, st.memory_type, words)
    report.memories_added += 1
    if st.memory_type in FACT_TYPES:
        _, created = upsert_fact(
            conn,
            st.summary,
            category=st.category,
            importance=st.importance,
            confidence=EXTRACTED_FACT_CONFIDENCE,
            digest=digest,
            source_conversation_id=conversation_id,
            source_message_id=message_id,
            metadata={"origin": "extracted", "memory_id": memory_id},
        )
        report.facts_added += int(created)


__all__ = ["ExtractReport", "extract_memories", "pending_conversations"]
