"""HTTP API load generator: a real uvicorn server on loopback, authenticated GET requests.

Starts the API in a child process on 127.0.0.1 (a free port) with the code `vivim serve`
runs (``vivim.cli.serve.run_server``), signs a user in with a personal API token, then sends
a fixed number of requests with a fixed concurrency and reports requests/s and latency
percentiles, next to the latency of the same work done in process, so the HTTP overhead
shows as a ratio. Bounded: the request count is fixed and each run stops at
``--max-seconds`` whatever happens.

    .venv/bin/python -m benchmarks.bench_api [--path "/api/v1/conversations?limit=20"]
        [--requests 3000] [--concurrency 8] [--runs 3] [--conversations 2000]
        [--data-dir DIR --user NAME] [--search] [--baseline SRC]

With ``--data-dir``/``--user`` it serves an existing vault (e.g. the 100,000-unit one that
benchmarks/bench_search.py builds); otherwise it builds a fresh one from a synthetic
ChatGPT export. ``--search`` sends ``GET /api/v1/search?q=...&limit=10`` with a different
query on every request (the query generator of bench_search.py: no query is asked twice,
so no cache of queries or results can help; their words recur, drawn from the vault's 4,900
content words, and each search worker keeps a word's full-text part once it has ranked it,
vivim/search/word_scores.py, so the first runs after the server starts are the slower),
and measures in process both the search engine alone and the whole request through the
ASGI app without a socket.

``--baseline SRC`` serves the same vault a second time from another checkout of vivim
(e.g. ``git worktree add /tmp/base <rev>``) and alternates the load runs between the two
servers, so a change is compared with its baseline minutes apart on the same (noisy)
machine; it prints both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from benchmarks.common import median, pct

_SERVER = r"""
import sys
from vivim import open_vivim
from vivim.cli.serve import run_server
v = open_vivim(sys.argv[1]); v.init()
run_server(v, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(data_dir: Path | None, user: str | None, conversations: int) -> tuple[Path, str]:
    """A vault to serve and a personal API token for it."""
    from vivim.app import open_vivim
    from vivim.capture.importer import Importer
    from vivim.identity import service

    if data_dir is None:
        from benchmarks.gen_chatgpt import write_export

        data_dir = Path(tempfile.mkdtemp(prefix="vivim-bench-api-"))
        export = data_dir / "conversations.json"
        with open(export, "w") as f:
            write_export(f, conversations, conversations * 10, seed=11)
        with open_vivim(data_dir) as v:
            v.init()
            u = v.create_user("bench")
            Importer(store=v.store(u), master=v.master, user_id=u.id).import_paths([export])
        export.unlink()
        user = "bench"
    with open_vivim(data_dir) as v:
        v.init()
        _record, token = service.create_api_token(v, v.get_user(user or "bench"), "bench_api")
    return data_dir, token


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the server's search workers), from Linux /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its descendants (Linux /proc; None elsewhere)."""
    total = 0.0
    for p in _process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if p == pid:
                return None
            continue  # a descendant that just exited
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its descendants."""
    total = 0.0
    for p in _process_tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            if p == pid:
                return None
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:"))
    return total


def _in_process_http(data_dir: Path, token: str, paths: list[str]) -> list[float]:
    """The same requests through the ASGI app directly: everything but the socket and uvicorn."""
    from vivim.api.app import create_app
    from vivim.app import open_vivim
    from vivim.search.processes import limit_blas_threads

    limit_blas_threads()

    async def run() -> list[float]:
        with open_vivim(data_dir) as v:
            transport = httpx.ASGITransport(app=create_app(v))
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://in-process", headers=headers) as c:
                for path in paths[:20]:
                    await c.get(path)
                out = []
                for path in paths[20:]:
                    t = time.perf_counter()
                    r = await c.get(path)
                    out.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise SystemExit(f"in-process request failed: {r.status_code} {r.text[:200]}")
                return out

    return asyncio.run(run())


def _in_process_search(data_dir: Path, user: str, queries: list[str]) -> list[float]:
    """The search engine alone, one query at a time, as the server configures it."""
    from vivim.app import open_vivim
    from vivim.search.processes import limit_blas_threads

    limit_blas_threads()
    with open_vivim(data_dir) as v:
        store = v.store(v.get_user(user))
        engine = v.search_engine()
        for q in queries[:20]:
            engine.search(store, q, limit=10)
        out = []
        for q in queries[20:]:
            t = time.perf_counter()
            engine.search(store, q, limit=10)
            out.append(time.perf_counter() - t)
        return out


async def _load(
    base: str, token: str, path_at: Callable[[int], str], start: int, total: int, concurrency: int, max_seconds: float
) -> dict[str, Any]:
    """``concurrency`` keep-alive connections sending GETs one after another. The client is
    plain asyncio streams with the least HTTP/1.1 it needs (a status line, Content-Length):
    it shares the 2 cores with the server, so its own CPU per request is kept small (an
    httpx client used about as much CPU per request as the server's HTTP handling)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    sent = 0
    deadline = time.monotonic() + max_seconds
    host, port = base.removeprefix("http://").split(":")

    async def worker() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while sent < total and time.monotonic() < deadline:
                path = path_at(start + sent)
                sent += 1
                t = time.perf_counter()
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
                )
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:  # counted, not fatal
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return
                latencies.append(time.perf_counter() - t)
                code = int(head[9:12])
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "elapsed": elapsed}


