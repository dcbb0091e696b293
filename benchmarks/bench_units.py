"""Unit extraction benchmark: a synthetic 5,000-conversation / 100,000-message ChatGPT export.

The export is generated (benchmarks/gen_chatgpt.py), parsed and normalised into the message
dicts the user DB returns, outside the timings. Then, each timed separately over the whole
set, conversation by conversation as an import would run them:

- extraction: ``extract_conversation`` (splitting, typing, category, language, ids);
- intrinsic quality: content richness and structural integrity of every unit;
- near-duplicates: signatures, adding to one growing ``NearDuplicateIndex`` and querying it
  (uniqueness, overall quality, rediscovery) via ``score_units``;
- structural links: ``structural_links``.

Target: >= 20,000 messages/s for extraction.

    .venv/bin/python -m benchmarks.bench_units [--conversations 5000] [--messages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import time
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

    extract_times: list[float] = []
    units_by_conv: list[list[Any]] = []
    for _ in range(args.runs):
        t = time.perf_counter()
        units_by_conv = [extract_conversation(c, ms, parser_version="bench") for c, ms in inputs]
        extract_times.append(time.perf_counter() - t)
    n_units = sum(len(us) for us in units_by_conv)
    t_extract = median(extract_times)

    t = time.perf_counter()
    for us in units_by_conv:
        score_intrinsic(us)
    t_intrinsic = time.perf_counter() - t

    index = NearDuplicateIndex()
    t = time.perf_counter()
    for us in units_by_conv:
        score_units(us, index, now=NOW)
    t_scored = time.perf_counter() - t
    t_neardup = max(0.0, t_scored - t_intrinsic)  # score_units recomputes the intrinsic part

    t = time.perf_counter()
    n_links = sum(len(structural_links(us)) for us in units_by_conv)
    t_links = time.perf_counter() - t

    dups = sum(1 for us in units_by_conv for u in us if (u.uniqueness or 0) < 0.5)
    print(f"units: {n_units} ({n_units / n_messages:.2f} per message); links: {n_links}")
    print(
        f"extraction           {t_extract:7.2f} s  {n_messages / t_extract:9,.0f} messages/s"
        f"  {n_units / t_extract:9,.0f} units/s   (median of {args.runs})"
    )
    print(
        f"+ richness/integrity {t_intrinsic:7.2f} s  {n_messages / t_intrinsic:9,.0f} messages/s"
        f"  {n_units / t_intrinsic:9,.0f} units/s"
    )
    print(
        f"+ near-dup/uniqueness{t_neardup:7.2f} s  {n_messages / max(t_neardup, 1e-9):9,.0f} messages/s"
        f"  {n_units / max(t_neardup, 1e-9):9,.0f} units/s   (index of {len(index)} units,"
        f" {index.memory_bytes() / 1e6:.1f} MB arrays; {dups} units with uniqueness < 0.5)"
    )
    print(f"+ structural links   {t_links:7.2f} s  {n_messages / t_links:9,.0f} messages/s")
    total = t_extract + t_scored + t_links
    print(f"all of it            {total:7.2f} s  {n_messages / total:9,.0f} messages/s")
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
