"""Synthetic ChatGPT data export generator (for benchmarks and crash tests).

Writes a ``conversations.json`` in the shape of a real ChatGPT export: a list of
conversations, each a ``mapping`` tree (root node without a message, then alternating
user/assistant nodes with ``author``, ``content`` {content_type, parts}, ``create_time``,
``metadata`` incl. ``model_slug``), ``current_node``, titles and times. Assistant answers
are markdown with prose, and sometimes fenced code, tables and display math, of realistic
lengths (user turns ~40-400 characters, answers ~200-2,500), with words drawn by Zipf's law
from a 20,000-word vocabulary. Deterministic for a seed.

    .venv/bin/python -m benchmarks.gen_chatgpt OUT.json --conversations 5000 --messages 100000
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from pathlib import Path
from typing import Any, TextIO

_WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "as",
    "this",
    "be",
    "are",
    "can",
    "use",
    "your",
    "not",
    "or",
    "by",
    "from",
    "an",
    "if",
    "data",
    "model",
    "function",
    "value",
    "memory",
    "query",
    "index",
    "vector",
    "search",
    "python",
    "sqlite",
    "table",
    "column",
    "import",
    "export",
    "server",
    "client",
    "request",
    "response",
    "error",
    "cache",
    "token",
    "budget",
    "context",
    "message",
    "conversation",
    "user",
    "assistant",
    "performance",
    "latency",
    "throughput",
    "batch",
    "stream",
    "parse",
    "json",
    "schema",
    "migration",
    "transaction",
    "commit",
    "rollback",
    "key",
    "signature",
    "identity",
    "device",
    "sync",
    "clock",
    "merge",
    "conflict",
    "circle",
    "share",
    "permission",
    "policy",
    "embedding",
    "cluster",
    "topic",
    "entity",
    "summary",
    "note",
    "project",
    "goal",
    "preference",
    "deploy",
    "docker",
    "test",
    "benchmark",
    "profile",
]


def _synthetic_vocabulary(size: int = 20_000) -> list[str]:
    """Pronounceable made-up words: with the core words above, a vocabulary as large as
    real chat text has, so that word frequencies (and full-text search costs) are realistic."""
    rng = random.Random(11)
    onsets, vowels, codas = (
        "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr".split(),
        "aeiou",
        ["", "n", "r", "s", "t", "l", "m", "x"],
    )
    out: dict[str, None] = {}
    while len(out) < size:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(1, 3))
        )
        out.setdefault(word, None)
    return list(out)


# Core words first, so they are the most frequent; frequencies follow Zipf's law (s = 1.1).
VOCABULARY = list(dict.fromkeys([*_WORDS, *_synthetic_vocabulary()]))
_CUM_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 1) ** 1.1 for rank in range(len(VOCABULARY))))


def words(rng: random.Random, n: int) -> list[str]:
    return rng.choices(VOCABULARY, cum_weights=_CUM_WEIGHTS, k=n)


def _sentence(rng: random.Random, lo: int = 6, hi: int = 22) -> str:
    words_ = words(rng, rng.randint(lo, hi))
    return words_[0].capitalize() + " " + " ".join(words_[1:]) + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _answer(rng: random.Random) -> str:
    blocks = [_paragraph(rng, rng.randint(1, 4))]
    r = rng.random()
    if r < 0.25:
        code = "\n".join(
            f"    {rng.choice(_WORDS)} = {rng.choice(_WORDS)}({rng.randint(0, 99)})"
            for _ in range(rng.randint(2, 8))
        )
        blocks.append(f"```python\ndef {rng.choice(_WORDS)}():\n{code}\n```")
        blocks.append(_paragraph(rng, rng.randint(1, 2)))
    elif r < 0.32:
        rows = "\n".join(
            f"| {rng.choice(_WORDS)} | {rng.randint(1, 999)} |" for _ in range(rng.randint(2, 5))
        )
        blocks.append(f"| name | value |\n|---|---|\n{rows}")
    elif r < 0.36:
        blocks.append(f"$$\n{rng.choice(_WORDS)} = \\sum_{{i=1}}^{{n}} x_i^{rng.randint(2, 4)}\n$$")
    if rng.random() < 0.4:
        blocks.append(_paragraph(rng, rng.randint(1, 3)))
    return "\n\n".join(blocks)


def _node(
    node_id: str, parent: str | None, children: list[str], message: dict[str, Any] | None
) -> dict[str, Any]:
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def conversation(rng: random.Random, index: int, n_messages: int, t0: float) -> dict[str, Any]:
    conv_id = f"{index:08x}-5eed-4000-8000-{rng.getrandbits(48):012x}"
    mapping: dict[str, Any] = {}
    root = f"{conv_id}-root"
    mapping[root] = _node(root, None, [], None)
    parent = root
    t = t0
    for i in range(n_messages):
        node_id = f"{conv_id}-{i:05d}"
        role = "user" if i % 2 == 0 else "assistant"
        text = _paragraph(rng, rng.randint(1, 3)) if role == "user" else _answer(rng)
        t += rng.uniform(5, 120)
        msg = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": t,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": role == "assistant",
            "weight": 1.0,
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
            "recipient": "all",
        }
        mapping[node_id] = _node(node_id, parent, [], msg)
        mapping[parent]["children"].append(node_id)
        parent = node_id
    return {
        "title": _sentence(rng, 3, 8).rstrip("."),
        "create_time": t0,
        "update_time": t,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": parent,
        "conversation_id": conv_id,
        "id": conv_id,
        "default_model_slug": "gpt-4o",
    }


def write_export(out: TextIO, n_conversations: int, n_messages: int, seed: int = 7) -> None:
    """Stream the export to ``out`` (never holds more than one conversation in memory)."""
    rng = random.Random(seed)
    base, extra = divmod(n_messages, n_conversations)
    out.write("[")
    for i in range(n_conversations):
        if i:
            out.write(",\n")
        n = base + (1 if i < extra else 0)
        json.dump(conversation(rng, i, n, 1_700_000_000 + i * 3600.0), out)
    out.write("]\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--conversations", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with open(args.out, "w", encoding="utf-8") as f:
        write_export(f, args.conversations, args.messages, args.seed)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
