"""The budget is never exceeded: truncation, allocation and whole bundles, as properties
over random budgets, settings and data."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_context_support import add_rows, conversations, import_and_index
from vivim.app import Vivim
from vivim.capture.tokens import count_tokens
from vivim.context.budget import count, truncate
from vivim.context.bundle import ContextEngine
from vivim.context.layers import allocate
from vivim.context.settings import LAYERS, PRESETS, LayerShare, UserContextSettings
from vivim.domain.errors import InvalidInput

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=400
) | st.sampled_from(
    ["", "héllo wörld 🙂🙂🙂 " * 20, "a" * 900, "def f(x):\n    return x\n" * 30, "日本語のテキスト" * 40]
)


@given(text=texts, n=st.integers(min_value=0, max_value=300))
@settings(max_examples=300, deadline=None)
def test_truncate_never_exceeds_and_keeps_a_prefix(text: str, n: int) -> None:
    cut = truncate(text, n)
    assert count(cut) <= n
    body = cut[:-1] if cut.endswith("…") and not text.startswith(cut) else cut
    assert text.startswith(body)
    if count_tokens(text) <= n:
        assert cut == text


def test_truncate_examples() -> None:
    text = "one two three four five six seven eight nine ten"
    assert count(text) == 10
    assert truncate(text, 10) == text
    assert truncate(text, 4) == "one two three…"
    assert truncate(text, 4, ellipsis=False) == "one two three four"
    assert truncate(text, 0) == ""


shares_st = st.builds(
    lambda a, b, c, on: LayerShare(*sorted((a, b, c)), enabled=on),
    st.floats(0, 0.12),
    st.floats(0, 1),
    st.floats(0, 1),
    st.booleans(),
)


@given(
    budget=st.integers(16, 20_000),
    shares=st.fixed_dictionaries({name: shares_st for name in LAYERS}),
    demands=st.fixed_dictionaries({name: st.integers(0, 30_000) for name in LAYERS}),
)
@settings(max_examples=400, deadline=None)
def test_allocation_respects_budget_shares_and_demand(
    budget: int, shares: dict[str, LayerShare], demands: dict[str, int]
) -> None:
    alloc = allocate(budget, shares, demands)
    assert sum(alloc.values()) <= budget
    for name in LAYERS:
        s = shares[name]
        assert alloc[name] <= demands[name]
        if not s.enabled:
            assert alloc[name] == 0
            continue
        if name != "message":  # the message may also take what nobody else can use
            assert alloc[name] <= int(s.max * budget)
        # Minimum shares add up to at most 8 * 0.12 < 1, so every minimum is met.
        assert alloc[name] >= min(demands[name], int(s.min * budget))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ContextEngine:
    from vivim.app import open_vivim

    tmp = tmp_path_factory.mktemp("ctx-budget")
    v: Vivim = open_vivim(tmp / "data")
    v.init()
    user = v.create_user("budget")
    store = import_and_index(v, user, tmp, conversations(n_per_topic=3, turns=8))
    add_rows(store, facts=30, memories=40)
    return ContextEngine(store, v.search_engine())


MESSAGES = [
    "how do I keep my sourdough starter alive?",
    "kubernetes rolling update with helm failed, k8s says timeout",
    "plan my marathon tempo intervals " * 30,
    "?",
    "asyncio cancellation in python tasks",
    "Écris un résumé 🙂 de la conversation sur watercolor pigments",
]


@given(
    budget=st.integers(16, 3000),
    message=st.sampled_from(MESSAGES) | st.text(min_size=1, max_size=300).filter(lambda s: s.strip()),
    preset=st.sampled_from(sorted(PRESETS)),
    conversation=st.sampled_from([None, "t0-c0", "t1-c2"]),
    style=st.sampled_from(["text", "markdown"]),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_bundle_never_exceeds_its_budget(
    engine: ContextEngine, budget: int, message: str, preset: str, conversation: str | None, style: str
) -> None:
    engine.settings = UserContextSettings.from_preset(preset)
    b = engine.build(message, budget=budget, conversation_id=conversation, style=style, use_cache=False)
    assert count(b.content) == b.total_tokens <= budget
    per_layer = b.composition["layers"]
    assert sum(layer["tokens"] for layer in per_layer.values()) <= budget
    # The message is always there while it has room, at the end.
    if budget >= 64:
        assert b.composition["layers"]["message"]["items"], b.composition
        assert b.content.rstrip().endswith(message.strip()[-10:].strip()) or any(
            i.get("truncated") for i in per_layer["message"]["items"]
        )


def test_a_budget_out_of_range_is_refused(engine: ContextEngine) -> None:
    engine.settings = None
    with pytest.raises(InvalidInput, match="budget"):
        engine.build("hello", budget=3)
    with pytest.raises(InvalidInput, match="message"):
        engine.build("   ")


def test_tiny_budget_still_fits(engine: ContextEngine, tmp_path: Path) -> None:
    engine.settings = UserContextSettings.from_preset("balanced")
    b = engine.build("sourdough starter feeding schedule " * 50, budget=16, use_cache=False)
    assert 0 < b.total_tokens <= 16
    assert b.composition["layers"]["message"]["items"][0].get("truncated") is True


row_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=600)


@given(
    budget=st.integers(16, 2500),
    facts=st.lists(row_text, max_size=12),
    memories=st.lists(
        st.tuples(row_text, st.sampled_from(["IDENTITY", "PREFERENCE", "GOAL", "EPISODIC"])), max_size=12
    ),
    instruction=row_text,
    message=row_text.filter(lambda s: s.strip()),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_sources_never_overflow_the_budget(
    engine: ContextEngine,
    budget: int,
    facts: list[str],
    memories: list[tuple[str, str]],
    instruction: str,
    message: str,
) -> None:
    store = engine.store
    with store.transaction() as c:
        c.execute("DELETE FROM user_facts WHERE id LIKE 'rnd-%'")
        c.execute("DELETE FROM memories WHERE id LIKE 'rnd-%'")
        c.execute("DELETE FROM custom_instructions WHERE id LIKE 'rnd-%'")
        for i, text in enumerate(facts):
            c.execute(
                "INSERT INTO user_facts (id, content, content_hash, pinned, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (f"rnd-{i}", text, f"rnd-h{i}", i % 2, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            )
        for i, (text, kind) in enumerate(memories):
            c.execute(
                "INSERT INTO memories (id, content, memory_type, pinned, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (f"rnd-{i}", text, kind, i % 3 == 0, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            )
        c.execute(
            "INSERT INTO custom_instructions (id, content, content_hash, priority, created_at, updated_at)"
            " VALUES ('rnd-i', ?, 'rnd-ih', 99, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
            (instruction,),
        )
    engine.settings = UserContextSettings.from_preset("balanced")
    b = engine.build(message, budget=budget, use_cache=False)
    assert count(b.content) == b.total_tokens <= budget
    assert all(layer["tokens"] <= layer["allocated_tokens"] for layer in b.composition["layers"].values()), (
        b.composition
    )
