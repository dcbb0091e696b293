"""A device's side of sync: pull what the server has, then push what we made.

``sync(store, peer)`` works with any :class:`Peer`: :class:`HttpPeer` talks to a vivim
server over ``/api/v1/sync`` as one of the user's registered devices (challenge-response
with the device key), :class:`LocalPeer` calls a store in the same process (tests,
benchmarks). Pull comes first, so conflicts are settled here and the push then carries
only winners; both directions move their cursor in the transaction that applies a page,
so an interrupted sync resumes where it stopped.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from vivim.domain.errors import InvalidInput, VivimError
from vivim.store.user import oplog
from vivim.store.user.db import UserStore
from vivim.sync import exchange, wire
from vivim.sync.merge import MergeResult, Op, merge
from vivim.sync.rows import store_infos

# The server refuses request bodies over 1 MiB; pushes are gzipped and kept under this.
MAX_PUSH_BYTES = 1024 * 1024 - 16 * 1024
RAW_PUSH_BATCH = 4 * 1024 * 1024
SYNC_CACHE_KIB = 64 * 1024


class SyncError(VivimError):
    """The server answered a sync request with an error."""

    code = "sync_failed"


class Peer(Protocol):
    def status(self) -> dict[str, Any]: ...

    def pull(self, *, since: int, limit: int, node: str) -> dict[str, Any]: ...

    def push(self, *, node: str, body: bytes) -> dict[str, Any]:
        """``body``: the gzipped JSON ``{"node", "ops"}``."""
        ...


@dataclass
class SyncReport:
    pulled: int = 0
    pushed: int = 0
    pull_pages: int = 0
    push_pages: int = 0
    local: MergeResult = field(default_factory=MergeResult)
    remote: MergeResult = field(default_factory=MergeResult)
    too_large: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "pulled": self.pulled,
            "pushed": self.pushed,
            "pull_pages": self.pull_pages,
            "push_pages": self.push_pages,
            "applied_here": self.local.to_json(),
            "applied_there": self.remote.to_json(),
            "too_large": self.too_large,
            "seconds": round(self.seconds, 3),
        }


def encode_push(node: str, ops: list[Op], seen: int = 0) -> bytes:
    """``seen``: the server's seq this device has pulled up to (what it has seen)."""
    body = wire.dumps({"node": node, "seen": seen, "ops": [op.to_json() for op in ops]})
    return gzip.compress(body, compresslevel=1)


