"""Foundation benchmark: many users, each with their own SQLite file.

Targets (issue 2): median user creation <= 5 ms; an empty user DB <= 256 KB; getting a
user's store <= 0.2 ms cached and <= 3 ms cold (open + schema check); open files stay
within the configured bound while every user is touched in turn.

    .venv/bin/python -m benchmarks.bench_users [--users 10000] [--max-open 128] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import median, ms, open_files_matching, pct, timed
from vivim.app import open_vivim


def run_once(n_users: int, max_open: int, root: Path) -> dict[str, float]:
    v = open_vivim(root, max_open_user_dbs=max_open)
    v.init()
    create = []
    users = []
    for i in range(n_users):
        dt, u = timed(lambda i=i: v.create_user(f"user{i}"))
        create.append(dt)
        users.append(u)
    sizes = [os.path.getsize(v.router.path_for(u.id)) for u in users[:: max(1, n_users // 100)]]
    v.router.close_all()

    # Every user in turn, twice: each open is cold (the cache holds far fewer than all
    # users and evicts). The first pass is each file's first open ever, which also switches
    # it to WAL; the second pass is an ordinary cold open.
    first, cold, max_open_seen = [], [], 0
    for bucket in (first, cold):
        for u in users:
            dt, _ = timed(lambda u=u: v.store(u))
            bucket.append(dt)
            max_open_seen = max(max_open_seen, v.router.open_count)
    fd_sqlite = open_files_matching(".sqlite") - 1  # minus the master DB
    hot = users[-min(max_open, len(users)) :]
    cached = []
    for _ in range(20):
        for u in random.sample(hot, len(hot)):
            dt, _ = timed(lambda u=u: v.store(u))
            cached.append(dt)
    v.close()
    return {
        "create_median": median(create),
        "create_p99": pct(create, 99),
        "db_size_max": max(sizes),
        "first_open_median": median(first),
        "cold_median": median(cold),
        "cold_p99": pct(cold, 99),
        "cached_median": median(cached),
        "max_open_seen": max_open_seen,
        "fd_sqlite": fd_sqlite,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--max-open", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = []
    for r in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="vivim-bench-users-"))
        try:
            res = run_once(args.users, args.max_open, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        results.append(res)
        print(
            f"run {r + 1}: create median {ms(res['create_median'])} (p99 {ms(res['create_p99'])}), "
            f"first open {ms(res['first_open_median'])}, cold {ms(res['cold_median'])} (p99 {ms(res['cold_p99'])}), cached {ms(res['cached_median'])}, "
            f"empty DB {res['db_size_max'] / 1024:.0f} KB, open stores max {res['max_open_seen']}, "
            f"open .sqlite fds {res['fd_sqlite']}"
        )

    def med(k: str) -> float:
        return median([r[k] for r in results])

    print(f"\n{args.users} users, max open {args.max_open}, median of {args.runs} runs:")
    rows = [
        ("user creation (median)", ms(med("create_median")), "<= 5 ms", med("create_median") <= 0.005),
        ("empty user DB on disk", f"{med('db_size_max') / 1024:.0f} KB", "<= 256 KB", med("db_size_max") <= 256 * 1024),
        ("store, cached (median)", ms(med("cached_median")), "<= 0.2 ms", med("cached_median") <= 0.0002),
        ("store, first open (median)", ms(med("first_open_median")), "<= 3 ms", med("first_open_median") <= 0.003),
        ("store, cold (median)", ms(med("cold_median")), "<= 3 ms", med("cold_median") <= 0.003),
        ("open stores (max seen)", f"{max(r['max_open_seen'] for r in results)}", f"<= {args.max_open}",
         max(r["max_open_seen"] for r in results) <= args.max_open),
    ]
    for name, value, target, ok in rows:
        print(f"  {name:28} {value:>12}   target {target:10} {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
