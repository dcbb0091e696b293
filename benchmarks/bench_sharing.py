"""Sharing benchmark (issue 7): the "shared with me" feed and shared search for a member of
50 circles holding 100,000 shared units between them.

The master DB is filled through vivim's own tables: 50 circle owners each share 2,000 signed
units (Ed25519, real signatures, verified on every read) with their circle; the reader and
5 other people belong to every circle, so the audience table holds 600,000 rows and the
reader's share of it is 100,000. Audience rows are written by ``vivim.social.access`` (the
same code a join uses). Vectors are random unit vectors of the real model's dimension tagged
with its id (embedding 100,000 texts on the CPU takes half an hour and the scan costs the
same whatever they hold); queries are embedded by the real model inside the timing.

BLAS runs one thread per call, as under `vivim serve`. Reported, warm process: feed (newest, by circle, by author), one share opened, shared
search; and in the same run the bare index range read and the bare vector scan as baselines.

    .venv/bin/python -m benchmarks.bench_sharing [--units 100000] [--circles 50] [--runs 200]
    .venv/bin/python -m benchmarks.bench_sharing --postgres   # a throwaway PostgreSQL (tests/pg.py)
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, text

from benchmarks.common import median, pct
from benchmarks.gen_chatgpt import VOCABULARY, words
from vivim.app import UserRecord, Vivim, open_vivim
from vivim.domain.canonical import content_hash
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso
from vivim.identity.signing import sign_unit
from vivim.search.processes import limit_blas_threads
from vivim.social import access, feed
from vivim.social.shared_search import index_for, search_shared
from vivim.store.master.models import (
    Circle,
    CircleMember,
    SharedUnit,
    SharedUnitAccess,
    SharedUnitCircle,
    SharingPolicy,
)

OTHER_MEMBERS = 5


@contextlib.contextmanager
def master_url(use_postgres: bool, root: Path) -> Iterator[str]:
    if not use_postgres:
        yield f"sqlite:///{root / 'data' / 'master.sqlite'}"
        return
    from tests.pg import throwaway_database, throwaway_postgres

    with throwaway_postgres() as server, throwaway_database(server) as url:
        yield url


def build(v: Vivim, n_units: int, n_circles: int, dim: int, model_id: str) -> tuple[UserRecord, list[str], list[UserRecord]]:
    t0 = time.perf_counter()
    reader = v.create_user("reader")
    owners = [v.create_user(f"owner{i}") for i in range(n_circles)]
    others = [v.create_user(f"other{i}") for i in range(OTHER_MEMBERS)]
    circle_ids = [new_id() for _ in owners]
    with v.master.connect() as c:
        c.execute(insert(Circle), [{"id": cid, "owner_id": o.id, "name": f"circle {i}"} for i, (cid, o) in enumerate(zip(circle_ids, owners, strict=True))])
        rows = []
        for cid, owner in zip(circle_ids, owners, strict=True):
            rows.append({"id": new_id(), "circle_id": cid, "user_id": owner.id, "role": "owner", "can_invite": True, "can_share": True})
            for u in (reader, *others):
                rows.append({"id": new_id(), "circle_id": cid, "user_id": u.id, "role": "member", "can_invite": False, "can_share": True})
        c.execute(insert(CircleMember), rows)
    print(f"users and circles in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    rng = random.Random(3)
    nrng = np.random.default_rng(3)
    now = datetime.now(UTC)
    per_circle = n_units // n_circles
    for cid, owner in zip(circle_ids, owners, strict=True):
        keypair = v.keypair(owner)
        shares, grants = [], []
        vecs = nrng.standard_normal((per_circle, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for j in range(per_circle):
            content = " ".join(words(rng, rng.randint(12, 45)))
            published = now - timedelta(seconds=rng.randint(60, 365 * 86400))
            unit = {"id": new_id(), "author_did": owner.did, "content": content, "content_hash": content_hash(content),
                    "type": "statement", "category": "general", "conversation_id": new_id(), "message_id": new_id(),
                    "created_at": to_iso(published)}
            sid = new_id()
            shares.append({
                "id": sid, "unit_id": unit["id"], "sharer_id": owner.id, "author_id": owner.id, "author_did": owner.did,
                "content": content, "content_hash": unit["content_hash"], "type": "statement", "category": "general",
                "conversation_id": unit["conversation_id"], "message_id": unit["message_id"],
                "unit_created_at": unit["created_at"], "signature": sign_unit(keypair, unit), "language": "en",
                "tags": [], "embedding": vecs[j].astype("<f4").tobytes(), "embedding_model": model_id,
                "embedding_dim": dim, "policy": SharingPolicy.CIRCLE, "can_view": True, "can_annotate": True,
                "can_remix": True, "can_reshare": False, "expires_at": None, "published_at": published,
                "updated_at": published,
            })
            grants.append({"shared_unit_id": sid, "circle_id": cid, "published_at": published})
        with v.master.connect() as c:
            c.execute(insert(SharedUnit), shares)
            c.execute(insert(SharedUnitCircle), grants)
    print(f"{n_units:,} signed shared units in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with v.master.session() as s:
        for cid in circle_ids:
            for u in (reader, *others):
                access.member_added(s, cid, u.id)
    with v.master.connect() as c:
        if v.master.dialect_name == "postgresql":
            c.execute(text("ANALYZE"))
        else:
            c.execute(text("ANALYZE"))
        n_access = c.execute(select(text("count(*)")).select_from(SharedUnitAccess)).scalar_one()
    print(f"{n_access:,} audience rows in {time.perf_counter() - t0:.1f} s")
    return reader, circle_ids, owners


def timings(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def row(name: str, lat: list[float], target: float | None = None) -> None:
    verdict = "" if target is None else ("   OK" if median(lat) <= target else "   MISSED")
    print(f"  {name:34} p50 {median(lat) * 1000:7.2f} ms   p99 {pct(lat, 99) * 1000:7.2f} ms{verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--circles", type=int, default=50)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--postgres", action="store_true", help="run the master DB on a throwaway PostgreSQL")
    args = ap.parse_args()
    # As `vivim serve` runs (vivim.search.processes.limit_blas_threads): one BLAS thread per call.
    limit_blas_threads()
    root = Path(tempfile.mkdtemp(prefix="vivim-bench-sharing-"))
    with master_url(args.postgres, root) as url:
        v = open_vivim(root / "data", master_url=url)
        v.init()
        embedder = v.embedder
        reader, circle_ids, owners = build(v, args.units, args.circles, embedder.dim, embedder.model_id)
        rng = random.Random(5)
        content_words = VOCABULARY[100:5000]
        queries = [" ".join(rng.choice(content_words) for _ in range(rng.randint(2, 5))) for _ in range(args.runs)]

        t = time.perf_counter()
        with v.master.session() as s:
            ix = index_for(v, s, reader.id)
        cold = time.perf_counter() - t
        first = feed.feed(v, reader, limit=50)["items"]
        assert len(first) == 50 and all(i["verification"]["valid"] for i in first)
        for q in queries[:20]:
            search_shared(v, reader, q, embedder=embedder)

        def bare_range() -> None:
            with v.master.connect() as c:
                c.execute(
                    select(SharedUnitAccess.shared_unit_id)
                    .where(SharedUnitAccess.recipient_id == reader.id)
                    .order_by(SharedUnitAccess.published_at.desc(), SharedUnitAccess.shared_unit_id.desc())
                    .limit(50)
                ).all()

        lat_feed = timings(lambda: feed.feed(v, reader, limit=50), args.runs)
        lat_bare = timings(bare_range, args.runs)
        lat_circle = timings(lambda: feed.feed(v, reader, circle_id=rng.choice(circle_ids), limit=50), args.runs // 2)
        lat_author = timings(lambda: feed.feed(v, reader, author=rng.choice(owners).handle, limit=50), args.runs // 2)
        sids = [i["id"] for i in first]
        lat_show = timings(lambda: feed.show(v, reader, rng.choice(sids)), args.runs // 2)
        it = iter(queries * 2)
        lat_search = timings(lambda: search_shared(v, reader, next(it), embedder=embedder), args.runs)
        it3 = iter(queries * 2)
        lat_lex = timings(lambda: search_shared(v, reader, next(it3), embedder=None), args.runs // 2)
        it2 = iter(queries * 2)
        lat_embed = timings(lambda: embedder.embed_query(next(it2)), args.runs // 2)
        qv = embedder.embed_query(queries[0])
        lat_scan = timings(lambda: np.argpartition(-(ix.matrix @ qv), 200)[:200], args.runs // 2)

        print(f"\nmaster: {v.master.dialect_name}; reader in {len(circle_ids)} circles with {len(ix.ids):,} visible shares")
        print(f"  shared search index, cold build: {cold:.2f} s (once per sharing generation)")
        row("feed, newest 50", lat_feed, 0.030)
        row("feed, one circle", lat_circle)
        row("feed, one author", lat_author)
        row("open one share (+consumption)", lat_show)
        row("shared search, top 10", lat_search, 0.030)
        row("shared search, full text only", lat_lex)
        row("baseline: bare index range, 50", lat_bare)
        row("baseline: query embedding alone", lat_embed)
        row("baseline: bare vector scan", lat_scan)
        print(f"  ratios: feed / bare range {median(lat_feed) / median(lat_bare):.1f}x;"
              f" search / (embedding + scan) {median(lat_search) / (median(lat_embed) + median(lat_scan)):.2f}x")
        v.close()


if __name__ == "__main__":
    main()
