"""HTTP API load generator: a real uvicorn server on loopback, authenticated GET requests.

Starts the API in a child process on 127.0.0.1 (a free port), signs a user in with a
personal API token, then sends a fixed number of requests with a fixed concurrency and
reports requests/s and latency percentiles, next to the latency of the same request made
in process (ASGI, no socket), so the HTTP overhead shows as a ratio. Bounded: the request
count is fixed and the run stops at ``--max-seconds`` whatever happens.

    .venv/bin/python -m benchmarks.bench_api [--path "/api/v1/conversations?limit=20"]
        [--requests 3000] [--concurrency 8] [--conversations 2000] [--data-dir DIR --user NAME]

With ``--data-dir``/``--user`` it serves an existing vault (e.g. one with 100,000 units,
to measure search: ``--path "/api/v1/search?q=..."``); otherwise it builds a fresh one
from a synthetic ChatGPT export.
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
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import median, pct

_SERVER = r"""
import sys, uvicorn
from vivim import open_vivim
from vivim.api.app import create_app
v = open_vivim(sys.argv[1]); v.init()
uvicorn.run(create_app(v), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
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


def _in_process(data_dir: Path, token: str, path: str, n: int) -> list[float]:
    """The same request through the ASGI app directly: everything but the socket and uvicorn."""
    from vivim.api.app import create_app
    from vivim.app import open_vivim

    async def run() -> list[float]:
        with open_vivim(data_dir) as v:
            transport = httpx.ASGITransport(app=create_app(v))
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://in-process", headers=headers) as c:
                for _ in range(20):
                    await c.get(path)
                out = []
                for _ in range(n):
                    t = time.perf_counter()
                    r = await c.get(path)
                    out.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise SystemExit(f"in-process request failed: {r.status_code} {r.text[:200]}")
                return out

    return asyncio.run(run())


async def _load(base: str, token: str, path: str, total: int, concurrency: int, max_seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = total
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:
        for _ in range(50):  # warm-up: connections, caches, the user's store
            await client.get(path)

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                t = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="/api/v1/conversations?limit=20")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--conversations", type=int, default=2000)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--user")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()

    data_dir, token = _prepare(args.data_dir, args.user, args.conversations)
    made_here = args.data_dir is None
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(data_dir), str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the API server did not start")
            time.sleep(0.1)
        result = asyncio.run(_load(base, token, args.path, args.requests, args.concurrency, args.max_seconds))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = result["latencies"]
    inproc = _in_process(data_dir, token, args.path, min(500, args.requests))
    rps = len(lat) / result["elapsed"]
    print(f"GET {args.path}  ({len(lat)} requests, concurrency {args.concurrency}, data {data_dir})")
    print(f"  statuses        {dict(sorted(result['statuses'].items()))}")
    print(f"  throughput      {rps:.0f} requests/s")
    print(f"  latency (HTTP)  p50 {pct(lat, 50) * 1000:.2f} ms  p95 {pct(lat, 95) * 1000:.2f} ms  "
          f"p99 {pct(lat, 99) * 1000:.2f} ms")
    print(f"  in process      median {median(inproc) * 1000:.2f} ms (one at a time, ASGI app, no socket)")
    print(f"  HTTP / in-process median ratio {pct(lat, 50) / median(inproc):.2f}")
    if made_here:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
