"""Sync benchmark (issue 8): a 100,000-message vault synced to a new device over loopback.

1. The cost of the operation log on a bulk import: the same 5,000-conversation /
   100,000-message ChatGPT export (benchmarks/gen_chatgpt.py) imported into a fresh vault
   with the sync triggers, and with them dropped (the baseline), each run in a fresh process.
2. Initial sync: a new device of the same user (same key pair, its own device key, enrolled
   over HTTP) pulls the whole vault from a vivim server running in another process on
   127.0.0.1. Target <= 60 s.
3. Incremental sync of 100 changes: 100 edits on the server pulled by the device, and 100
   edits on the device pushed to the server. Target <= 200 ms each.

    .venv/bin/python -m benchmarks.bench_sync [--conversations 5000] [--messages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median

_IMPORT_CHILD = r"""
import json, sys, time
from pathlib import Path
from vivim.app import open_vivim
from vivim.capture.importer import Importer
from vivim.capture.tokens import encoding

export, data, with_log = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
encoding()
v = open_vivim(data); v.init(); u = v.create_user("bench")
store = v.store(u)
if not with_log:
    with store.transaction() as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'sync_*'")]
        for name in names:
            conn.execute(f"DROP TRIGGER {name}")
importer = Importer(store=store, master=v.master, user_id=u.id)
t = time.perf_counter(); summary = importer.import_paths([export]); elapsed = time.perf_counter() - t
with store.read() as conn:
    logged = conn.execute("SELECT COUNT(*) FROM sync_operations").fetchone()[0]
v.close()
print(json.dumps({"messages": summary.totals()["new_messages"], "seconds": elapsed, "logged": logged}))
"""

_SERVER_CHILD = r"""
import sys
import uvicorn
from vivim.api.app import create_app
from vivim.app import open_vivim

