"""Parsing and normalising an input into batches ready to store.

Two producers yield the same items (``RecordError`` or a ``Batch``):
- in this process, for small inputs;
- in a child process, for big ones: parsing, normalising and counting tokens are CPU work
  that holds the GIL, so a thread would not run beside the writer; a second process
  prepares the next batches, token counts included, while this one writes. Batches cross
  over pickled, through a pipe and a read-ahead of two batches, so memory stays bounded
  whatever the input size.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from vivim.capture.base import Parser, Source
from vivim.capture.normalize import normalize, set_token_counts
from vivim.capture.tokens import count_tokens_many
from vivim.domain.conversation import RecordError
from vivim.store.user.conversations import ConversationRows

BATCH_MESSAGES = 20_000
BATCH_CONVERSATIONS = 1_000
# The first batches are smaller (doubling up to BATCH_MESSAGES), so the writer starts
# early instead of waiting for a whole batch to be parsed while its own core idles.
FIRST_BATCH_MESSAGES = 1_000
# Inputs at least this big are parsed in a child process (its start-up costs ~0.3 s);
# VIVIM_IMPORT_CHILD_MIN_BYTES overrides it.
CHILD_PROCESS_MIN_BYTES = 16 * 1024 * 1024
# Allocations between two young-generation collections during an import (default 700).
GC_THRESHOLD = 100_000


@dataclass(slots=True)
class Pending:
    """One conversation to store: its rows, or why it could not be normalised."""

    provider: str
    source_id: str
    title: str
    source_url: str | None
    rows: ConversationRows | None
    error: str | None = None


@dataclass(slots=True)
class Batch:
    items: list[Pending] = field(default_factory=list)
    messages: int = 0
    bytes_read: int = 0


class _CountingReader:
    """Counts bytes as the parser streams them (progress, and child-process batches)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._on_read(len(data))
        return data

    def readinto(self, b: Any) -> int:
        n = self._raw.readinto(b)
        if n:
            self._on_read(n)
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def produce(parser: Parser, source: Source, on_read: Callable[[int], None]) -> Iterator[RecordError | Batch]:
    """Parse ``source`` here, yielding record errors and full batches with token counts."""
    counted = Source(source.name, lambda: _CountingReader(source.open(), on_read), source.size)  # type: ignore[arg-type]
    for item in _batches(parser, counted):
        if isinstance(item, Batch):
            _count_tokens(item)
        yield item


def _count_tokens(batch: Batch) -> None:
    """Fill in the batch's token counts, a whole batch at a time: counted per conversation,
    between parsing, counting took twice as long (the tokenizer's tables fell out of the
    CPU caches)."""
    rows = [p.rows for p in batch.items if p.rows is not None]
    set_token_counts(rows, count_tokens_many([m.text for r in rows for m in r.messages]))


def _batches(parser: Parser, source: Source) -> Iterator[RecordError | Batch]:
    # Memory is bounded by the batch size (VIVIM_IMPORT_BATCH_MESSAGES), not the input's.
    max_messages = int(os.environ.get("VIVIM_IMPORT_BATCH_MESSAGES", BATCH_MESSAGES))
    limit = min(FIRST_BATCH_MESSAGES, max_messages)
    batch = Batch()
    try:
        for index, item in enumerate(parser.parse(source)):
            if isinstance(item, RecordError):
                yield item
                continue
            try:
                pending = Pending(
                    item.provider,
                    item.source_id,
                    item.title,
                    item.source_url,
                    normalize(item, with_tokens=False),
                )
            except Exception as exc:  # a parser produced something we cannot store
                pending = Pending(
                    item.provider,
                    item.source_id,
                    item.title,
                    item.source_url,
                    None,
                    f"conversation {index} ({item.source_id}): {exc}",
                )
            batch.items.append(pending)
            batch.messages += len(item.messages)
            if len(batch.items) >= BATCH_CONVERSATIONS or batch.messages >= limit:
                yield batch
                batch = Batch()
                limit = min(limit * 2, max_messages)
    except Exception as exc:
        # The stream itself broke (damaged archive member, I/O error): what was read stays.
        if batch.items:
            yield batch
            batch = Batch()
        yield RecordError(source.name, "stream", f"{source.name}: reading stopped: {exc}", "read_error")
    if batch.items:
        yield batch


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector rarely for the duration.

    Parsing and storing allocate millions of short-lived containers (decoded JSON, rows);
    at the default thresholds the collector runs thousands of times, rescanning the
    batches held in memory each time, for about 15% of an import's CPU. What an import
    allocates holds no reference cycles (reference counting frees it), so nothing piles up
    meanwhile. The thresholds are process-wide: the first of concurrent imports raises
    them, the last one out puts the previous ones back."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(GC_THRESHOLD, *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


