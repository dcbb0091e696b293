"""Building the search index of a user's vault: units, full-text entries, vectors, links.

Two steps, each resumable because each commits as it goes:
1. ``extract``: every conversation whose content (or the extractor) changed since its units
   were made is split into units, scored, signed, linked and put in the full-text index.
   Fast (tens of thousands of messages per second); search works on its output at once.
2. ``embed``: units without a vector get one. Slow (the model runs on the CPU), so it runs
   in the background and a killed run resumes where it stopped.

A unit's vector is ``normalise(e(self) + 0.7 * (e(prev + self) + e(self + next)))`` where
``e`` embeds "Speaker: text" and the pairs are the unit with its neighbour in reading
order (same conversation): a turn is understood with its context (docs/UNITS.md, and the
LoCoMo research in benchmarks/locomo_research.py).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vivim.capture.importer import CAPTURE_VERSION
from vivim.embed.base import Embedder, vector_to_blob
from vivim.identity.keys import KeyPair
from vivim.identity.signing import sign_unit
from vivim.search.vectors import index_for, top_k
from vivim.store.user import units as unit_store
from vivim.store.user.conversations import get_conversation, get_messages
from vivim.store.user.db import UserStore
from vivim.units.extract import EXTRACTOR_VERSION, UnitDraft, extract_conversation
from vivim.units.links import related_links, structural_links
from vivim.units.neardup import NearDuplicateIndex
from vivim.units.quality import score_units

NEIGHBOUR_WEIGHT = 0.7
# What produced the messages units are cut from: the capture pipeline's version.
PARSER_VERSION = f"capture-{CAPTURE_VERSION}"
EXTRACT_BATCH = 200  # conversations per transaction
EXTRACT_CACHE_KIB = 65_536
# After a run that added this many units, the full-text index is merged into one segment:
# a query reads every segment for each of its words, and FTS5's own incremental merging
# leaves several. On 100,000 units the merge takes 0.3 s and makes BM25 ranking about a
# quarter cheaper (docs/PERFORMANCE.md).
FTS_MERGE_MIN_UNITS = 1_000
EMBED_BATCH = 64  # conversations per transaction
RELATED_BATCH = 256  # units per similarity block (256 x all units, float32)
RELATED_CANDIDATES = 10

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class IndexReport:
    conversations: int = 0
    units_added: int = 0
    units_removed: int = 0
    units_embedded: int = 0
    related_links: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "units_added": self.units_added,
            "units_removed": self.units_removed,
            "units_embedded": self.units_embedded,
            "related_links": self.related_links,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
        }


def speaker_text(speaker: str, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


@dataclass
class _Plan:
    """What extraction decided for one conversation, before anything is written."""

    conversation_id: str
    state: str
    drafts: list[UnitDraft]
    fresh: list[UnitDraft]
    removed: list[str]
    authors: dict[str, str | None]


class Indexer:
    def __init__(
        self,
        store: UserStore,
        *,
        keypair: KeyPair,
        embedder: Embedder | None,
        parser_version: str | None = PARSER_VERSION,
        progress: ProgressFn | None = None,
    ) -> None:
        self.store = store
        self.keypair = keypair
        self.embedder = embedder
        self.parser_version = parser_version
        self.progress = progress or (lambda phase, done, total: None)
        self._neardup: NearDuplicateIndex | None = None
        self._embedded: list[str] = []

    # -- step 1: units ------------------------------------------------------------------------
    def _near_duplicates(self) -> NearDuplicateIndex:
        if self._neardup is None:
            index = NearDuplicateIndex()
            with self.store.read() as conn:
                index.add_many(conn.execute("SELECT id, content FROM atomic_chat_units"))
            self._neardup = index
        return self._neardup

    def extract(self, report: IndexReport | None = None) -> IndexReport:
        report = report or IndexReport()
        t0 = time.perf_counter()
        with self.store.read() as conn:
            pending = unit_store.conversations_needing_units(conn, EXTRACTOR_VERSION)
        if not pending:
            return report
        neardup = self._near_duplicates()
        now = datetime.now(UTC)
        with self.store.read() as conn:
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            # Each unit lands in a dozen indexes at random places; a larger page cache for
            # the run keeps them in memory (as imports do).
            conn.execute(f"PRAGMA cache_size = -{EXTRACT_CACHE_KIB}")
        added_before = report.units_added
        try:
            self._extract_batches(pending, neardup, now, report)
            if report.units_added - added_before >= FTS_MERGE_MIN_UNITS:
                with self.store.transaction() as conn:
                    conn.execute("INSERT INTO unit_fts (unit_fts) VALUES ('optimize')")
        finally:
            with self.store.read() as conn:
                conn.execute(f"PRAGMA cache_size = {cache}")
        report.seconds += time.perf_counter() - t0
        return report

    def _extract_batches(
        self, pending: list[str], neardup: NearDuplicateIndex, now: datetime, report: IndexReport
    ) -> None:
        total = len(pending)
        for start in range(0, total, EXTRACT_BATCH):
            chunk = pending[start : start + EXTRACT_BATCH]
            with self.store.transaction() as conn:
                plans = []
                for conv_id in chunk:
                    try:
                        plan = self._plan(conn, conv_id)
                    except Exception as exc:  # one bad conversation must not stop the index
                        report.errors.append(f"conversation {conv_id}: {type(exc).__name__}: {exc}")
                        continue
                    if plan is not None:
                        plans.append(plan)
                for plan in plans:
                    for uid in plan.removed:
                        neardup.remove(uid)
                # Scored together: the near-duplicate index has a fixed cost per call.
                score_units([d for plan in plans for d in plan.fresh], neardup, now=now)
                for plan in plans:
                    try:
                        with self.store.transaction():  # this conversation's units, or none
                            self._write(conn, plan, now)
                    except Exception as exc:
                        report.errors.append(
                            f"conversation {plan.conversation_id}: {type(exc).__name__}: {exc}"
                        )
                        continue
                    report.units_added += len(plan.fresh)
                    report.units_removed += len(plan.removed)
                unit_store.bump_search_generation(conn)
            report.conversations += len(chunk)
            self.progress("units", min(start + EXTRACT_BATCH, total), total)

    def _plan(self, conn: Any, conv_id: str) -> _Plan | None:
        conversation = get_conversation(conn, conv_id)
        if conversation is None:
            return None
        messages = get_messages(conn, conv_id)
        drafts = extract_conversation(conversation, messages, parser_version=self.parser_version)
        existing = unit_store.conversation_unit_ids(conn, conv_id)
        return _Plan(
            conversation_id=conv_id,
            state=f"{conversation['content_hash']}:{EXTRACTOR_VERSION}",
            drafts=drafts,
            fresh=[d for d in drafts if d.id not in existing],
            removed=sorted(existing - {d.id for d in drafts}),
            authors={m["id"]: m.get("author") or m.get("role") for m in messages},
        )

    def _write(self, conn: Any, plan: _Plan, now: datetime) -> None:
        if plan.removed:
            unit_store.delete_units(conn, plan.removed)
        if plan.fresh:
            created_at = now.isoformat(timespec="microseconds")[:26] + "Z"
            signatures = [
                sign_unit(
                    self.keypair, {**_columns(d), "author_did": self.keypair.did, "created_at": created_at}
                )
                for d in plan.fresh
            ]
            unit_store.insert_units(
                conn,
                plan.fresh,
                author_did=self.keypair.did,
                signatures=signatures,
                authors=[plan.authors.get(d.message_id) for d in plan.fresh],
                index_texts=[d.content for d in plan.fresh],
                created_at=created_at,
            )
        if plan.removed or plan.fresh:
            unit_store.clear_embeddings(conn, plan.conversation_id)
            links = structural_links(plan.drafts)
            unit_store.insert_links(conn, links, created_by_did=self.keypair.did, created_at=now.isoformat())
        unit_store.set_units_state(conn, plan.conversation_id, plan.state)

    # -- step 2: vectors ------------------------------------------------------------------------
    def embed(self, report: IndexReport | None = None, *, limit_seconds: float | None = None) -> IndexReport:
        report = report or IndexReport()
        if self.embedder is None:
            return report
        t0 = time.perf_counter()
        with self.store.read() as conn:
            total_units, embedded = unit_store.count_units(conn)
        todo = total_units - embedded
        done = 0
        while True:
            with self.store.read() as conn:
                conversations = unit_store.conversations_needing_embeddings(conn, EMBED_BATCH)
                work = [(c, unit_store.units_in_reading_order(conn, c)) for c in conversations]
            if not work:
                break
            rows = self._vectors(work)
            with self.store.transaction() as conn:
                unit_store.store_embeddings(conn, rows, model=self.embedder.model_id, dim=self.embedder.dim)
                unit_store.bump_search_generation(conn)
            done += len(rows)
            report.units_embedded += len(rows)
            self._embedded.extend(uid for uid, _ in rows)
            self.progress("vectors", done, todo)
            if limit_seconds is not None and time.perf_counter() - t0 > limit_seconds:
                break
        report.seconds += time.perf_counter() - t0
        return report

    def _vectors(self, work: list[tuple[str, list[tuple[str, str, str, bool]]]]) -> list[tuple[str, bytes]]:
        """Vectors for every unit of the given conversations that lacks one."""
        assert self.embedder is not None
        texts: list[str] = []
        index: dict[str, int] = {}

        def slot(text: str) -> int:
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
            return index[text]

        plan: list[tuple[str, int, list[int]]] = []
        for _conv, units in work:
            spoken = [speaker_text(s, t) for _, s, t, _ in units]
            for i, (uid, _s, _t, has_vector) in enumerate(units):
                if has_vector:
                    continue
                pairs = []
                if i > 0:
                    pairs.append(slot(spoken[i - 1] + "\n" + spoken[i]))
                if i + 1 < len(units):
                    pairs.append(slot(spoken[i] + "\n" + spoken[i + 1]))
                plan.append((uid, slot(spoken[i]), pairs))
        vectors = self.embedder.embed(texts)
        out = []
        for uid, own, pairs in plan:
            v = vectors[own] + NEIGHBOUR_WEIGHT * vectors[pairs].sum(axis=0) if pairs else vectors[own].copy()
            norm = float(np.linalg.norm(v))
            out.append((uid, vector_to_blob((v / norm if norm else v).astype(np.float32))))
        return out

    # -- step 3: related links ----------------------------------------------------------------
    def link_related(
        self, report: IndexReport | None = None, unit_ids: list[str] | None = None
    ) -> IndexReport:
        """``related`` links from each newly embedded unit to its nearest units in other
        conversations (cosine of the context vectors >= RELATED_THRESHOLD)."""
        report = report or IndexReport()
        ids = unit_ids if unit_ids is not None else self._embedded
        if not ids or self.embedder is None:
            return report
        ix = index_for(self.store)
        rows = [r for r in (ix.row_of_id(uid) for uid in ids) if r is not None and ix.has_vector[r]]
        conv_ids = {code: cid for cid, code in ix.vocab["conversation"].items()}
        created_at = datetime.now(UTC).isoformat()
        for start in range(0, len(rows), RELATED_BATCH):
            batch = rows[start : start + RELATED_BATCH]
            sims = ix.matrix[batch] @ ix.matrix.T
            links = []
            for k, row in enumerate(batch):
                best = top_k(sims[k], RELATED_CANDIDATES)
                neighbours = [(ix.ids[j], conv_ids[int(ix.conversation[j])], float(sims[k, j])) for j in best]
                links.extend(
                    related_links(
                        ix.ids[row],
                        conv_ids[int(ix.conversation[row])],
                        neighbours,
                        model=self.embedder.model_id,
                    )
                )
            with self.store.transaction() as conn:
                unit_store.insert_links(conn, links, created_by_did=self.keypair.did, created_at=created_at)
            report.related_links += len(links)
            self.progress("links", min(start + RELATED_BATCH, len(rows)), len(rows))
        self._embedded = []
        return report

    def run(self, *, embed: bool = True) -> IndexReport:
        report = self.extract()
        if embed:
            self.embed(report)
            self.link_related(report)
        return report


def _columns(d: UnitDraft) -> dict[str, Any]:
    return {
        "id": d.id,
        "content": d.content,
        "content_hash": d.content_hash,
        "type": d.type,
        "category": d.category,
        "conversation_id": d.conversation_id,
        "message_id": d.message_id,
    }


class IndexBusy(Exception):
    """Another process is indexing this vault right now."""


@contextmanager
def index_lock(store: UserStore) -> Iterator[None]:
    """One indexer per vault at a time (another process's run would redo the same work and
    collide on the same rows). An advisory lock beside the DB file, released on exit or
    when the process dies."""
    path = Path(f"{store.path}.index-lock")
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another `vivim index` is already indexing {store.path.name}") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
