"""Full-text ranking as a sum of each word's own BM25, kept per word.

FTS5's BM25 of words OR-ed together is a sum over the words: each word's idf times its
saturated frequency in the unit, and no word's part depends on the other words of the
query. So a word's part can be ranked once, for every unit it matches, and kept; a query
is then the sum of its words' parts, the same figures FTS5 gives for the whole query.

Why: FTS5 ranks an OR query by calling its bm25 function on every matching row, about
1.2 ms of a search at 100,000 units, where summing kept parts takes a tenth of that; and
the words of one person's searches recur. A word seen for the first time costs what it
did (one FTS5 ranking of that word alone).

The parts belong to one loaded index (their rows are its rows), so a vault change, which
loads a new index, starts afresh. They are bounded by ``MAX_ENTRIES`` (unit, score) pairs,
the least recently used words going first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vivim.search.vectors import UnitIndex

# 12 bytes a pair (int32 row, float64 score): about 32 MB.
MAX_ENTRIES = 2_800_000
# Words whose unit count is kept (an int each); beyond this the counts start afresh.
MAX_COUNTS = 100_000

Ranking = tuple[np.ndarray, np.ndarray]


def phrase(word: str) -> str:
    """``word`` as an FTS5 string: a literal, whatever characters it holds."""
    return '"' + word.replace('"', '""') + '"'


class WordScores:
    """Each word's BM25 part for every unit of one index it matches."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._parts: OrderedDict[str, Ranking] = OrderedDict()
        self._entries = 0
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._parts)

    def knows(self, words: list[str]) -> bool:
        """Whether every word was seen since the index loaded: it has a kept part, or a
        count (a word a search left out as too common, which reads nothing more while it
        stays left out)."""
        with self._lock:
            return all(w in self._parts or w in self._counts for w in words)

    def counts(self, conn: sqlite3.Connection, words: list[str]) -> dict[str, int]:
        """How many units contain each word (without ranking them: for words so common that
        the search leaves them out)."""
        out = {}
        for word in words:
            with self._lock:
                part = self._parts.get(word)
                count = part[0].size if part is not None else self._counts.get(word)
            if count is None:
                count = conn.execute(
                    "SELECT count(*) FROM unit_fts WHERE unit_fts MATCH ?", (phrase(word),)
                ).fetchone()[0]
                with self._lock:
                    if len(self._counts) >= MAX_COUNTS:
                        self._counts.clear()
                    self._counts[word] = count
            out[word] = count
        return out

    def part(self, conn: sqlite3.Connection, ix: UnitIndex, word: str) -> Ranking:
        """(rows, scores) of the units that contain ``word``, rows ascending."""
        with self._lock:
            found = self._parts.get(word)
            if found is not None:
                self._parts.move_to_end(word)
                return found
        hits = np.array(
            conn.execute("SELECT rowid, -rank FROM unit_fts WHERE unit_fts MATCH ?", (phrase(word),)).fetchall(),
            dtype=np.float64,
        ).reshape(-1, 2)
        # A unit extracted after the index was loaded has no row yet: picked up on reload.
        rows, known = ix.rows_of_rowids(hits[:, 0].astype(np.int64))
        order = np.argsort(rows, kind="stable")
        part = rows[order].astype(np.int32), hits[known, 1][order]
        for array in part:  # shared by every search that asks for the word
            array.flags.writeable = False
        with self._lock:
            if word not in self._parts:
                self._parts[word] = part
                self._entries += part[0].size
                while self._entries > self.max_entries and len(self._parts) > 1:
                    _, (old_rows, _) = self._parts.popitem(last=False)
                    self._entries -= old_rows.size
        return part


def summed(parts: list[Ranking]) -> Ranking:
    """The parts added up per row: each row once, rows ascending."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if len(parts) == 1:
        return parts[0][0].astype(np.int64), parts[0][1]
    rows, where = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    return rows.astype(np.int64), np.bincount(where, weights=np.concatenate([p[1] for p in parts]))