def decode_push(body: bytes, *, max_bytes: int = 64 * 1024 * 1024) -> tuple[str, int, list[Op]]:
    """The inverse of :func:`encode_push`, refusing bodies that inflate past ``max_bytes``."""
    import zlib

    try:
        d = zlib.decompressobj(wbits=31)
        raw = d.decompress(body, max_bytes)
        if d.unconsumed_tail:
            raise InvalidInput(f"a push inflates to more than {max_bytes} bytes")
        data = wire.loads(raw)
    except (zlib.error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"a push body is gzipped JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("node"), str) or not isinstance(data.get("ops"), list):
        raise InvalidInput('a push is {"node": "...", "ops": [...]}')
    node, seen = data["node"], data.get("seen", 0)
    if not 0 < len(node) <= 64:
        raise InvalidInput("node is this device's sync id (1-64 characters)")
    if not isinstance(seen, int) or isinstance(seen, bool) or seen < 0:
        raise InvalidInput("seen is the server seq pulled up to (an integer >= 0)")
    return node, seen, [Op.from_json(o) for o in data["ops"]]


def sync(
    store: UserStore, peer: Peer, *, page_size: int = exchange.DEFAULT_PAGE, push: bool = True, pull: bool = True
) -> SyncReport:
    t0 = time.perf_counter()
    report = SyncReport()
    remote = peer.status()["node"]
    with store.read() as conn:
        known = conn.execute("SELECT value FROM vault_meta WHERE key = ?", (oplog.NODE_KEY,)).fetchone()
    if known is not None:
        node = known[0]
    else:
        with store.transaction() as conn:
            node = oplog.node_id(conn)
    with store.read() as conn:
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        # An initial sync writes rows with hashed ids all over the indexes, like an import.
        conn.execute(f"PRAGMA cache_size = -{SYNC_CACHE_KIB}")
    try:
        if pull:
            _pull(store, peer, remote, node, page_size, report)
        if push:
            _push(store, peer, remote, node, page_size, report)
    finally:
        with store.read() as conn:
            conn.execute(f"PRAGMA cache_size = {int(cache)}")
    report.seconds = time.perf_counter() - t0
    return report


def _pull(store: UserStore, peer: Peer, remote: str, node: str, page_size: int, report: SyncReport) -> None:
    while True:
        with store.read() as conn:
            since = exchange.get_cursor(conn, remote, "pull")
            pushed = exchange.get_cursor(conn, remote, "push")
        page = peer.pull(since=since, limit=page_size, node=node)
        try:
            ops = [Op.from_json(o) for o in page["ops"]]
            next_cursor = int(page["next"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SyncError(f"the server sent a page this vivim cannot read: {exc}") from None

        def advance(conn: Any, ops: list[Op] = ops, next_cursor: int = next_cursor) -> None:
            exchange.set_cursor(conn, remote, "pull", next_cursor)
            exchange.note_tables(conn, remote, "pull", ops)

        # Our versions above the push cursor have not reached the server: those are the
        # ones a pulled operation can conflict with.
        if ops or next_cursor != since:
            report.local.add(merge(store, ops, peer=remote, seen_up_to=pushed, after=advance))
        report.pulled += len(ops)
        report.pull_pages += 1
        if not page.get("more") or next_cursor <= since:
            return


def _push(store: UserStore, peer: Peer, remote: str, node: str, page_size: int, report: SyncReport) -> None:
    while True:
        with store.transaction() as conn:
            oplog.fold(conn)
            since = exchange.get_cursor(conn, remote, "push")
            seen = exchange.get_cursor(conn, remote, "pull")
            ops, next_cursor, more = exchange.read_page(
                conn, since=since, limit=page_size, local_only=True, infos=store_infos(store, conn)
            )
            if not ops:
                # Nothing of ours to send (e.g. only what we just pulled): done here.
                if next_cursor > since:
                    exchange.set_cursor(conn, remote, "push", next_cursor)
                if not more:
                    return
                continue
        for body, last in _batches(node, seen, ops, next_cursor, report):
            if body is not None:
                answer = peer.push(node=node, body=body)
                report.remote.add(_result(answer))
                report.push_pages += 1
            with store.transaction() as conn:
                exchange.set_cursor(conn, remote, "push", last)
        if not more:
            return


def _batches(node: str, seen: int, ops: list[Op], final: int, report: SyncReport) -> list[tuple[bytes | None, int]]:
    """Bodies under the server's limit, each with the cursor it completes. A single
    operation too large to send is counted and passed over."""
    out: list[tuple[bytes | None, int]] = []
    pending: list[Op] = []
    size = 0

    def flush(group: list[Op]) -> None:
        if not group:
            return
        body = encode_push(node, group, seen)
        if len(body) <= MAX_PUSH_BYTES:
            out.append((body, group[-1].seq))
            report.pushed += len(group)
        elif len(group) == 1:
            report.too_large += 1
            out.append((None, group[0].seq))
        else:
            half = len(group) // 2
            flush(group[:half])
            flush(group[half:])

    for op in ops:
        n = len(wire.dumps(op.row)) + 200 if op.row else 200
        if pending and size + n > RAW_PUSH_BATCH:
            flush(pending)
            pending, size = [], 0
        pending.append(op)
        size += n
    flush(pending)
    # Versions left out (received from a peer) still count as covered.
    out.append((None, final))
    return out


def _result(answer: dict[str, Any]) -> MergeResult:
    r = MergeResult()
    for key in ("applied", "skipped", "rejected", "conflicts"):
        setattr(r, key, int(answer.get(key, 0)))
    r.max_hlc = answer.get("max_hlc")
    r.errors = list(answer.get("errors") or [])[:20]
    return r


class LocalPeer:
    """A server store in this process, standing in for the HTTP API."""

    def __init__(self, store: UserStore, device_id: str) -> None:
        self.store = store
        self.device_id = device_id

    def status(self) -> dict[str, Any]:
        return exchange.status(self.store, device_id=self.device_id, counts=False)

    def pull(self, *, since: int, limit: int, node: str) -> dict[str, Any]:
        page = exchange.serve_pull(self.store, device_id=self.device_id, node=node, since=since, limit=limit)
        # Through JSON and back, as over the wire.
        return wire.loads(wire.dumps(page.to_json()))

    def push(self, *, node: str, body: bytes) -> dict[str, Any]:
        node, seen, ops = decode_push(body)
        return exchange.serve_push(self.store, device_id=self.device_id, node=node, seen=seen, ops=ops).to_json()


__all__ = ["LocalPeer", "Peer", "SyncError", "SyncReport", "decode_push", "encode_push", "sync"]
