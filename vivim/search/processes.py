"""Searches in worker processes, so that a server's searches use every core.

A search is mostly native work that releases Python's GIL (the query model, the 4-bit scan,
SQLite), but a fifth of it is Python: query words, fusion, the hits. In one process that
fifth queues behind the other searches and the server's own HTTP handling, which is Python
too, and the cores sit partly idle: at 100,000 units on 2 cores, one process served 123
searches/s using 1.66 of the 2 cores (docs/PERFORMANCE.md, issue 5). Worker processes each
have their own GIL.

Each worker opens the data directory itself and only reads. It keeps its own in-memory
index of every vault it has searched, reloaded when the vault changes (vivim.search.vectors),
so index memory is per worker. A worker that dies (killed, out of memory) breaks the pool:
the pool is replaced and the searches that were waiting on it are retried once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from vivim.domain.errors import Unavailable

if TYPE_CHECKING:
    from vivim.app import Vivim
    from vivim.search.engine import Filters, Hit
    from vivim.settings import Settings


class SearchUnavailable(Unavailable):
    """The search workers keep failing (each search is retried once in a fresh pool)."""

    code = "search_unavailable"


def limit_blas_threads() -> None:
    """One BLAS thread per call: a server runs several searches at once, one per core, and
    OpenBLAS's own threads then only fight over the cores (and spin while idle): at
    concurrency 8 a search's vector scan cost three times the CPU with two BLAS threads than
    with one (docs/PERFORMANCE.md, issue 5). The query embedder is single-threaded already
    (vivim.embed.minilm)."""
    import numpy  # noqa: F401  (threadpoolctl limits only the libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class SearchProcesses:
    """A pool of ``workers`` processes running ``SearchEngine.search`` on one data directory."""

    def __init__(self, settings: Settings, workers: int) -> None:
        if workers < 1:
            raise ValueError("a search pool needs at least one worker")
        self.settings = settings
        self.workers = workers
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # Spawned, not forked: the server has threads (the event loop's pool, ONNX
        # Runtime's), and a fork would copy their locks in whatever state they are in.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.settings, os.getpid()),
        )

    def start(self) -> None:
        """Start every worker now rather than in the first searches: each loads the query
        model (about a second) before it takes a search."""
        for _ in range(self.workers):
            self._pool.submit(os.getpid)

    async def search(self, user_id: str, query: str, *, limit: int, filters: Filters) -> list[Hit]:
        for attempt in (1, 2):
            pool = self._pool
            try:
                return await asyncio.wrap_future(pool.submit(_search, user_id, query, limit, filters))
            except BrokenProcessPool:
                self._replace(pool)
                if attempt == 2:
                    raise SearchUnavailable("a search worker stopped twice in a row; try again") from None
        raise AssertionError("unreachable")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # not already replaced for another search
                self._pool = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The workers running now (for tests and diagnostics)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# -- in the worker ----------------------------------------------------------------------

_vivim: Vivim | None = None


def _start_worker(settings: Settings, server_pid: int) -> None:
    global _vivim
    from vivim.app import Vivim

    # Ctrl-C in a terminal reaches the whole process group; the server shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_blas_threads()
    _vivim = Vivim(settings)
    _vivim.embedder.embed_query("")  # load the model now, not in a user's first search
    threading.Thread(target=_exit_with, args=(server_pid,), name="vivim-server-watch", daemon=True).start()


def _exit_with(server_pid: int) -> None:
    """A worker whose server died without shutting the pool down (SIGKILL, a crash) would
    wait for work forever: it goes when the server does."""
    while os.getppid() == server_pid:
        time.sleep(1.0)
    os._exit(0)


def _search(user_id: str, query: str, limit: int, filters: Filters) -> list[Hit]:
    assert _vivim is not None, "not a worker started by SearchProcesses"
    return _vivim.search_engine().search(_vivim.store(user_id), query, limit=limit, filters=filters)


__all__ = ["SearchProcesses", "SearchUnavailable", "limit_blas_threads"]
