"""Search latency benchmark (issue 4): hybrid search in a warm process at N units.

The vault is built through vivim itself (synthetic ChatGPT export -> import -> unit
extraction and full-text indexing). Vectors are then written directly as random unit
vectors of the real model's dimension, tagged with the real model id: embedding 100,000
units with the CPU model takes about half an hour, and brute-force search costs the same
whatever the vectors hold. Queries are embedded by the real model, inside the timing.

In the same run, for reference: the model's query embedding alone, and a bare numpy scan
of the same matrix.

    .venv/bin/python -m benchmarks.bench_search [--units 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import median, pct
from benchmarks.gen_chatgpt import VOCABULARY, write_export
from vivim.app import open_vivim
from vivim.capture.importer import Importer
from vivim.embed.base import vector_to_blob
from vivim.search.engine import Filters
from vivim.search.vectors import index_for
from vivim.store.user.units import bump_search_generation

UNITS_PER_MESSAGE = 1.4  # what the extractor makes of the generator's messages


def build(root: Path, n_units: int) -> tuple[object, object]:
    v = open_vivim(root / "data")
    v.init()
    user = v.create_user("bench")
    messages = int(n_units / UNITS_PER_MESSAGE)
    export = root / "export.json"
    with open(export, "w", encoding="utf-8") as f:
        write_export(f, max(1, messages // 20), messages)
    t = time.perf_counter()
    Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([export])
    print(f"imported {messages:,} messages in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    report = v.indexer(user, embed=False).run(embed=False)
    print(f"extracted and indexed {report.units_added:,} units in {time.perf_counter() - t:.1f} s")
    store = v.store(user)
    rng = np.random.default_rng(1)
    embedder = v.embedder
    with store.read() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM atomic_chat_units")]
    t = time.perf_counter()
    for start in range(0, len(ids), 50_000):
        chunk = ids[start : start + 50_000]
        vecs = rng.standard_normal((len(chunk), embedder.dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.transaction() as conn:
            conn.executemany(
                "UPDATE atomic_chat_units SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?",
                [(vector_to_blob(vec), embedder.model_id, embedder.dim, uid) for vec, uid in zip(vecs, chunk, strict=True)],
            )
            bump_search_generation(conn)
    print(f"wrote {len(ids):,} vectors in {time.perf_counter() - t:.1f} s")
    return v, user


def make_queries(n: int, seed: int = 5) -> list[str]:
    """``n`` queries of 2-6 content words of the generated vault (not the 100 most frequent
    words, which act as stopwords), some with a question's opening; nearly all distinct."""
    rng = random.Random(seed)
    content_words = VOCABULARY[100:5000]
    return [
        rng.choice(["how do I ", "what is the ", "why does my ", "", "explain "])
        + " ".join(rng.choice(content_words) for _ in range(rng.randint(2, 6)))
        for _ in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vivim-bench-search-"))
    v, user = build(root, args.units)
    store = v.store(user)  # type: ignore[attr-defined]
    engine = v.search_engine()  # type: ignore[attr-defined]
    t = time.perf_counter()
    ix = index_for(store)
    print(f"loaded the in-memory index of {len(ix.ids):,} units in {time.perf_counter() - t:.1f} s")
    queries = make_queries(args.queries)
    for q in queries[:20]:  # warm-up: model session, caches
        engine.search(store, q)
    lat, again, filtered, embed_only, scan = [], [], [], [], []
    for q in queries:
        t = time.perf_counter()
        engine.search(store, q, limit=10)
        lat.append(time.perf_counter() - t)
    for q in queries:  # now every word's full-text part is kept (vivim/search/word_scores.py)
        t = time.perf_counter()
        engine.search(store, q, limit=10)
        again.append(time.perf_counter() - t)
    for q in queries[:100]:
        t = time.perf_counter()
        engine.search(store, q, limit=10, filters=Filters(role="assistant", since="2023-11-20"))
        filtered.append(time.perf_counter() - t)  # words kept, as above
        t = time.perf_counter()
        qv = v.embedder.embed_query(q)  # type: ignore[attr-defined]
        embed_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        scores = ix.matrix @ qv
        np.argpartition(-scores, 200)[:200]
        scan.append(time.perf_counter() - t)
    n = len(ix.ids)
    print(f"\n{n:,} units, {len(queries)} queries (warm process):")
    print(f"  hybrid search         p50 {median(lat) * 1000:7.1f} ms   p99 {pct(lat, 99) * 1000:7.1f} ms")
    print(f"  the same, words kept  p50 {median(again) * 1000:7.1f} ms   p99 {pct(again, 99) * 1000:7.1f} ms")
    print(f"  with filters          p50 {median(filtered) * 1000:7.1f} ms   p99 {pct(filtered, 99) * 1000:7.1f} ms")
    print(f"  query embedding only  p50 {median(embed_only) * 1000:7.1f} ms")
    print(f"  numpy scan only       p50 {median(scan) * 1000:7.1f} ms  (reference, same matrix)")
    if n <= 200_000:
        print(f"  target p50 <= 20 ms, p99 <= 60 ms: {'OK' if median(lat) <= 0.02 and pct(lat, 99) <= 0.06 else 'MISSED'}")
    else:
        print(f"  target p50 <= 100 ms: {'OK' if median(lat) <= 0.1 else 'MISSED'}")


if __name__ == "__main__":
    main()
