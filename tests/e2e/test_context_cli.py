"""`vivim context` and `vivim settings context ...` through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli import vivim
from tests.e2e.test_api_support import conversation, generic_export
from vivim.app import open_vivim
from vivim.capture.importer import Importer

MESSAGE = "How long should green tea steep?"


def _vault(tmp_path: Path) -> None:
    v = open_vivim(tmp_path / "data")  # the conftest points VIVIM_DATA_DIR here
    v.init()
    user = v.create_user("sam")
    export = tmp_path / "export.json"
    export.write_bytes(
        generic_export(
            [
                conversation(
                    "tea",
                    "Green tea",
                    "2024-02-01T08:00:00Z",
                    [
                        "How hot should the water be for green tea?",
                        "Use water at 80 degrees and steep green tea for two minutes.",
                    ],
                ),
                conversation(
                    "bikes",
                    "Bike repair",
                    "2024-02-03T08:00:00Z",
                    ["My chain skips under load.", "A worn cassette makes a new chain skip; replace both."],
                ),
            ]
        )
    )
    Importer(store=v.store(user), master=v.master, user_id=user.id).import_paths([export])
    v.indexer(user, embed=False).run(embed=False)
    with v.store(user).transaction() as c:
        c.execute(
            "INSERT INTO ai_personas (id, name, system_prompt, created_at, updated_at)"
            " VALUES ('p1', 'Sommelier', 'You are a tea sommelier.', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')"
        )
    v.close()


def test_context_prints_a_bundle_within_budget(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _vault(tmp_path)
    r = vivim(capsys, "--user", "sam", "context", MESSAGE, "--budget", "200")
    assert r.code == 0, r.err
    assert "Use water at 80 degrees and steep green tea for two minutes." in r.out
    assert "[Relevant knowledge from the user's vault]" in r.out
    assert r.out.rstrip().endswith(MESSAGE)

    j = vivim(capsys, "--user", "sam", "context", MESSAGE, "--budget", "200", "--json").json()
    assert j["budget"] == 200 and 0 < j["total_tokens"] <= 200
    assert j["style"] == "markdown" and "## The user's message" in j["content"]
    layers = j["composition"]["layers"]
    assert set(layers) == {
        "identity",
        "preferences",
        "topic",
        "entities",
        "conversation",
        "retrieval",
        "history",
        "message",
    }
    assert any(i["message_source_id"] == "tea-m1" for i in layers["retrieval"]["items"])

    md = vivim(capsys, "--user", "sam", "context", MESSAGE, "--format", "markdown", "--persona", "sommelier")
    assert md.code == 0 and "Persona Sommelier: You are a tea sommelier." in md.out
    assert "## Instructions and preferences" in md.out

    conv = vivim(
        capsys, "--user", "sam", "context", "and the second steep?", "--conversation", "tea", "--json"
    )
    items = conv.json()["composition"]["layers"]["conversation"]["items"]
    assert [i["message_source_id"] for i in items] == ["tea-m0", "tea-m1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conversation", "nope"], "no conversation 'nope'"),
        (["--persona", "Nobody"], "no persona named 'Nobody'"),
        (["--budget", "5"], "the budget must be"),
        (["--format", "yaml"], "unknown format 'yaml'"),
    ],
)
def test_context_errors_are_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    _vault(tmp_path)
    r = vivim(capsys, "--user", "sam", "context", MESSAGE, *args)
    assert r.code == 1 and message in r.err and "Traceback" not in r.err


def test_context_settings_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _vault(tmp_path)
    shown = vivim(capsys, "--user", "sam", "settings", "context", "show", "--json").json()
    assert shown["preset"] == "balanced" and shown["max_context_tokens"] == 4000
    presets = vivim(capsys, "settings", "context", "presets", "--json").json()
    assert [p["name"] for p in presets] == ["balanced", "minimal", "knowledge", "developer", "privacy"]

    k = vivim(capsys, "--user", "sam", "settings", "context", "preset", "knowledge", "--json").json()
    assert k["preset"] == "knowledge" and k["layers"]["retrieval"]["max"] == 0.9
    changed = vivim(
        capsys,
        "--user",
        "sam",
        "settings",
        "context",
        "set",
        "--layer",
        "history=off",
        "--layer",
        "retrieval=0.1,0.2,0.3",
        "--exclude",
        "providers=gemini,claude",
        "--max-tokens",
        "900",
        "--json",
    ).json()
    assert changed["layers"]["history"]["enabled"] is False
    assert changed["layers"]["retrieval"] == {"min": 0.1, "ideal": 0.2, "max": 0.3, "enabled": True}
    assert (
        changed["exclusions"] == {"providers": ["gemini", "claude"]} and changed["max_context_tokens"] == 900
    )
    again = vivim(capsys, "--user", "sam", "settings", "context", "show", "--json").json()
    assert again == changed
    # The saved settings shape the next bundle: 900 tokens by default, retrieval at most 30%.
    j = vivim(capsys, "--user", "sam", "context", MESSAGE, "--json").json()
    assert j["budget"] == 900 and j["composition"]["layers"]["retrieval"]["tokens"] <= 270

    bad = vivim(capsys, "--user", "sam", "settings", "context", "set", "--layer", "gossip=0.1,0.1,0.1")
    assert bad.code == 1 and "unknown layer 'gossip'" in bad.err
    bad = vivim(capsys, "--user", "sam", "settings", "context", "preset", "maximal")
    assert bad.code == 1 and "unknown preset 'maximal'" in bad.err


def test_every_context_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["context"],
        ["mcp"],
        ["settings", "context", "show"],
        ["settings", "context", "set"],
        ["settings", "context", "preset"],
        ["settings", "context", "presets"],
    ):
        r = vivim(capsys, *args, "--help")
        assert r.code == 0 and "Usage" in r.out
