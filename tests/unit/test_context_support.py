"""Helpers for the context tests (no tests here): a small vault with units, facts,
memories, instructions, a persona, topics and entities, written through vivim's importer
and indexer plus direct rows for the tables the memory feature owns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fakes import HashingEmbedder
from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer
from vivim.store.user.db import UserStore

T0 = "2024-05-01T10:00:00.000000Z"

TOPICS = [
    "sourdough bread baking with a starter and long fermentation",
    "kubernetes deployments rolling updates and helm charts",
    "marathon training plan with long runs and tempo intervals",
    "python asyncio event loops tasks and cancellation",
    "watercolor painting washes pigments and paper",
]


def conversations(n_per_topic: int = 3, turns: int = 6) -> list[dict[str, Any]]:
    out = []
    for ti, topic in enumerate(TOPICS):
        words = topic.split()
        for ci in range(n_per_topic):
            cid = f"t{ti}-c{ci}"
            msgs = []
            for k in range(turns):
                role = "user" if k % 2 == 0 else "assistant"
                text = (
                    f"Question {k} about {topic}: how should I handle the {words[k % len(words)]} part?"
                    if role == "user"
                    else f"For {topic}, step {k}: focus on {words[(k + 1) % len(words)]} and "
                    f"{words[(k + 2) % len(words)]}; conversation {cid} detail number {k * 7 + ci}."
                )
                msgs.append(
                    {
                        "id": f"{cid}-m{k}",
                        "parent_id": f"{cid}-m{k - 1}" if k else None,
                        "role": role,
                        "created_at": f"2024-0{1 + ti}-1{ci}T09:00:0{k}Z",
                        "text": text,
                    }
                )
            out.append(
                {
                    "id": cid,
                    "title": f"{words[0].title()} chat {ci}",
                    "provider": "chatgpt",
                    "created_at": f"2024-0{1 + ti}-1{ci}T09:00:00Z",
                    "messages": msgs,
                }
            )
    return out


def import_and_index(v: Vivim, user: UserRecord, tmp: Path, convs: list[dict[str, Any]]) -> UserStore:
    path = tmp / f"export-{len(convs)}.json"
    path.write_text(json.dumps({"format": "vivim.conversations/v1", "conversations": convs}))
    summary = Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([path])
    assert summary.ok
    v._embedder = HashingEmbedder()  # fast, deterministic vectors; the real model is tested in search
    v.indexer(user).run()
    return v.store(user)


def add_rows(store: UserStore, *, facts: int = 8, memories: int = 12) -> None:
    with store.transaction() as c:
        for i in range(facts):
            c.execute(
                "INSERT INTO user_facts (id, category, content, content_hash, importance, pinned, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    f"fact-{i}",
                    "identity",
                    f"The user fact number {i}: works on project Falcon{i} in Lisbon.",
                    f"fh{i}",
                    5 + i % 5,
                    int(i == 0),
                    T0,
                    T0,
                ),
            )
        kinds = ["PREFERENCE", "IDENTITY", "PROJECT", "GOAL", "EPISODIC", "SEMANTIC"]
        for i in range(memories):
            c.execute(
                "INSERT INTO memories (id, content, memory_type, importance, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (
                    f"mem-{i}",
                    f"Memory {i}: the user likes {TOPICS[i % len(TOPICS)]} and keeps notes {i}.",
                    kinds[i % len(kinds)],
                    3 + i % 7,
                    T0,
                    T0,
                ),
            )
        for i in range(4):
            c.execute(
                "INSERT INTO custom_instructions (id, content, content_hash, scope, priority, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    f"ins-{i}",
                    f"Instruction {i}: answer concisely and cite the source conversation {i}.",
                    f"ih{i}",
                    "global",
                    i,
                    T0,
                    T0,
                ),
            )
        c.execute(
            "INSERT INTO ai_personas (id, name, system_prompt, trigger, created_at, updated_at)"
            " VALUES ('p-baker', 'Baker', 'You are a patient baking coach who explains fermentation.',"
            " '[\"sourdough\"]', ?, ?)",
            (T0, T0),
        )
        c.execute(
            "INSERT INTO topic_profiles (id, slug, label, keyphrases, description, conversation_count, importance,"
            " first_engaged_at, last_engaged_at, created_at, updated_at) VALUES"
            " ('tp-1', 'sourdough', 'Sourdough', '[\"starter\", \"fermentation\"]',"
            " 'Baking naturally leavened bread.', 3, 0.8, '2024-01-10T09:00:00Z', '2024-01-12T09:00:00Z', ?, ?)",
            (T0, T0),
        )
        c.execute(
            "INSERT INTO entity_profiles (id, name, normalized_name, entity_type, aliases, description,"
            " mention_count, conversation_count, importance, created_at, updated_at) VALUES"
            " ('ent-1', 'Kubernetes', 'kubernetes', 'tool', '[\"k8s\"]', 'Container orchestration.', 9, 3, 0.7, ?, ?)",
            (T0, T0),
        )
