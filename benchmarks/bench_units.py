"""Unit extraction benchmark: a synthetic 5,000-conversation / 100,000-message ChatGPT export.

The export is generated (benchmarks/gen_chatgpt.py), parsed and normalised into the message
dicts the user DB returns, outside the timings. Then, each timed separately over the whole
set, conversation by conversation as an import would run them:

- extraction: ``extract_conversation`` (splitting, typing, category, language, ids);
- intrinsic quality: content richness and structural integrity of every unit;
- near-duplicates: signatures, adding to one growing ``NearDuplicateIndex`` and querying it
  (uniqueness, overall quality, rediscovery) via ``score_units``, per conversation and in
  batches of 100 conversations; and the index on its own (adds, then queries);
- structural links: ``structural_links``.

Target: >= 20,000 messages/s for extraction.

    .venv/bin/python -m benchmarks.bench_units [--conversations 5000] [--messages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import io
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import median, peak_rss_mb
from benchmarks.gen_chatgpt import write_export
from vivim.capture.base import Source
from vivim.capture.chatgpt import PARSER
from vivim.capture.normalize import normalize
from vivim.domain.conversation import ParsedConversation
from vivim.units.extract import extract_conversation, inputs_from_rows
from vivim.units.links import structural_links
from vivim.units.neardup import NearDuplicateIndex
from vivim.units.quality import score_intrinsic, score_units

NOW = "2026-11-22T00:00:00.000000Z"


def build_inputs(n_conversations: int, n_messages: int) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(conversation dict, message dicts) shaped as get_conversation / get_messages return them."""
    buf = io.StringIO()
    write_export(buf, n_conversations, n_messages)
    source = Source.from_bytes("bench.json", buf.getvalue().encode("utf-8"))
    out = []
    for item in PARSER.parse(source):
        if not isinstance(item, ParsedConversation):
            continue
        out.append(inputs_from_rows(normalize(item, with_tokens=False)))
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result). CPU time is reported beside wall
    time because shared machines time-slice: it is what the code itself costs."""
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w, time.process_time() - c, result


def _row(label: str, wall: float, cpu: float, n_messages: int, n_units: int, note: str = "") -> None:
    print(
        f"{label:22} {wall:6.2f} s wall {n_messages / wall:9,.0f} msg/s {n_units / wall:9,.0f} units/s"
        f" | CPU {cpu:6.2f} s {n_messages / cpu:9,.0f} msg/s{note}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    t = time.perf_counter()
    inputs = build_inputs(args.conversations, args.messages)
    n_messages = sum(len(ms) for _, ms in inputs)
    print(f"prepared {len(inputs)} conversations / {n_messages} messages in {time.perf_counter() - t:.1f} s")
    # The prepared inputs are ~100k long-lived dicts; without this every full collection of
    # the cyclic GC walks them again, a cost of holding the whole export in memory at once
    # (which an import, working batch by batch, does not).
    gc.collect()
    gc.freeze()

    runs = []
    units_by_conv: list[list[Any]] = []
    for _ in range(args.runs):
        units_by_conv = []
        wall, cpu, units_by_conv = _timed(
            lambda: [extract_conversation(c, ms, parser_version="bench") for c, ms in inputs]
        )
        runs.append((wall, cpu))
    n_units = sum(len(us) for us in units_by_conv)
    wall_x = median([w for w, _ in runs])
    cpu_x = median([c for _, c in runs])

    wall_q, cpu_q, _ = _timed(lambda: [score_intrinsic(us) for us in units_by_conv])
    # Scoring conversation by conversation (a one-conversation capture) and in batches of
    # 100 conversations (what an import of a whole export does), each into a fresh index.
    index = NearDuplicateIndex()
    wall_s, cpu_s, _ = _timed(lambda: [score_units(us, index, now=NOW) for us in units_by_conv])
    batches = [
        [u for us in units_by_conv[i : i + 100] for u in us] for i in range(0, len(units_by_conv), 100)
    ]
    batch_index = NearDuplicateIndex()
    wall_b, cpu_b, _ = _timed(lambda: [score_units(b, batch_index, now=NOW) for b in batches])
    # score_units recomputes the intrinsic scores; what remains is near-duplicates,
    # uniqueness, overall quality and rediscovery.
    wall_n, cpu_n = max(1e-9, wall_s - wall_q), max(1e-9, cpu_s - cpu_q)
    wall_nb, cpu_nb = max(1e-9, wall_b - wall_q), max(1e-9, cpu_b - cpu_q)
    wall_l, cpu_l, n_links = _timed(lambda: sum(len(structural_links(us)) for us in units_by_conv))

    # The index alone: signatures + adds of every unit in batches of 4,096, then one query each.
    contents = [u.content for us in units_by_conv for u in us]
    ids = [u.id for us in units_by_conv for u in us]
    raw = NearDuplicateIndex()
    wall_a, cpu_a, _ = _timed(lambda: raw.add_many(zip(ids, contents, strict=True)))
    wall_m, cpu_m, _ = _timed(lambda: raw.max_similarity_many(contents, ids))

    dups = sum(1 for us in units_by_conv for u in us if (u.uniqueness or 0) < 0.5)
    print(f"units: {n_units} ({n_units / n_messages:.2f} per message); structural links: {n_links}")
    _row("extraction", wall_x, cpu_x, n_messages, n_units, f"   (median of {args.runs} runs)")
    _row("+ richness/integrity", wall_q, cpu_q, n_messages, n_units)
    _row(
        "+ near-dup/uniqueness",
        wall_n,
        cpu_n,
        n_messages,
        n_units,
        f"   (per conversation; index: {len(index)} units, {index.memory_bytes() / 1e6:.1f} MB of"
        f" arrays; {dups} units with uniqueness < 0.5)",
    )
    _row(
        "  same, batches of 100",
        wall_nb,
        cpu_nb,
        n_messages,
        n_units,
        "   (conversations per score_units call)",
    )
    _row("+ structural links", wall_l, cpu_l, n_messages, n_units)
    _row(
        "all of it",
        wall_x + wall_b + wall_l,
        cpu_x + cpu_b + cpu_l,
        n_messages,
        n_units,
        "   (batches of 100)",
    )
    print(
        f"index alone: {n_units / wall_a:,.0f} adds/s (signature + add, batches of 4,096),"
        f" {n_units / wall_m:,.0f} queries/s (max_similarity_many)"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
