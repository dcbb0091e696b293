"""Context assembly latency benchmark (issue 6): a bundle for a message in a warm process
at N units.

The vault is the one benchmarks/bench_search.py builds (synthetic ChatGPT export ->
import -> unit extraction and full-text indexing -> random unit vectors of the real
model's dimension), plus what the other layers read: facts, memories (with vectors),
custom instructions, a persona, topic and entity profiles. Every bundle is assembled
afresh (cache off) with the default preset and a 4,000-token budget; queries are
embedded by the real model inside the timing. In the same run, for reference: the hybrid
search alone (the bundle's largest part), bundles for a message within a conversation,
and bundles served from the cache.

    .venv/bin/python -m benchmarks.bench_context [--units 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_search import build
from benchmarks.common import median, pct
from benchmarks.gen_chatgpt import VOCABULARY
from vivim.context.budget import count
from vivim.context.bundle import ContextEngine
from vivim.embed.base import vector_to_blob
from vivim.search.vectors import index_for

T0 = "2024-01-01T00:00:00.000000Z"


def add_sources(store: object, dim: int, model: str, rng: random.Random) -> None:
    """Facts, memories, instructions, a persona, topics and entities of a heavy user."""
    nrng = np.random.default_rng(3)
    content = VOCABULARY[100:5000]

    def phrase(n: int) -> str:
        return " ".join(rng.choice(content) for _ in range(n))

    with store.transaction() as c:  # type: ignore[attr-defined]
        for i in range(200):
            c.execute(
                "INSERT INTO user_facts (id, category, content, content_hash, importance, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (f"f{i}", "general", f"The user {phrase(8)}.", f"fh{i}", rng.randint(1, 10), T0, T0),
            )
        kinds = ["EPISODIC", "SEMANTIC", "PROCEDURAL", "FACTUAL", "PREFERENCE", "IDENTITY", "GOAL", "PROJECT"]
        for i in range(2000):
            vec = nrng.standard_normal(dim).astype(np.float32)
            vec /= np.linalg.norm(vec)
            c.execute(
                "INSERT INTO memories (id, content, memory_type, importance, embedding, embedding_model,"
                " embedding_dim, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    f"m{i}",
                    f"The user {phrase(12)}.",
                    kinds[i % len(kinds)],
                    rng.randint(0, 10),
                    vector_to_blob(vec),
                    model,
                    dim,
                    T0,
                    T0,
                ),
            )
        for i in range(20):
            c.execute(
                "INSERT INTO custom_instructions (id, content, content_hash, priority, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (f"i{i}", f"Always {phrase(10)}.", f"ih{i}", i, T0, T0),
            )
        c.execute(
            "INSERT INTO ai_personas (id, name, system_prompt, is_default, created_at, updated_at)"
            " VALUES ('p1', 'Default', 'You are a careful assistant who cites the user''s own notes.', 1, ?, ?)",
            (T0, T0),
        )
        for i in range(300):
            c.execute(
                "INSERT INTO topic_profiles (id, slug, label, keyphrases, description, conversation_count,"
                " importance, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    f"t{i}",
                    f"topic-{i}",
                    rng.choice(content),
                    '["' + '", "'.join(phrase(2) for _ in range(5)) + '"]',
                    phrase(10),
                    rng.randint(1, 50),
                    rng.random(),
                    T0,
                    T0,
                ),
            )
        for i in range(3000):
            name = rng.choice(content) + str(i)
            c.execute(
                "INSERT INTO entity_profiles (id, name, normalized_name, entity_type, description, mention_count,"
                " conversation_count, importance, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    f"e{i}",
                    name,
                    name.lower(),
                    "project",
                    phrase(8),
                    rng.randint(1, 90),
                    rng.randint(1, 9),
                    rng.random(),
                    T0,
                    T0,
                ),
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--budget", type=int, default=4000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vivim-bench-context-"))
    v, user = build(root, args.units)
    store = v.store(user)  # type: ignore[attr-defined]
    search = v.search_engine()  # type: ignore[attr-defined]
    rng = random.Random(11)
    add_sources(store, v.embedder.dim, v.embedder.model_id, rng)  # type: ignore[attr-defined]
    t = time.perf_counter()
    ix = index_for(store)
    print(f"loaded the in-memory index of {len(ix.ids):,} units in {time.perf_counter() - t:.1f} s")
    with store.read() as conn:
        conv_ids = [r[0] for r in conn.execute("SELECT id FROM conversations ORDER BY random() LIMIT 200")]
    content_words = VOCABULARY[100:5000]
    queries = [
        rng.choice(["how do I ", "what is the ", "why does my ", "", "explain "])
        + " ".join(rng.choice(content_words) for _ in range(rng.randint(2, 6)))
        for _ in range(args.queries)
    ]
    engine = ContextEngine(store, search)
    for q in queries[:20]:  # warm-up: model session, caches, memo of sources
        engine.build(q, budget=args.budget, use_cache=False)
    lat, with_conv, cached, search_only, tokens = [], [], [], [], []
    for q in queries:
        t = time.perf_counter()
        b = engine.build(q, budget=args.budget, use_cache=False)
        lat.append(time.perf_counter() - t)
        tokens.append(b.total_tokens)
        assert count(b.content) <= args.budget
    for i, q in enumerate(queries[:100]):
        t = time.perf_counter()
        search.search(store, q, limit=60)
        search_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.build(q, budget=args.budget, conversation_id=conv_ids[i % len(conv_ids)], use_cache=False)
        with_conv.append(time.perf_counter() - t)
    for q in queries[:100]:
        engine.build(q, budget=args.budget)  # fills the cache
    for q in queries[:100]:
        t = time.perf_counter()
        b = engine.build(q, budget=args.budget)
        cached.append(time.perf_counter() - t)
        assert b.cached
    n = len(ix.ids)
    print(f"\n{n:,} units, {len(queries)} messages, budget {args.budget} tokens (warm process, cache off):")
    print(
        f"  context bundle          p50 {median(lat) * 1000:7.1f} ms   p99 {pct(lat, 99) * 1000:7.1f} ms"
        f"   (mean {sum(tokens) / len(tokens):.0f} tokens used)"
    )
    print(
        f"  with a conversation     p50 {median(with_conv) * 1000:7.1f} ms   p99 {pct(with_conv, 99) * 1000:7.1f} ms"
    )
    print(
        f"  from the cache          p50 {median(cached) * 1000:7.1f} ms   p99 {pct(cached, 99) * 1000:7.1f} ms"
    )
    print(f"  hybrid search alone     p50 {median(search_only) * 1000:7.1f} ms  (reference, same run)")
    print(f"  bundle / search alone   {median(lat) / median(search_only):.2f}")
    ok = median(lat) <= 0.05 and pct(lat, 99) <= 0.15
    print(f"  target p50 <= 50 ms, p99 <= 150 ms: {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