def _start_server(root: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`vivim serve`'s code from the checkout at ``root``, on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root)}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(data_dir), str(port)], env=env, cwd=root)
    return server, f"http://127.0.0.1:{port}"


def _measured_run(
    server: subprocess.Popen[bytes], base: str, token: str, path_at: Callable[[int], str], start: int,
    total: int, concurrency: int, max_seconds: float,
) -> dict[str, Any]:
    """One load run, with requests/s and the server's and the load generator's CPU per request."""
    cpu0, client0 = _cpu_seconds(server.pid), time.process_time()
    result = asyncio.run(_load(base, token, path_at, start, total, concurrency, max_seconds))
    cpu1, client1 = _cpu_seconds(server.pid), time.process_time()
    n = len(result["latencies"])
    result["rps"] = n / result["elapsed"]
    result["cpu_ms"] = (cpu1 - cpu0) * 1000 / n if cpu0 is not None and cpu1 is not None and n else None
    result["client_ms"] = (client1 - client0) * 1000 / n if n else None
    return result


def _compare(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], root: Path) -> None:
    print(f"  baseline ({root}), runs alternated with the ones above:")
    for i, result in enumerate(baseline, 1):
        cpu = f"  server CPU {result['cpu_ms']:.1f} ms/request" if result["cpu_ms"] is not None else ""
        print(f"    run {i}         {result['rps']:.0f} requests/s  p50 {pct(result['latencies'], 50) * 1000:.1f} ms  "
              f"p99 {pct(result['latencies'], 99) * 1000:.1f} ms{cpu}")
    ours, theirs = median([r["rps"] for r in runs]), median([r["rps"] for r in baseline])
    print(f"  throughput      {ours:.0f} vs baseline {theirs:.0f} requests/s: ratio {ours / theirs:.2f}")
    if all(r["cpu_ms"] is not None for r in runs + baseline):
        ours, theirs = median([r["cpu_ms"] for r in runs]), median([r["cpu_ms"] for r in baseline])
        print(f"  server CPU      {ours:.1f} vs baseline {theirs:.1f} ms/request: ratio {ours / theirs:.2f}")
    ours = median([pct(r["latencies"], 99) for r in runs])
    theirs = median([pct(r["latencies"], 99) for r in baseline])
    print(f"  p99             {ours * 1000:.1f} vs baseline {theirs * 1000:.1f} ms")


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the API server did not start")
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="/api/v1/conversations?limit=20")
    ap.add_argument("--search", action="store_true", help="search requests, a different query each time")
    ap.add_argument("--requests", type=int, default=3000, help="requests per run")
    ap.add_argument("--runs", type=int, default=1, help="load runs against the same warm server")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--conversations", type=int, default=2000)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--user")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="per run")
    ap.add_argument("--baseline", type=Path, help="another vivim checkout to serve and alternate with")
    args = ap.parse_args()

    data_dir, token = _prepare(args.data_dir, args.user, args.conversations)
    made_here = args.data_dir is None
    warmup = 50
    if args.search:
        from benchmarks.bench_search import make_queries

        queries = make_queries(warmup + args.requests * args.runs * 2 + 520, seed=17)

        def path_at(i: int) -> str:
            return f"/api/v1/search?q={quote(queries[i])}&limit=10"

        label = f"GET /api/v1/search?q=<{args.requests * args.runs:,} distinct queries>&limit=10"
    else:

        def path_at(i: int) -> str:
            return args.path

        label = f"GET {args.path}"
    sources = {"this checkout": Path(__file__).resolve().parents[1]}
    if args.baseline is not None:
        sources["baseline"] = args.baseline.resolve()
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in sources}
    try:
        for name, root in sources.items():
            servers[name] = _start_server(root, data_dir)
        for server, base in servers.values():
            _wait_until_up(base, server)
            # Warm-up: connections, the model, the user's store and in-memory index.
            asyncio.run(_load(base, token, path_at, 0, warmup, 1, args.max_seconds))
        start = warmup
        for r in range(args.runs):
            names = list(servers) if r % 2 == 0 else list(servers)[::-1]
            for name in names:
                server, base = servers[name]
                results[name].append(
                    _measured_run(server, base, token, path_at, start, args.requests, args.concurrency, args.max_seconds)
                )
                start += args.requests
        rss = _rss_mb(servers["this checkout"][0].pid)
    finally:
        for server, _ in servers.values():
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    runs = results["this checkout"]
    tail = warmup + args.requests * args.runs * len(sources)
    n_in = min(500, args.requests) + 20
    inproc_http = _in_process_http(data_dir, token, [path_at(tail + i) for i in range(n_in)])
    inproc_search = (
        _in_process_search(data_dir, args.user or "bench", queries[tail : tail + n_in]) if args.search else None
    )

    statuses: dict[int, int] = {}
    for result in runs:
        for code, count in result["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    p50s = [pct(r["latencies"], 50) for r in runs]
    p99s = [pct(r["latencies"], 99) for r in runs]
    print(f"{label}  ({args.runs} x {args.requests} requests, concurrency {args.concurrency}, data {data_dir})")
    print(f"  statuses        {dict(sorted(statuses.items()))}")
    errors = [e for result in runs for e in result["errors"]]
    if errors:
        print(f"  transport errors {len(errors)}, first: {errors[0]}")
    for i, result in enumerate(runs, 1):
        cpu = f"  server CPU {result['cpu_ms']:.1f} ms/request" if result["cpu_ms"] is not None else ""
        if result["client_ms"] is not None:
            cpu += f", load generator {result['client_ms']:.2f}"
        print(f"  run {i}           {result['rps']:.0f} requests/s  p50 {p50s[i - 1] * 1000:.1f} ms  "
              f"p95 {pct(result['latencies'], 95) * 1000:.1f} ms  p99 {p99s[i - 1] * 1000:.1f} ms{cpu}")
    print(f"  throughput      {median([r['rps'] for r in runs]):.0f} requests/s (median of runs)")
    print(f"  latency (HTTP)  p50 {median(p50s) * 1000:.1f} ms  p99 {median(p99s) * 1000:.1f} ms (medians of runs)")
    if rss is not None:
        print(f"  server RSS      {rss:.0f} MB")
    print(f"  in process      median {median(inproc_http) * 1000:.2f} ms (one at a time, ASGI app, no socket)")
    if inproc_search is not None:
        print(f"  search engine   median {median(inproc_search) * 1000:.2f} ms  p99 {pct(inproc_search, 99) * 1000:.2f} ms"
              " (one at a time, in process)")
        print(f"  HTTP p50 / search engine median  {median(p50s) / median(inproc_search):.2f}")
    print(f"  HTTP p50 / in-process median     {median(p50s) / median(inproc_http):.2f}")
    if "baseline" in results:
        _compare(runs, results["baseline"], args.baseline)
    if made_here:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
