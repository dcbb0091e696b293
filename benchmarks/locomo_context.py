"""LoCoMo evidence coverage of context bundles (issue 6).

Each LoCoMo conversation becomes one vivim user, imported and indexed exactly as in
benchmarks/locomo_eval.py (one vivim conversation per session, message id = ``dia_id``).
For every question of categories 1-4 a context bundle is built for the question with a
2,000-token budget (cl100k), and the bundle's composition says which turns it holds. A
question counts as covered when every one of its evidence turns is in the bundle, whole
(a turn cut to fit does not count). No LLM, no network.

    .venv/bin/python -m benchmarks.locomo_context [--data PATH] [--budget 2000] [--preset knowledge] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.locomo_eval import CATEGORIES, DEFAULT_DATA, questions, to_generic
from vivim.app import open_vivim
from vivim.capture.importer import Importer
from vivim.context.budget import count
from vivim.context.bundle import Bundle, ContextEngine
from vivim.context.settings import PRESETS, UserContextSettings
from vivim.search.engine import SearchEngine


def turns_in(bundle: Bundle) -> set[str]:
    """The turns (message source ids) a bundle holds whole, from any layer."""
    out: set[str] = set()
    for layer in bundle.composition["layers"].values():
        for item in layer["items"]:
            if item.get("message_source_id") and not item.get("truncated"):
                out.add(item["message_source_id"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--preset", default="knowledge", choices=sorted(PRESETS))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--vault", type=Path, help="Keep the indexed vaults here and reuse them on the next run.")
    args = ap.parse_args()
    samples = json.loads(args.data.read_text())
    work = args.vault or Path(tempfile.mkdtemp(prefix="vivim-locomo-context-"))
    v = open_vivim(work / "data")
    v.init()
    search = SearchEngine(v.embedder)
    settings = UserContextSettings.from_preset(args.preset)
    rows: list[tuple[int, bool, float]] = []
    latencies: list[float] = []
    used: list[int] = []
    existing = {u.handle for u in v.list_users()}
    for sample in samples:
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", sample["sample_id"])
        if name in existing:
            user = v.get_user(name)
        else:
            user = v.create_user(name)
            path = work / f"{sample['sample_id']}.json"
            path.write_text(json.dumps(to_generic(sample)))
            summary = Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([path])
            assert summary.ok and not summary.totals()["failed"], summary.to_json()
            report = v.indexer(user).run()
            assert not report.errors, report.errors
        engine = ContextEngine(v.store(user), search, settings=settings)
        for question, evidence, category in questions(sample):
            t = time.perf_counter()
            bundle = engine.build(question, budget=args.budget, use_cache=False)
            latencies.append(time.perf_counter() - t)
            assert count(bundle.content) <= args.budget
            used.append(bundle.total_tokens)
            held = turns_in(bundle)
            wanted = set(evidence)
            rows.append((category, wanted <= held, len(wanted & held) / len(wanted)))
    covered = statistics.fmean(1.0 if ok else 0.0 for _, ok, _ in rows)
    result = {
        "questions": len(rows),
        "budget": args.budget,
        "preset": args.preset,
        "all_evidence_in_bundle": round(covered, 3),
        "evidence_turn_recall": round(statistics.fmean(r for _, _, r in rows), 3),
        "by_category": {
            CATEGORIES[c]: round(statistics.fmean(1.0 if ok else 0.0 for cat, ok, _ in rows if cat == c), 3)
            for c in sorted({c for c, _, _ in rows})
        },
        "tokens_used_median": statistics.median(used),
        "bundle_ms_median": round(statistics.median(latencies) * 1000, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"LoCoMo ({args.data.name}): {result['questions']} questions of categories 1-4, "
        f"{args.budget}-token bundles, preset {args.preset}"
    )
    print(
        f"  all evidence turns in the bundle: {result['all_evidence_in_bundle']:.3f}"
        f"   (evidence turns covered: {result['evidence_turn_recall']:.3f})"
    )
    print("  by category: " + ", ".join(f"{k} {x:.3f}" for k, x in result["by_category"].items()))
    print(
        f"  median tokens used {result['tokens_used_median']}, median assembly {result['bundle_ms_median']} ms"
    )
    print(f"  target >= 0.85: {'OK' if covered >= 0.85 else 'MISSED'}")


if __name__ == "__main__":
    main()
