"""Embedding pipeline throughput vs the model's own batch throughput (issue 4).

A vault of synthetic conversations is imported and its units extracted. Then, in the same
run: (1) the model embeds exactly the texts the indexer will embed (each unit as
"Speaker: text", and each pair of neighbouring units), in one call; (2) the indexer's
embedding step runs on the vault (reading units, planning the texts, the model, combining
context vectors, writing them in transactions). Throughput is texts per second; the ratio
(2)/(1) is the pipeline's overhead. Target: >= 0.90. Median of several runs.

    .venv/bin/python -m benchmarks.bench_embed [--messages 1500] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import median
from benchmarks.gen_chatgpt import write_export
from vivim.app import open_vivim
from vivim.capture.importer import Importer
from vivim.search.indexer import speaker_text
from vivim.store.user import units as unit_store


def one_run(messages: int, seed: int) -> tuple[float, float, int]:
    root = Path(tempfile.mkdtemp(prefix="vivim-bench-embed-"))
    v = open_vivim(root / "data")
    v.init()
    user = v.create_user("bench")
    export = root / "export.json"
    with open(export, "w", encoding="utf-8") as f:
        write_export(f, max(1, messages // 10), messages, seed=seed)
    Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([export])
    v.indexer(user, embed=False).run(embed=False)
    store = v.store(user)
    texts: list[str] = []
    with store.read() as conn:
        for (conv_id,) in conn.execute("SELECT id FROM conversations").fetchall():
            units = unit_store.units_in_reading_order(conn, conv_id)
            spoken = [speaker_text(s, t) for _, s, t, _ in units]
            texts.extend(spoken)
            texts.extend(spoken[i] + "\n" + spoken[i + 1] for i in range(len(spoken) - 1))
    embedder = v.embedder
    embedder.embed(texts[:64])  # load the model before timing either side
    t = time.perf_counter()
    embedder.embed(texts)
    raw = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    report = v.indexer(user).embed()
    pipeline_seconds = time.perf_counter() - t
    assert report.units_embedded > 0
    v.close()
    return raw, len(texts) / pipeline_seconds, report.units_embedded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    ratios = []
    for r in range(args.runs):
        raw, pipe, units = one_run(args.messages, seed=r)
        ratios.append(pipe / raw)
        print(f"run {r + 1}: model {raw:.0f} texts/s, pipeline {pipe:.0f} texts/s ({units} units), ratio {pipe / raw:.2f}")
    ratio = median(ratios)
    print(f"\nmedian ratio pipeline/model: {ratio:.2f}   target >= 0.90   {'OK' if ratio >= 0.9 else 'MISSED'}")


if __name__ == "__main__":
    main()