def _child_main(parser_module: str, location: tuple[str, ...]) -> None:
    """Entry point of the parser process: frames on stdout, then ("done", bytes read)."""
    # This process only parses (no cycles, see fewer_gc_passes) and exits when done.
    gc.disable()
    out = sys.stdout.buffer
    read = 0

    def on_read(n: int) -> None:
        nonlocal read
        read += n

    def send(obj: object) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<Q", len(data)))
        out.write(data)

    try:
        parser = importlib.import_module(parser_module).PARSER
        for item in produce(parser, Source.from_location(location), on_read):
            if isinstance(item, Batch):
                item.bytes_read = read
            send(item)
        send(("done", read))
    except BaseException as exc:  # report, never leave the parent waiting
        send(("failed", f"{type(exc).__name__}: {exc}"))
    out.flush()


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


# Frames read ahead of the writer: the parser process goes on with the next batch while
# the writer is still busy, instead of waiting for it to take the last one. Two batches
# (a few tens of MB) bound the memory this costs.
READ_AHEAD_FRAMES = 2


def _read_ahead(stream: BinaryIO, frames: queue.Queue[bytes | None], stop: threading.Event) -> None:
    """Thread: move frames from the pipe to ``frames`` (reading releases the GIL); None
    marks the end of the stream. Never blocks for good: it gives up once ``stop`` is set."""
    while not stop.is_set():
        try:
            frame = _read_frame(stream)
        except (OSError, ValueError):  # the pipe was closed under us: the import is over
            frame = None
        while not stop.is_set():
            try:
                frames.put(frame, timeout=0.1)
                break
            except queue.Full:
                continue
        if frame is None:
            return


def produce_in_child(
    parser: Parser, source: Source, on_read: Callable[[int], None]
) -> Iterator[RecordError | Batch]:
    """Like :func:`produce`, with the parsing done by a child process (a plain subprocess
    rather than multiprocessing, so it works whatever the caller's main module is). The
    pipe and a read-ahead of :data:`READ_AHEAD_FRAMES` batches are the bounded queue: the
    child blocks when we are that far behind."""
    assert source.location is not None
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vivim.capture.producer",
            type(parser).__module__,
            json.dumps(source.location),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    _widen_pipe(child.stdout)
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=READ_AHEAD_FRAMES)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_ahead, args=(child.stdout, frames, stop), name="vivim-import-read", daemon=True
    )
    reader.start()
    reported = 0
    try:
        while True:
            frame = frames.get()
            # our own child process, over a private pipe
            item = None if frame is None else pickle.loads(frame)  # noqa: S301
            if item is None:
                yield RecordError(
                    source.name,
                    "stream",
                    f"{source.name}: the parser process stopped unexpectedly",
                    "read_error",
                )
                return
            if isinstance(item, tuple):
                kind, value = item
                if kind == "done":
                    on_read(value - reported)
                else:
                    yield RecordError(
                        source.name, "stream", f"{source.name}: reading stopped: {value}", "read_error"
                    )
                return
            if isinstance(item, Batch):
                on_read(item.bytes_read - reported)
                reported = item.bytes_read
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if child.poll() is None:
            child.kill()
        child.wait()
        reader.join()
        child.stdout.close()


PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process (fs.pipe-max-size)


def _widen_pipe(stream: BinaryIO) -> None:
    """A 1 MiB pipe instead of 64 KiB: batches are megabytes, and each 64 KiB handed over
    cost the two processes a wake-up each (about a tenth of the parser process's time)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass  # not Linux, or a lower limit: the default pipe works, a little slower


def producer_for(
    source: Source,
) -> Callable[[Parser, Source, Callable[[int], None]], Iterator[RecordError | Batch]]:
    threshold = int(os.environ.get("VIVIM_IMPORT_CHILD_MIN_BYTES", CHILD_PROCESS_MIN_BYTES))
    big = (source.size or 0) >= threshold and source.location is not None
    return produce_in_child if big else produce


if __name__ == "__main__":
    # Run the imported module's function, so pickled batches name vivim.capture.producer
    # classes rather than this __main__ copy of them.
    from vivim.capture import producer

    producer._child_main(sys.argv[1], tuple(json.loads(sys.argv[2])))
