"""Near-duplicate detection over a user's units: MinHash signatures with LSH banding.

Each text becomes the set of its word 3-shingles (whitespace-separated words, lowercased,
punctuation stripped from their ends; a text of fewer than three words is one shingle). A signature is a one-permutation MinHash (Li, Owen
and Zhang 2012) with densification by rotation (Shrivastava and Li 2014): every shingle is
hashed once to 64 bits, the top 6 bits pick one of 64 bins and the low 32 bits compete for
that bin's minimum; empty bins borrow (re-hashed) from the next non-empty bin. Only the low 16 bits of
each minimum are kept (b-bit MinHash, Li and König 2010): 128 bytes per unit. The share of
equal slots between two signatures estimates the Jaccard similarity of their shingle sets
(standard error at most 0.0625; the 16-bit truncation adds a 1/65,536 chance of a false
slot match).

Candidates come from 16 bands of 4 slots: two texts share a band bucket with probability
1 - (1 - J^4)^16 (J = 0.5: 64 %, J = 0.7: 99 %, J = 0.8: > 99.99 %). Pairs below about 0.4
are rarely candidates, so a similarity under that is reported as 0.0: this index finds near
duplicates, it is not a similarity search.

Band buckets are two sorted numpy arrays (28-bit bucket hash with the band number in the top
4 bits, and the row) plus a small dict of recent additions that is merged into them in
batches, so memory stays at about 256 bytes per unit and adds and queries stay fast.
Nothing here depends on the process (no ``hash()``), so the same text always gets the same
signature.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

NUM_PERM = 64
BANDS = 16
ROWS_PER_BAND = NUM_PERM // BANDS
SHINGLE = 3
QUERY_CHUNK = 4096
PAIRWISE_MAX = 256
"""Up to this many new units are compared with each other directly (an m x m matrix)."""
BUCKET_CAP = 64
"""At most this many rows are read from one bucket per query: a bucket that big holds
copies of one text (thousands of "ok thanks"), and any of them gives the same answer."""

# Stripped from both ends of a token: ASCII punctuation and the common Unicode marks.
_PUNCT = (
    "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
    + "“”‘’—–…«»·•¡¿。，、！？：；（）【】「」"
)
_SKIP = -1  # the "hash" of a token that is only punctuation: it is dropped
_M32 = np.uint64(0xFFFFFFFF)
_EMPTY = np.uint64(1 << 32)
_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_S32, _S40 = np.uint64(32), np.uint64(40)
_S58 = np.uint64(58)
_PAD = 0x5BD1E995  # the hash of the padding token that lengthens texts shorter than a shingle


def _token_hash(token: str) -> int:
    core = token.strip(_PUNCT)
    return zlib.crc32(core.encode("utf-8")) if core else _SKIP


def _tokens(text: str) -> list[str]:
    out = [c for c in (t.strip(_PUNCT) for t in text.lower().split()) if c]
    return out or [text.strip()]


# Array arithmetic on uint64 wraps silently (only NumPy scalars warn), which is what the
# hash functions below want.
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole word."""
    x = x ^ (x >> _S30)
    x *= _C1
    x ^= x >> _S27
    x *= _C2
    x ^= x >> _S31
    return x


