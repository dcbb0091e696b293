"""LoCoMo retrieval evaluation through vivim itself (issue 4).

Each LoCoMo conversation becomes one vivim user. Its sessions are imported through the
generic ``vivim.conversations/v1`` format (one vivim conversation per session, author =
speaker, message id = ``dia_id``, message time = the session's date; a shared photo is an
image part with its caption), indexed by vivim's indexer, and every question of
categories 1-4 is run through vivim's search. A hit's message id maps back to a turn;
recall@k of a question is the share of its evidence turns among the first k distinct turns
found. No LLM, no network.

    .venv/bin/python -m benchmarks.locomo_eval [--data PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from vivim.app import open_vivim
from vivim.capture.importer import Importer
from vivim.search.engine import SearchEngine

KS = (1, 5, 10, 20)
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "locomo" / "locomo-dev3.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


def session_time(raw: str) -> str | None:
    try:
        return datetime.strptime(raw.strip(), "%I:%M %p on %d %B, %Y").isoformat() + "Z"
    except ValueError:
        return None


def to_generic(sample: dict[str, Any]) -> dict[str, Any]:
    conv = sample["conversation"]
    conversations = []
    n = 1
    while f"session_{n}" in conv:
        when = session_time(conv.get(f"session_{n}_date_time", ""))
        messages = []
        previous = None
        for turn in conv[f"session_{n}"]:
            parts: list[dict[str, Any]] = [{"type": "text", "text": turn.get("text", "")}]
            if turn.get("blip_caption"):
                url = turn.get("img_url")
                parts.append({"type": "image", "ref": url[0] if isinstance(url, list) and url else url or "photo",
                              "alt": turn["blip_caption"]})
            messages.append({"id": turn["dia_id"], "parent_id": previous, "role": "user", "author": turn["speaker"],
                             "created_at": when, "parts": parts})
            previous = turn["dia_id"]
        conversations.append({"id": f"{sample['sample_id']}-session-{n}", "title": f"Session {n}",
                              "provider": "locomo", "created_at": when, "messages": messages})
        n += 1
    return {"format": "vivim.conversations/v1", "conversations": conversations}


def questions(sample: dict[str, Any]) -> list[tuple[str, list[str], int]]:
    out = []
    for qa in sample["qa"]:
        if qa.get("category") not in CATEGORIES:
            continue
        # A few evidence entries hold two ids in one string ("D8:6; D9:17").
        evidence = [e for raw in qa.get("evidence", []) for e in re.split(r"[;,\s]+", raw) if e]
        if evidence:
            out.append((qa["question"], evidence, qa["category"]))
    return out


def recall(ranked_turns: list[str], evidence: list[str]) -> list[float]:
    wanted = set(evidence)
    return [len(wanted & set(ranked_turns[:k])) / len(wanted) for k in KS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    samples = json.loads(args.data.read_text())
    work = Path(tempfile.mkdtemp(prefix="vivim-locomo-"))
    v = open_vivim(work / "data")
    v.init()
    engine = SearchEngine(v.embedder)
    per_question: list[tuple[int, list[float]]] = []
    latencies: list[float] = []
    t_index = 0.0
    for sample in samples:
        user = v.create_user(re.sub(r"[^A-Za-z0-9_.-]", "-", sample["sample_id"]))
        path = work / f"{sample['sample_id']}.json"
        path.write_text(json.dumps(to_generic(sample)))
        summary = Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([path])
        assert summary.ok and not summary.totals()["failed"], summary.to_json()
        t = time.perf_counter()
        report = v.indexer(user).run()
        t_index += time.perf_counter() - t
        assert not report.errors, report.errors
        store = v.store(user)
        for question, evidence, category in questions(sample):
            t = time.perf_counter()
            hits = engine.search(store, question, limit=200)
            latencies.append(time.perf_counter() - t)
            turns = list(dict.fromkeys(h.message_source_id for h in hits if h.message_source_id))
            per_question.append((category, recall(turns, evidence)))
    overall = [statistics.fmean(r[i] for _, r in per_question) for i in range(len(KS))]
    by_cat = {
        CATEGORIES[c]: statistics.fmean(r[2] for cat, r in per_question if cat == c)
        for c in sorted({c for c, _ in per_question})
    }
    result = {
        "questions": len(per_question),
        "recall": {f"R@{k}": round(x, 3) for k, x in zip(KS, overall, strict=True)},
        "recall@10_by_category": {k: round(x, 3) for k, x in by_cat.items()},
        "search_ms_median": round(statistics.median(latencies) * 1000, 2),
        "index_seconds": round(t_index, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"LoCoMo ({args.data.name}): {result['questions']} questions of categories 1-4")
    print("  " + "  ".join(f"{k} {x:.3f}" for k, x in result["recall"].items()))
    print("  R@10 by category: " + ", ".join(f"{k} {x:.3f}" for k, x in result["recall@10_by_category"].items()))
    print(f"  search median {result['search_ms_median']} ms; indexing {result['index_seconds']} s")
    ok = result["recall"]["R@10"] >= 0.75
    print(f"  target R@10 >= 0.75: {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