v = open_vivim(sys.argv[1])
uvicorn.run(create_app(v), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _import(export: Path, data: Path, with_log: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, str(export), str(data), "1" if with_log else "0"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _trigger_cost(vault_dir: Path, folder: Path, runs: int) -> tuple[float, float]:
    """The same message rows written with one executemany into a fresh vault with the sync
    triggers and into one without, alternating: the log's cost per row on the write path
    alone, free of the parser's noise. Returns the medians (with, without) in microseconds."""
    import sqlite3

    from vivim.app import open_vivim
    from vivim.store.user.db import create_database

    v = open_vivim(vault_dir)
    with v.store(v.get_user("bench")).read() as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info('messages')")]
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM messages").fetchall()
        convs = conn.execute("SELECT id, provider, source_id, captured_at FROM conversations").fetchall()
    v.close()
    folder.mkdir(parents=True, exist_ok=True)
    timings: dict[bool, list[float]] = {True: [], False: []}
    for r in range(runs):
        for with_log in (True, False):
            path = folder / f"raw-{r}-{int(with_log)}.sqlite"
            create_database(path)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")
            if not with_log:
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'sync_*'"
                ).fetchall():
                    conn.execute(f"DROP TRIGGER {name}")
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO conversations (id, provider, source_id, captured_at) VALUES (?,?,?,?)", convs)
            t = time.perf_counter()
            conn.executemany(f"INSERT INTO messages ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
            timings[with_log].append((time.perf_counter() - t) / len(rows) * 1e6)
            conn.execute("COMMIT")
            conn.close()
    return median(timings[True]), median(timings[False])


def _edit(store: object, table_sql: str, n: int, tag: str) -> None:
    with store.transaction() as conn:  # type: ignore[attr-defined]
        ids = [r[0] for r in conn.execute(f"SELECT id FROM {table_sql} ORDER BY random() LIMIT ?", (n,))]
        conn.executemany(
            f"UPDATE {table_sql} SET metadata = json_set(metadata, '$.bench', ?) WHERE id = ?",
            [(tag, i) for i in ids],
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--incremental-runs", type=int, default=7)
    ap.add_argument("--page-size", type=int, default=2000)
    args = ap.parse_args()

    import httpx

    from benchmarks.gen_chatgpt import write_export
    from vivim.app import open_vivim
    from vivim.sync.client import sync
    from vivim.sync.remote import HttpPeer, enrol

    work = Path(tempfile.mkdtemp(prefix="vivim-bench-sync-"))
    export = work / "conversations.json"
    with open(export, "w", encoding="utf-8") as f:
        write_export(f, args.conversations, args.messages)
    print(f"export: {export.stat().st_size / 1e6:.1f} MB, {args.conversations} conversations, {args.messages} messages")

    # 1. import with and without the operation log, alternating so load drifts hit both
    with_log, without = [], []
    for r in range(args.runs):
        a = _import(export, work / f"log{r}", True)
        b = _import(export, work / f"nolog{r}", False)
        with_log.append(a["messages"] / a["seconds"])
        without.append(b["messages"] / b["seconds"])
        print(f"run {r + 1}: import with log {with_log[-1]:,.0f} msg/s ({a['logged']:,} operations logged); "
              f"without {without[-1]:,.0f} msg/s")
    rate_log, rate_plain = median(with_log), median(without)
    per_row = _trigger_cost(work / f"log{args.runs - 1}", work / "raw", args.runs)

    # 2. initial sync of the vault to new devices, over loopback from a server process
    server_dir = work / f"log{args.runs - 1}"
    v = open_vivim(server_dir)
    user = v.get_user("bench")
    identity = v.keypair(user)
    server_store = v.store(user)
    with server_store.read() as conn:
        n_messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        n_conversations = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVER_CHILD, str(server_dir), str(port)])
    url = f"http://127.0.0.1:{port}"
    initial: list[float] = []
    pulls: list[float] = []
    pushes: list[float] = []
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            device_vivim = None
            for r in range(args.runs):
                device_vivim = open_vivim(work / f"device{r}")
                device_vivim.init()
                device_user = device_vivim.create_user("bench", keypair=identity)
                store = device_vivim.store(device_user)
                peer = HttpPeer(http, enrol(http, identity=identity, name=f"bench device {r}"))
                report = sync(store, peer, page_size=args.page_size)
                with store.read() as conn:
                    got = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
                assert got == n_messages, (got, n_messages)
                initial.append(report.seconds)
                print(f"initial sync {r + 1}: {report.pulled:,} operations in {report.seconds:.2f} s "
                      f"({report.pulled / report.seconds:,.0f} ops/s, {report.pull_pages} pages)")
                if r < args.runs - 1:
                    device_vivim.close()
            assert device_vivim is not None
            # 3. incremental: 100 changes each way
            for i in range(args.incremental_runs):
                _edit(server_store, "messages", 100, f"server-{i}")
                report = sync(store, peer, page_size=args.page_size)
                assert (report.pulled, report.pushed) == (100, 0), report.to_json()
                pulls.append(report.seconds)
                _edit(store, "messages", 100, f"device-{i}")
                report = sync(store, peer, page_size=args.page_size)
                assert (report.pulled, report.pushed) == (0, 100), report.to_json()
                pushes.append(report.seconds)
            device_vivim.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        v.close()

    t_initial, t_pull, t_push = median(initial), median(pulls), median(pushes)
    print(f"\nvault: {n_conversations:,} conversations, {n_messages:,} messages; median of {args.runs} runs "
          f"(incremental: {args.incremental_runs})")
    print(f"  import with the op log      {rate_log:>10,.0f} msg/s")
    print(f"  import without (baseline)   {rate_plain:>10,.0f} msg/s   log costs {100 * (1 - rate_log / rate_plain):.1f}%")
    print(f"  message row write, with log {per_row[0]:>10.1f} us      without {per_row[1]:.1f} us "
          f"(+{per_row[0] - per_row[1]:.1f} us per row, {100 * (per_row[0] / per_row[1] - 1):.0f}%)")
    print(f"  initial sync to new device  {t_initial:>10.2f} s       target <= 60 s     "
          f"{'OK' if t_initial <= 60 else 'MISSED'}")
    print(f"  incremental: pull 100       {t_pull * 1000:>10.1f} ms      target <= 200 ms   "
          f"{'OK' if t_pull <= 0.2 else 'MISSED'}")
    print(f"  incremental: push 100       {t_push * 1000:>10.1f} ms      target <= 200 ms   "
          f"{'OK' if t_push <= 0.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
