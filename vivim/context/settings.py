"""UserContextSettings: how a user's context bundles are shaped.

A preset gives every layer its minimum, ideal and maximum share of the budget; the user's
overrides (per layer, per field) are merged over it. The settings live in the one row of
``user_context_settings``; a vault without that row uses the ``balanced`` preset.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vivim.domain.errors import InvalidInput
from vivim.domain.times import to_iso, utcnow

# Highest priority first: when the budget is short, earlier layers are served first.
LAYERS: tuple[str, ...] = (
    "identity",
    "preferences",
    "topic",
    "entities",
    "conversation",
    "retrieval",
    "history",
    "message",
)
LAYER_TITLES: dict[str, str] = {
    "identity": "About the user",
    "preferences": "Instructions and preferences",
    "topic": "Active topic",
    "entities": "People, projects and tools mentioned",
    "conversation": "This conversation",
    "retrieval": "Relevant knowledge from the user's vault",
    "history": "Recent conversations",
    "message": "The user's message",
}
EXCLUSION_KEYS = ("providers", "conversations", "unit_types", "memory_types", "topics", "entities")
MIN_BUDGET, MAX_BUDGET = 16, 200_000


@dataclass(frozen=True)
class LayerShare:
    min: float
    ideal: float
    max: float
    enabled: bool = True

    def validate(self, name: str) -> None:
        if not (0.0 <= self.min <= self.ideal <= self.max <= 1.0):
            raise InvalidInput(
                f"layer {name!r}: shares must satisfy 0 <= min <= ideal <= max <= 1 "
                f"(got min {self.min}, ideal {self.ideal}, max {self.max})"
            )


def _shares(**layers: tuple[float, float, float] | None) -> dict[str, LayerShare]:
    out = {}
    for name in LAYERS:
        v = layers.get(name)
        out[name] = LayerShare(0.0, 0.0, 0.0, enabled=False) if v is None else LayerShare(*v)
    return out


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    max_context_tokens: int
    similarity_threshold: float
    layers: dict[str, LayerShare]
    extra: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "balanced",
            "Every layer, with room for the conversation and for retrieved knowledge.",
            4000,
            0.2,
            _shares(
                identity=(0.05, 0.08, 0.15),
                preferences=(0.05, 0.08, 0.15),
                topic=(0.0, 0.04, 0.08),
                entities=(0.0, 0.04, 0.08),
                conversation=(0.10, 0.25, 0.40),
                retrieval=(0.15, 0.35, 0.70),
                history=(0.0, 0.03, 0.06),
                message=(0.02, 0.05, 0.25),
            ),
        ),
        Preset(
            "minimal",
            "A small bundle: who the user is, their instructions, a little retrieval.",
            1500,
            0.3,
            _shares(
                identity=(0.05, 0.10, 0.20),
                preferences=(0.05, 0.10, 0.20),
                conversation=(0.10, 0.25, 0.40),
                retrieval=(0.10, 0.25, 0.50),
                message=(0.02, 0.10, 0.30),
            ),
            {"retrieval_limit": 20, "recent_messages": 4},
        ),
        Preset(
            "knowledge",
            "Mostly retrieved knowledge: units and memories relevant to the message.",
            6000,
            0.1,
            _shares(
                identity=(0.02, 0.05, 0.10),
                preferences=(0.02, 0.05, 0.10),
                topic=(0.0, 0.03, 0.06),
                entities=(0.0, 0.03, 0.06),
                conversation=(0.05, 0.15, 0.30),
                retrieval=(0.25, 0.50, 0.90),
                history=(0.0, 0.02, 0.04),
                message=(0.02, 0.05, 0.20),
            ),
            {"retrieval_limit": 150},
        ),
        Preset(
            "developer",
            "A larger conversation window and code-first retrieval.",
            8000,
            0.2,
            _shares(
                identity=(0.02, 0.04, 0.08),
                preferences=(0.03, 0.06, 0.12),
                topic=(0.0, 0.03, 0.06),
                entities=(0.0, 0.03, 0.06),
                conversation=(0.15, 0.30, 0.45),
                retrieval=(0.15, 0.35, 0.70),
                history=(0.0, 0.02, 0.04),
                message=(0.02, 0.05, 0.25),
            ),
            {"boost_types": ["code_snippet", "tool_use", "formula", "diagram"], "recent_messages": 10},
        ),
        Preset(
            "privacy",
            "Nothing personal: no facts, memories, people or history; instructions, topic,"
            " conversation and units only.",
            2000,
            0.25,
            _shares(
                preferences=(0.05, 0.08, 0.15),
                topic=(0.0, 0.04, 0.08),
                conversation=(0.10, 0.30, 0.45),
                retrieval=(0.10, 0.35, 0.70),
                message=(0.02, 0.05, 0.25),
            ),
            {"include_memories": False},
        ),
    )
}

DEFAULT_EXTRA: dict[str, Any] = {
    "retrieval_limit": 60,
    "recent_messages": 6,
    "history_conversations": 5,
    "include_memories": True,
    "boost_types": [],
    "cache_ttl_seconds": 3600,
    # A conversation longer than this share of its layer's allocation is compacted.
    "compaction_keep_recent_share": 0.6,
}


@dataclass(frozen=True)
class UserContextSettings:
    preset: str = "balanced"
    max_context_tokens: int = 4000
    layer_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    similarity_threshold: float = 0.2
    exclusions: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_preset(cls, name: str, **changes: Any) -> UserContextSettings:
        p = _preset(name)
        base = cls(
            preset=p.name,
            max_context_tokens=p.max_context_tokens,
            similarity_threshold=p.similarity_threshold,
        )
        out = replace(base, **changes)
        out.validate()
        return out

    def layers(self) -> dict[str, LayerShare]:
        """The preset's shares with this user's overrides merged over them."""
        base = _preset(self.preset).layers
        out = {}
        for name in LAYERS:
            share = base[name]
            over = self.layer_overrides.get(name) or {}
            if over:
                merged = {**asdict(share), **over}
                # Giving shares to a layer the preset leaves out turns it on.
                if "enabled" not in over and any(k in over for k in ("min", "ideal", "max")):
                    merged["enabled"] = True
                if merged["enabled"] and not share.enabled and "max" not in over:
                    # Switched on without shares: take the balanced preset's, as far as
                    # the overrides leave them.
                    fallback = asdict(PRESETS["balanced"].layers[name])
                    merged = {**fallback, **over, "enabled": True}
                share = LayerShare(
                    float(merged["min"]),
                    float(merged["ideal"]),
                    float(merged["max"]),
                    bool(merged["enabled"]),
                )
            out[name] = share
        return out

    def option(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        preset_extra = _preset(self.preset).extra
        return preset_extra.get(key, DEFAULT_EXTRA.get(key))

    def excluded(self, key: str) -> set[str]:
        return {str(x) for x in self.exclusions.get(key, [])}

    def validate(self) -> None:
        _preset(self.preset)
        if not (MIN_BUDGET <= self.max_context_tokens <= MAX_BUDGET):
            raise InvalidInput(f"max context tokens must be between {MIN_BUDGET} and {MAX_BUDGET}")
        if not (0.0 <= self.similarity_threshold <= 1.0):
            raise InvalidInput("the similarity threshold must be between 0 and 1")
        for name, over in self.layer_overrides.items():
            if name not in LAYERS:
                raise InvalidInput(f"unknown layer {name!r}; layers are: {', '.join(LAYERS)}")
            if not isinstance(over, dict) or set(over) - {"min", "ideal", "max", "enabled"}:
                raise InvalidInput(f"layer {name!r}: overrides may set min, ideal, max and enabled")
        layers = self.layers()
        for name, share in layers.items():
            share.validate(name)
        if not layers["message"].enabled:
            raise InvalidInput("the message layer cannot be turned off: it is what the context is for")
        total_min = sum(s.min for s in layers.values() if s.enabled)
        if total_min > 1.0 + 1e-9:
            raise InvalidInput(
                f"the layers' minimum shares add up to {total_min:.2f}, more than the whole budget"
            )
        for key in self.exclusions:
            if key not in EXCLUSION_KEYS:
                raise InvalidInput(f"unknown exclusion {key!r}; use one of: {', '.join(EXCLUSION_KEYS)}")
        for key in self.extra:
            if key not in DEFAULT_EXTRA:
                raise InvalidInput(f"unknown setting {key!r}; settings are: {', '.join(DEFAULT_EXTRA)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "max_context_tokens": self.max_context_tokens,
            "similarity_threshold": self.similarity_threshold,
            "layer_overrides": self.layer_overrides,
            "exclusions": self.exclusions,
            "extra": self.extra,
            "layers": {k: asdict(v) for k, v in self.layers().items()},
        }

    def fingerprint(self) -> str:
        return json.dumps(
            [
                self.preset,
                self.max_context_tokens,
                self.layer_overrides,
                self.similarity_threshold,
                self.exclusions,
                self.extra,
            ],
            sort_keys=True,
        )


def _preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}") from None


def load_settings(conn: sqlite3.Connection) -> UserContextSettings:
    row = conn.execute(
        "SELECT preset, max_context_tokens, layer_budgets, similarity_threshold, exclusions, settings"
        " FROM user_context_settings WHERE id = 1"
    ).fetchone()
    if row is None:
        return UserContextSettings.from_preset("balanced")
    preset = row[0] if row[0] in PRESETS else "balanced"
    return UserContextSettings(
        preset=preset,
        max_context_tokens=int(row[1]),
        layer_overrides=_json_dict(row[2]),
        similarity_threshold=float(row[3]),
        exclusions=_json_dict(row[4]),
        extra=_json_dict(row[5]),
    )


def save_settings(conn: sqlite3.Connection, settings: UserContextSettings) -> UserContextSettings:
    settings.validate()
    conn.execute(
        "INSERT INTO user_context_settings (id, preset, max_context_tokens, layer_budgets, similarity_threshold,"
        " exclusions, settings, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET preset = excluded.preset, max_context_tokens = excluded.max_context_tokens,"
        " layer_budgets = excluded.layer_budgets, similarity_threshold = excluded.similarity_threshold,"
        " exclusions = excluded.exclusions, settings = excluded.settings, updated_at = excluded.updated_at",
        (
            settings.preset,
            settings.max_context_tokens,
            json.dumps(settings.layer_overrides, sort_keys=True),
            settings.similarity_threshold,
            json.dumps(settings.exclusions, sort_keys=True),
            json.dumps(settings.extra, sort_keys=True),
            to_iso(utcnow()),
        ),
    )
    return settings


def apply_preset(conn: sqlite3.Connection, name: str) -> UserContextSettings:
    """Switch to a preset, dropping overrides (a preset is a fresh start)."""
    return save_settings(conn, UserContextSettings.from_preset(name))


def update_settings(current: UserContextSettings, **changes: Any) -> UserContextSettings:
    """``current`` with ``changes`` applied (None values are ignored); layer overrides and
    exclusions given here are merged into the existing ones."""
    values = {k: v for k, v in changes.items() if v is not None}
    if "layer_overrides" in values:
        merged = {k: dict(v) for k, v in current.layer_overrides.items()}
        for layer, over in values["layer_overrides"].items():
            merged[layer] = {**merged.get(layer, {}), **over}
        values["layer_overrides"] = merged
    if "exclusions" in values:
        values["exclusions"] = {**current.exclusions, **values["exclusions"]}
    if "extra" in values:
        values["extra"] = {**current.extra, **values["extra"]}
    out = replace(current, **values)
    out.validate()
    return out


def _json_dict(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
