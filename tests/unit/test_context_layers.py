"""Each layer keeps to its share of the budget; presets, overrides and exclusions shape
what goes in; the composition says where every piece came from."""

from __future__ import annotations

import math

import pytest

from tests.unit.test_context_support import add_rows, conversations, import_and_index
from vivim.app import Vivim, open_vivim
from vivim.context.bundle import ContextEngine
from vivim.context.layers import TRUNCATE_MIN_TOKENS
from vivim.context.settings import LAYERS, UserContextSettings, update_settings
from vivim.domain.errors import InvalidInput
from vivim.store.user.conversations import find_conversation_id


def cid(engine: ContextEngine, source_id: str) -> str:
    with engine.store.read() as conn:
        found = find_conversation_id(conn, source_id)
    assert found is not None
    return found


MESSAGE = "kubernetes rolling update with helm failed on k8s while my sourdough starter fermentation stalled"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ContextEngine:
    tmp = tmp_path_factory.mktemp("ctx-layers")
    v: Vivim = open_vivim(tmp / "data")
    v.init()
    user = v.create_user("layers")
    store = import_and_index(v, user, tmp, conversations(n_per_topic=4, turns=10))
    add_rows(store, facts=60, memories=80)
    return ContextEngine(store, v.search_engine())


@pytest.mark.parametrize("budget", [300, 1000, 2500])
@pytest.mark.parametrize("preset", ["balanced", "knowledge", "developer", "minimal"])
def test_every_layer_stays_within_its_share(engine: ContextEngine, budget: int, preset: str) -> None:
    settings = UserContextSettings.from_preset(preset)
    engine.settings = settings
    b = engine.build(MESSAGE, budget=budget, conversation_id="t1-c0", use_cache=False)
    shares = settings.layers()
    layers = b.composition["layers"]
    assert b.total_tokens <= budget
    for name in LAYERS:
        got = layers[name]
        share = shares[name]
        if not share.enabled:
            assert got["tokens"] == 0 and not got["items"]
            continue
        if name != "message":
            assert got["tokens"] <= math.floor(share.max * budget), (name, got["tokens"])
        assert got["tokens"] <= got["allocated_tokens"]
        minimum = math.floor(share.min * budget)
        # A layer with more to give than its minimum is given at least its minimum, and
        # fills it up to less than one cut piece's worth.
        if got["candidates"] > len(got["items"]) and minimum >= 2 * TRUNCATE_MIN_TOKENS:
            assert got["allocated_tokens"] >= minimum
            assert got["tokens"] >= minimum - 2 * TRUNCATE_MIN_TOKENS, (name, got)


def test_the_big_layers_are_all_present_and_sourced(engine: ContextEngine) -> None:
    engine.settings = UserContextSettings.from_preset("balanced")
    b = engine.build(MESSAGE, budget=3000, conversation_id="t1-c0", use_cache=False)
    layers = b.composition["layers"]
    assert {i["source"] for i in layers["identity"]["items"]} >= {"fact"}
    assert layers["identity"]["items"][0]["id"] == "fact-0"  # the pinned fact leads
    assert layers["preferences"]["items"][0]["source"] == "persona"  # triggered by "sourdough"
    assert b.composition["persona"] == "Baker"
    assert [i["id"] for i in layers["topic"]["items"]] == ["tp-1"]
    assert [i["id"] for i in layers["entities"]["items"]] == ["ent-1"]
    conv_items = layers["conversation"]["items"]
    assert [i["message_source_id"] for i in conv_items] == [f"t1-c0-m{k}" for k in range(10)]
    units = [i for i in layers["retrieval"]["items"] if i["source"] == "unit"]
    here = cid(engine, "t1-c0")
    assert units and all(i["conversation_id"] != here for i in units)  # not repeated from the conversation
    kube = {cid(engine, f"t1-c{k}") for k in (1, 2, 3)}
    assert any(i["conversation_id"] in kube for i in units)
    # Everything the composition lists is in the text, in layer order.
    assert b.content.index("[About the user]") < b.content.index("[Instructions and preferences]")
    assert b.content.index("[This conversation]") < b.content.index(
        "[Relevant knowledge from the user's vault]"
    )
    assert b.content.rstrip().endswith(MESSAGE)
    sources = b.composition["sources"]
    assert sources["fact"] == len([i for i in layers["identity"]["items"] if i["source"] == "fact"])


def test_a_long_conversation_is_compacted_to_fit(engine: ContextEngine) -> None:
    engine.settings = UserContextSettings.from_preset("balanced")
    b = engine.build(MESSAGE, budget=700, conversation_id="t1-c0", use_cache=False)
    items = b.composition["layers"]["conversation"]["items"]
    assert items[0]["source"] == "compaction"
    assert items[0]["from_message_index"] == 0
    recent = [i["message_index"] for i in items[1:]]
    assert recent and recent == list(range(items[0]["to_message_index"] + 1, 10))
    assert "Earlier in this conversation (messages 0-" in b.content


def test_overrides_and_exclusions(engine: ContextEngine) -> None:
    base = UserContextSettings.from_preset("balanced")
    engine.settings = update_settings(
        base,
        layer_overrides={
            "retrieval": {"min": 0.0, "ideal": 0.05, "max": 0.1},
            "entities": {"enabled": False},
        },
        exclusions={"memory_types": ["IDENTITY"], "conversations": [cid(engine, "t1-c1")]},
    )
    b = engine.build(MESSAGE, budget=2000, use_cache=False)
    layers = b.composition["layers"]
    assert layers["retrieval"]["tokens"] <= 200
    assert layers["entities"]["tokens"] == 0
    assert all(i.get("memory_type") != "IDENTITY" for la in layers.values() for i in la["items"])
    assert all(i.get("conversation_id") != cid(engine, "t1-c1") for i in layers["retrieval"]["items"])
    assert any(i.get("source") == "unit" for i in layers["retrieval"]["items"])


def test_privacy_preset_leaves_out_everything_personal(engine: ContextEngine) -> None:
    engine.settings = UserContextSettings.from_preset("privacy")
    b = engine.build(MESSAGE, budget=2000, use_cache=False)
    sources = b.composition["sources"]
    assert "fact" not in sources and "memory" not in sources and "entity" not in sources
    assert "Lisbon" not in b.content and "Memory " not in b.content
    assert sources.get("unit", 0) > 0


def test_invalid_settings_are_refused() -> None:
    base = UserContextSettings.from_preset("balanced")
    with pytest.raises(InvalidInput, match="unknown preset"):
        UserContextSettings.from_preset("maximal")
    with pytest.raises(InvalidInput, match="min <= ideal <= max"):
        update_settings(base, layer_overrides={"retrieval": {"min": 0.5, "ideal": 0.2, "max": 0.9}})
    with pytest.raises(InvalidInput, match="add up to"):
        update_settings(base, layer_overrides={n: {"min": 0.2, "ideal": 0.2, "max": 0.2} for n in LAYERS})
    with pytest.raises(InvalidInput, match="unknown layer"):
        update_settings(base, layer_overrides={"gossip": {"max": 0.1}})
    with pytest.raises(InvalidInput, match="cannot be turned off"):
        update_settings(base, layer_overrides={"message": {"enabled": False}})
    with pytest.raises(InvalidInput, match="unknown exclusion"):
        update_settings(base, exclusions={"moods": ["sad"]})