class NearDuplicateIndex:
    """An incremental MinHash-LSH index of unit texts, keyed by unit id.

    Load the user's existing units with :meth:`add_many`, then add new ones; adding an id
    again replaces its text. :meth:`max_similarity` answers "how close is the nearest
    other unit"; exact copies (same content hash) score 1.0.
    """

    def __init__(self) -> None:
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint16)
        self._alive = np.zeros(0, dtype=bool)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._main_keys = np.zeros(0, dtype=np.uint32)
        self._main_rows = np.zeros(0, dtype=np.uint32)
        self._tail: dict[int, list[int]] = {}
        self._tail_rows = 0
        self._token_hash: dict[str, int] = {}

    # -- signatures -----------------------------------------------------------------------
    def _hashes(self, text: str) -> list[int]:
        """Token hashes of ``text``, padded to at least one shingle. Tokens are whitespace
        separated words, lowercased, with punctuation stripped from their ends (splitting
        on whitespace is several times faster than a regex, and copies split the same)."""
        tokens = text.lower().split()
        cache = self._token_hash
        out = list(map(cache.get, tokens))
        if None in out:
            for i, t in enumerate(tokens):
                if out[i] is None:
                    h = _token_hash(t)
                    if len(cache) < 1_000_000:
                        cache[t] = h
                    out[i] = h
        if _SKIP in out:
            out = [h for h in out if h != _SKIP]
        if not out:
            out = [zlib.crc32(text.strip().encode("utf-8"))]
        if len(out) < SHINGLE:
            out.extend([_PAD] * (SHINGLE - len(out)))
        return out

    def signatures(self, contents: Sequence[str]) -> np.ndarray:
        """Signatures of ``contents``: a ``(len(contents), 64)`` uint16 array."""
        m = len(contents)
        if m == 0:
            return np.zeros((0, NUM_PERM), dtype=np.uint16)
        out = np.empty((m, NUM_PERM), dtype=np.uint16)
        # Batches of ~200k tokens keep the temporary arrays small.
        start = 0
        while start < m:
            flat: list[int] = []
            lengths: list[int] = []
            end = start
            while end < m and (end == start or len(flat) < 200_000):
                hs = self._hashes(contents[end])
                flat.extend(hs)
                lengths.append(len(hs))
                end += 1
            out[start:end] = self._batch_signatures(flat, lengths)
            start = end
        return out

    def signature(self, content: str) -> np.ndarray:
        return self.signatures([content])[0]

    @staticmethod
    def _batch_signatures(flat: list[int], lengths: list[int]) -> np.ndarray:
        m = len(lengths)
        h = np.array(flat, dtype=np.uint64)
        shingles = _mix(h[:-2] * _P1 + h[1:-1] * _P2 + h[2:])
        if m == 1:
            slots = (shingles >> _S58).astype(np.intp)
        else:
            # Drop shingles that would span two texts.
            owner = np.repeat(np.arange(m, dtype=np.intp), lengths)
            valid = owner[:-2] == owner[2:]
            shingles = shingles[valid]
            slots = owner[:-2][valid] * NUM_PERM + (shingles >> _S58).astype(np.intp)
        flat_sig = np.full(m * NUM_PERM, _EMPTY, dtype=np.uint64)
        np.minimum.at(flat_sig, slots, shingles & _M32)
        sig = flat_sig.reshape(m, NUM_PERM)
        empty = sig == _EMPTY
        if empty.any():
            sig = _densify(sig, empty)
        return sig.astype(np.uint16)

    # -- band keys -----------------------------------------------------------------------
    @staticmethod
    def _band_keys(sigs: np.ndarray) -> np.ndarray:
        """``(n, 16)`` uint32 bucket keys: band number in the top 4 bits, 28-bit hash below."""
        bands = np.ascontiguousarray(sigs).view(np.uint64).reshape(len(sigs), BANDS)
        mixed = _mix(bands ^ (np.arange(BANDS, dtype=np.uint64) * _P2))
        keys = (mixed >> np.uint64(36)).astype(np.uint32)
        return keys | (np.arange(BANDS, dtype=np.uint32) << np.uint32(28))

    # -- adding and removing ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._row

    def add(self, unit_id: str, content: str) -> None:
        self.add_signatures([unit_id], self.signatures([content]))

    def add_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Add ``(unit_id, content)`` pairs (e.g. all of a user's stored units)."""
        batch: list[tuple[str, str]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= 4096:
                self.add_signatures([i for i, _ in batch], self.signatures([c for _, c in batch]))
                batch = []
        if batch:
            self.add_signatures([i for i, _ in batch], self.signatures([c for _, c in batch]))

    def add_signatures(self, unit_ids: Sequence[str], sigs: np.ndarray) -> None:
        """Add precomputed signatures (from :meth:`signatures`), so a caller that also
        queries them hashes each text once."""
        keep: list[int] = []
        for i, uid in enumerate(unit_ids):
            old = self._row.get(uid)
            if old is not None:
                if np.array_equal(self._sigs[old], sigs[i]):
                    continue  # unchanged: nothing to do
                self._alive[old] = False
                del self._row[uid]
            keep.append(i)
        if not keep:
            return
        new = sigs[keep] if len(keep) != len(unit_ids) else sigs
        first = len(self._ids)
        self._grow(first + len(keep))
        self._sigs[first : first + len(keep)] = new
        self._alive[first : first + len(keep)] = True
        for offset, i in enumerate(keep):
            uid = unit_ids[i]
            self._ids.append(uid)
            self._row[uid] = first + offset
        if len(keep) >= 256:
            # A big batch goes straight into the sorted arrays: one merge instead of
            # thousands of dict inserts.
            self._merge_tail()
            keys_arr = self._band_keys(new).ravel()
            rows_arr = np.repeat(np.arange(first, first + len(keep), dtype=np.uint32), BANDS)
            self._insert_sorted(keys_arr, rows_arr)
            return
        keys = self._band_keys(new).tolist()
        tail = self._tail
        for offset, row_keys in enumerate(keys):
            row = first + offset
            for k in row_keys:
                bucket = tail.get(k)
                if bucket is None:
                    tail[k] = [row]
                else:
                    bucket.append(row)
        self._tail_rows += len(keep)
        if self._tail_rows >= max(4096, min(65536, len(self._ids) // 8)):
            self._merge_tail()

    def remove(self, unit_id: str) -> bool:
        row = self._row.pop(unit_id, None)
        if row is None:
            return False
        self._alive[row] = False
        return True

    def _grow(self, needed: int) -> None:
        capacity = len(self._sigs)
        if needed <= capacity:
            return
        new_cap = max(needed, capacity * 2, 1024)
        sigs = np.zeros((new_cap, NUM_PERM), dtype=np.uint16)
        sigs[:capacity] = self._sigs
        alive = np.zeros(new_cap, dtype=bool)
        alive[:capacity] = self._alive
        self._sigs, self._alive = sigs, alive

    def _merge_tail(self) -> None:
        if not self._tail:
            return
        tail = self._tail
        keys = np.repeat(
            np.fromiter(tail.keys(), dtype=np.uint32, count=len(tail)), list(map(len, tail.values()))
        )
        rows = np.fromiter(itertools.chain.from_iterable(tail.values()), dtype=np.uint32, count=len(keys))
        self._insert_sorted(keys, rows)
        self._tail = {}
        self._tail_rows = 0

    def _insert_sorted(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Merge (key, row) pairs into the sorted bucket arrays. Rows are always newer than
        the ones already there, so inserting after equal keys keeps each bucket in the
        order its rows were added."""
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        at = np.searchsorted(self._main_keys, keys, side="right")
        self._main_keys = np.insert(self._main_keys, at, keys)
        self._main_rows = np.insert(self._main_rows, at, rows)

    # -- queries ---------------------------------------------------------------------------
    def max_similarity(self, content: str, exclude_id: str | None = None) -> tuple[float, str | None]:
        """The estimated Jaccard similarity of ``content`` to its nearest unit in the index
        other than ``exclude_id``, and that unit's id; ``(0.0, None)`` when none is near."""
        return self.query_signatures(self.signatures([content]), [exclude_id])[0]

    def max_similarity_many(
        self, contents: Sequence[str], exclude_ids: Sequence[str | None] | None = None
    ) -> list[tuple[float, str | None]]:
        return self.query_signatures(self.signatures(contents), exclude_ids)

    def query_signatures(
        self, sigs: np.ndarray, exclude_ids: Sequence[str | None] | None = None
    ) -> list[tuple[float, str | None]]:
        """:meth:`max_similarity` for precomputed signatures (one per row of ``sigs``)."""
        m = len(sigs)
        if m == 0:
            return []
        if not self._row:
            return [(0.0, None)] * m
        if m <= QUERY_CHUNK:
            return self._query_chunk(sigs, exclude_ids)
        # Chunks bound the candidate arrays (up to 16 x 64 rows per query).
        out: list[tuple[float, str | None]] = []
        for start in range(0, m, QUERY_CHUNK):
            end = start + QUERY_CHUNK
            out.extend(
                self._query_chunk(
                    sigs[start:end], exclude_ids[start:end] if exclude_ids is not None else None
                )
            )
        return out

    def _query_chunk(
        self, sigs: np.ndarray, exclude_ids: Sequence[str | None] | None
    ) -> list[tuple[float, str | None]]:
        m = len(sigs)
        keys = self._band_keys(sigs)
        q_parts: list[np.ndarray] = []
        r_parts: list[np.ndarray] = []
        if len(self._main_keys):
            flat = keys.ravel()
            lo = np.searchsorted(self._main_keys, flat, side="left")
            hi = np.searchsorted(self._main_keys, flat, side="right")
            counts = np.minimum(hi - lo, BUCKET_CAP)
            total = int(counts.sum())
            if total:
                starts = np.repeat(lo, counts)
                within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                r_parts.append(self._main_rows[starts + within].astype(np.int64))
                q_parts.append(np.repeat(np.arange(len(flat)) // BANDS, counts))
        if self._tail:
            tq: list[int] = []
            tr: list[int] = []
            # map() runs the lookups in C; most keys miss, so the loop below is short.
            found = list(map(self._tail.get, keys.ravel().tolist()))
            for position, bucket in enumerate(found):
                if bucket is not None:
                    chosen = bucket[:BUCKET_CAP]
                    tr.extend(chosen)
                    tq.extend([position // BANDS] * len(chosen))
            if tr:
                q_parts.append(np.array(tq, dtype=np.int64))
                r_parts.append(np.array(tr, dtype=np.int64))
        out: list[tuple[float, str | None]] = [(0.0, None)] * m
        if not r_parts:
            return out
        qidx = np.concatenate(q_parts)
        rows = np.concatenate(r_parts)
        mask = self._alive[rows]
        if exclude_ids is not None:
            excluded = np.array(
                [self._row.get(e, -1) if e is not None else -1 for e in exclude_ids], dtype=np.int64
            )
            mask &= rows != excluded[qidx]
        qidx, rows = qidx[mask], rows[mask]
        if not len(rows):
            return out
        equal = np.count_nonzero(sigs[qidx] == self._sigs[rows], axis=1).astype(np.int64)
        # One number per candidate: more equal slots first, then the earliest row.
        score = (equal << 32) | (0xFFFFFFFF - rows)
        best = np.full(m, -1, dtype=np.int64)
        np.maximum.at(best, qidx, score)
        for qi in np.nonzero(best >= 0)[0].tolist():
            b = int(best[qi])
            eq = b >> 32
            if eq == 0:
                continue
            row = 0xFFFFFFFF - (b & 0xFFFFFFFF)
            out[qi] = (eq / NUM_PERM, self._ids[row])
        return out

    def nearest_among(self, sigs: np.ndarray, unit_ids: Sequence[str]) -> list[tuple[float, str | None]]:
        """For each row of ``sigs``, its nearest *other* row (by the same banding rule as the
        index), as ``(similarity, unit id)``: near-duplicates inside one batch of new units."""
        m = len(sigs)
        if m < 2:
            return [(0.0, None)] * m
        if m > PAIRWISE_MAX:
            batch = NearDuplicateIndex()
            batch.add_signatures(unit_ids, sigs)
            return batch.query_signatures(sigs, unit_ids)
        keys = self._band_keys(sigs)
        shares_band = (keys[:, None, :] == keys[None, :, :]).any(axis=2)
        equal = (sigs[:, None, :] == sigs[None, :, :]).sum(axis=2)
        equal = np.where(shares_band, equal, 0)
        np.fill_diagonal(equal, -1)
        best = equal.argmax(axis=1)  # ties: the earliest row
        out: list[tuple[float, str | None]] = []
        for i, j in enumerate(best.tolist()):
            eq = int(equal[i, j])
            out.append((eq / NUM_PERM, unit_ids[j]) if eq > 0 and unit_ids[j] != unit_ids[i] else (0.0, None))
        return out

    def memory_bytes(self) -> int:
        """Bytes held by the signature and bucket arrays (ids and recent-addition dict aside)."""
        return int(self._sigs.nbytes + self._alive.nbytes + self._main_keys.nbytes + self._main_rows.nbytes)


def _densify(sig: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Fill each empty bin from the next non-empty bin to its right (circularly).

    The borrowed value is re-hashed with the distance and the empty bin's position: equal
    sources still give equal values (what the estimate needs), while different sources
    give unrelated ones. Adding a constant times the distance instead (plain rotation)
    makes all borrowed values of a text an arithmetic progression, so two unrelated short
    texts then match on whole bands at once about once in 65,536 pairs."""
    m, b = sig.shape
    cols = np.arange(b, dtype=np.int64)
    big = np.int64(4 * b)
    own = np.where(empty, big, cols)
    doubled = np.concatenate([own, np.where(empty, big, cols + b)], axis=1)
    nxt = np.minimum.accumulate(doubled[:, ::-1], axis=1)[:, ::-1][:, :b]
    dist = (nxt - cols).astype(np.uint64)
    src = nxt % b
    borrowed = sig[np.arange(m)[:, None], src]
    filled = _mix(borrowed | (dist << _S32) | (cols.astype(np.uint64) << _S40)) & _M32
    return np.where(empty, filled, sig)


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' word 3-shingle sets (what the index estimates)."""
    sa, sb = _shingle_set(a), _shingle_set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def _shingle_set(text: str) -> set[tuple[str, ...]]:
    tokens = _tokens(text)
    if len(tokens) < SHINGLE:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}
