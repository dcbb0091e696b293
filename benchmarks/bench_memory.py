"""Memory extraction and profile building benchmark.

Two vaults, built outside the timings (import + units, no vectors):
- synthetic: a generated ChatGPT export (benchmarks/gen_chatgpt.py), mostly technical
  chatter with few first-person statements: the cost of reading everything;
- locomo: the three LoCoMo conversations of ../shared/fixtures (skipped when absent): long
  personal chats, rich in statements: the cost of writing memories.

Timed on each, median of ``--runs`` (the vault's memories are reset between runs):
- ``extract_memories`` over the whole vault (a first run: every conversation is new), and
  an incremental run with nothing new;
- ``rebuild_profiles``;
- baseline, in the same run: unit extraction (``extract_conversation``) over the same
  messages, to give a machine-independent ratio.

    .venv/bin/python -m benchmarks.bench_memory [--conversations 2000] [--messages 40000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import median
from benchmarks.gen_chatgpt import write_export
from vivim.app import Vivim, open_vivim
from vivim.capture.importer import Importer
from vivim.memory.pipeline import extract_memories
from vivim.memory.profiles import rebuild_profiles
from vivim.store.user.conversations import get_conversation, get_messages
from vivim.store.user.db import UserStore
from vivim.units.extract import extract_conversation

LOCOMO = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "locomo" / "locomo-dev3.json"


def _locomo_sessions(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """One vivim-json conversation per LoCoMo session; turns keep their speaker as author."""
    conv = sample["conversation"]
    out = []
    n = 1
    while f"session_{n}" in conv:
        previous = None
        messages = []
        for turn in conv[f"session_{n}"]:
            messages.append({"id": turn["dia_id"], "parent_id": previous, "role": "user", "author": turn["speaker"],
                             "text": turn.get("text", "")})
            previous = turn["dia_id"]
        out.append({"id": f"{sample['sample_id']}-{n}", "title": f"Session {n}", "provider": "locomo",
                    "messages": messages})
        n += 1
    return out


def _vault(v: Vivim, name: str, path: Path) -> UserStore:
    user = v.create_user(name)
    store = v.store(user)
    assert Importer(store=store, master=v.master, user_id=user.id).import_paths([path]).ok
    v.indexer(user, embed=False).run(embed=False)
    return store


def _reset(store: UserStore) -> None:
    with store.transaction() as conn:
        for table in ("memory_sources", "memories", "user_facts", "memory_suppressions"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("UPDATE conversations SET memories_state = NULL")


def _unit_baseline(store: UserStore) -> float:
    with store.read() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM conversations")]
        inputs = [(get_conversation(conn, i), get_messages(conn, i)) for i in ids]
    t = time.perf_counter()
    for conv, msgs in inputs:
        extract_conversation(conv, msgs, parser_version="bench")  # type: ignore[arg-type]
    return time.perf_counter() - t


def measure(store: UserStore, runs: int) -> dict[str, Any]:
    with store.read() as conn:
        messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        user_messages = conn.execute("SELECT COUNT(*) FROM messages WHERE role = 'user'").fetchone()[0]
    full, again, profiles, baseline = [], [], [], []
    report: Any = None
    built: Any = None
    for _ in range(runs):
        _reset(store)
        t = time.perf_counter()
        report = extract_memories(store)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        extract_memories(store)
        again.append(time.perf_counter() - t)
        t = time.perf_counter()
        built = rebuild_profiles(store)
        profiles.append(time.perf_counter() - t)
        baseline.append(_unit_baseline(store))
    return {
        "messages": messages,
        "user_messages": user_messages,
        "memories": report.memories_added,
        "merged": report.memories_merged,
        "facts": report.facts_added,
        "topics": built.topics,
        "entities": built.entities,
        "extract_s": median(full),
        "extract_msgs_per_s": messages / median(full),
        "incremental_noop_s": median(again),
        "profiles_s": median(profiles),
        "unit_extraction_s": median(baseline),
        "ratio_extract_to_units": median(full) / median(baseline),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conversations", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = root / "synthetic.json"
        with export.open("w") as f:
            write_export(f, args.conversations, args.messages)
        v = open_vivim(root / "data")
        v.init()
        try:
            results = {"synthetic": measure(_vault(v, "synthetic", export), args.runs)}
            if LOCOMO.exists():
                generic = root / "locomo.json"
                samples = json.loads(LOCOMO.read_text())
                conversations = [c for s in samples for c in _locomo_sessions(s)]
                generic.write_text(json.dumps({"format": "vivim.conversations/v1", "conversations": conversations}))
                results["locomo"] = measure(_vault(v, "locomo", generic), args.runs)
        finally:
            v.close()
    for name, r in results.items():
        print(
            f"{name}: {r['messages']} messages ({r['user_messages']} from users) -> {r['memories']} memories "
            f"({r['merged']} repeats merged, {r['facts']} facts), {r['topics']} topics, {r['entities']} entities"
        )
        print(
            f"  extract {r['extract_s']:.3f} s ({r['extract_msgs_per_s']:,.0f} messages/s; "
            f"{r['ratio_extract_to_units']:.2f}x unit extraction's {r['unit_extraction_s']:.3f} s), "
            f"incremental no-op {r['incremental_noop_s'] * 1000:.1f} ms, profiles {r['profiles_s']:.3f} s"
        )


if __name__ == "__main__":
    main()
