"""Quality scores of units (definitions and formulas in docs/UNITS.md).

- ``content_richness``: how much information a unit carries.
- ``structural_integrity``: whether it stands alone.
- ``uniqueness``: 1 - similarity to the nearest of the user's other units.
- ``quality_overall``: richness weighted by integrity and uniqueness.
- ``rediscovery_score``: how valuable and how forgotten a unit is now.

All scores are in [0, 1], rounded to 4 decimals, and pure functions of their inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from vivim.domain.times import parse_time
from vivim.units.classify import HAN, PHATIC, STOPWORDS, words_of
from vivim.units.extract import UnitDraft
from vivim.units.neardup import NearDuplicateIndex

# --- weights and scales (documented in docs/UNITS.md) ---------------------------------------
BASE, W_INTEGRITY, W_UNIQUENESS = 0.4, 0.3, 0.3
INFO_SCALE = 30.0
"""Information units at which richness reaches 63 % of its information share."""
LENGTH_SCALE = 800.0
"""Characters at which the length share reaches 63 %."""
RICH_CHARS = 4000
"""Only the first characters are read: past this, more text adds almost nothing."""
NAMED_CHARS = 1000
"""Named things are looked for in a shorter head: the pattern is the costly part."""
AGE_SCALE_DAYS = 90.0
IDLE_SCALE_DAYS = 30.0
UNKNOWN_AGE_FACTOR = 0.5
NEAR_DUPLICATE = 0.5
"""Similarity from which the nearest unit is recorded in metadata (``near_duplicate_of``)."""

# Named things, one pattern per kind; each runs only when a substring test says it can match,
# because one alternation of all of them costs several times more.
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-z0-9,;] )[A-Z][\w'-]+")  # a name
_ACRONYM_OR_CAMEL = re.compile(r"\b[A-Z]{2,}[\w-]*|\b[a-z]+[A-Z]\w*")
_SNAKE = re.compile(r"\b\w+_\w+")
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_URL = re.compile(r"https?://\S+")
# Letter shapes (a-z -> "a", A-Z -> "A"): "AA" or "aA" in the shapes means an acronym or
# a camelCase word may be there.
_SHAPES = str.maketrans(
    {
        **{chr(c): " " for c in range(128)},
        **{chr(c): "a" for c in range(ord("a"), ord("z") + 1)},
        **{chr(c): "A" for c in range(ord("A"), ord("Z") + 1)},
    }
)


def _named(text: str) -> int:
    found = set(_MID_SENTENCE_CAPITAL.findall(text))
    if not text.isascii() or "AA" in (shapes := text.translate(_SHAPES)) or "aA" in shapes:
        found.update(_ACRONYM_OR_CAMEL.findall(text))
    if "_" in text:
        found.update(_SNAKE.findall(text))
    if "`" in text:
        found.update(_INLINE_CODE.findall(text))
    if "://" in text:
        found.update(_URL.findall(text))
    return len(found)


_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]", re.MULTILINE)
_LEADING_MARKUP = re.compile(r"^[\s#>*_\-•\d.)(\[\]\"'“‘`]+")
_TRAILING_MARKUP = " \t\n*_`\"'”’)]"
_TERMINAL = frozenset(".!?:;。！？…")

# Function words, phatic words and single letters carry no information of their own.
_NOT_CONTENT = STOPWORDS | PHATIC | frozenset("abcdefghijklmnopqrstuvwxyz")
CODE_LIKE = frozenset({"code_snippet", "diagram", "tool_use", "formula"})

# Words that point back to something said before: a unit that starts with one leans on a
# neighbour it may not be shown with.
DANGLING_PRONOUNS = frozenset(
    "it this that these those they them he she his her its their theirs such both former latter".split()
)
CONNECTIVES = frozenset(
    "also and but so then however therefore thus additionally moreover furthermore besides likewise "
    "which or nor because otherwise instead still hence consequently".split()
)


def _round(x: float) -> float:
    return round(min(1.0, max(0.0, x)), 4)


# --- content richness --------------------------------------------------------------------
def information(content: str, unit_type: str) -> float:
    """Information units of ``content``: distinct content words + 0.5 per distinct number
    + 1 per distinct named thing (mid-sentence capitalised word, acronym, identifier,
    inline code, URL; looked for in the first 1,000 characters) + structure (0.5 per code
    line, table cell or list item, at most 20) + 0.5 per distinct Han character (Chinese
    and Japanese have no spaces to count words by)."""
    head = content[:RICH_CHARS]
    distinct = set(words_of(head))
    content_words = distinct - _NOT_CONTENT
    numbers = sum(map(str.isdigit, content_words))
    named = _named(head[:NAMED_CHARS])
    if unit_type in ("code_snippet", "diagram"):
        structure = 0.5 * sum(1 for line in head.split("\n") if line.strip() and not line.startswith("```"))
    elif unit_type == "table":
        structure = 0.5 * sum(max(0, line.count("|") - 1) for line in head.split("\n") if "---" not in line)
    else:
        structure = 0.5 * len(_LIST_ITEM.findall(head)) if "\n" in head else 0.0
    han = 0.5 * len(set(HAN.findall(head))) if not head.isascii() else 0.0
    return len(content_words) - numbers + 0.5 * numbers + named + min(20.0, structure) + han


def content_richness(content: str, unit_type: str) -> float:
    """0.85 * (1 - exp(-information / 30)) + 0.15 * (1 - exp(-characters / 800))."""
    info = information(content, unit_type)
    return _round(
        0.85 * (1.0 - math.exp(-info / INFO_SCALE)) + 0.15 * (1.0 - math.exp(-len(content) / LENGTH_SCALE))
    )


# --- structural integrity -----------------------------------------------------------------
def _bracket_imbalance(text: str) -> int:
    return (
        abs(text.count("(") - text.count(")"))
        + abs(text.count("[") - text.count("]"))
        + abs(text.count("{") - text.count("}"))
    )


def _table_consistency(content: str) -> float:
    widths = [
        len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
        for line in content.split("\n")
        if line.lstrip().startswith("|")
    ]
    if len(widths) < 2:
        return 0.5
    header = widths[0]
    off = sum(1 for w in widths[1:] if w != header)
    return 1.0 - 0.5 * off / (len(widths) - 1)


def structural_integrity(content: str, unit_type: str, metadata: dict[str, Any] | None = None) -> float:
    """Whether a unit stands alone: 1.0, multiplied by a factor for each defect found.

    Code, diagrams, formulas, tool calls: 0.9 ^ (unbalanced brackets, at most 5), 0.6 for an
    odd number of ``` fences, 0.9 for code with no explaining sentence, 0.8 for a
    continuation chunk. Tables: the share of rows whose cell count differs from the
    header's costs half its size; 0.95 for a continuation chunk. Image and attachment units
    that are only a name or reference (``metadata["label_only"]``, no alt or extracted
    text): 0.5, since they need the thing they point at.
    Prose: 0.6 when it opens with a pronoun that refers back ("it", "this", "they"), 0.7
    when it opens with a connective ("also", "but", "however"; both multiply, so "It also"
    scores 0.42); 0.85 when a text of 8 or more words does not end a sentence; 0.9 for
    unbalanced brackets or inline-code backticks; 0.85 for a continuation chunk.
    """
    meta = metadata or {}
    chunk = meta.get("chunk")
    continuation = isinstance(chunk, list) and len(chunk) == 2 and chunk[0] > 0
    score = 1.0
    if unit_type in CODE_LIKE:
        imbalance = _bracket_imbalance(content)
        if imbalance:
            score *= 0.9 ** min(5, imbalance)
        if content.count("```") % 2:
            score *= 0.6
        if unit_type == "code_snippet" and not meta.get("lead_chars") and not meta.get("intro_position"):
            score *= 0.9
        if continuation:
            score *= 0.8
        return _round(score)
    if unit_type == "table":
        score *= _table_consistency(content)
        if continuation:
            score *= 0.95
        return _round(score)
    if meta.get("label_only"):
        return 0.5
    head = _LEADING_MARKUP.sub("", content[:200]).lower().split(None, 2)
    if head:
        first = head[0].strip(",.:;!?")
        second = head[1].strip(",.:;!?") if len(head) > 1 else ""
        if first in DANGLING_PRONOUNS:
            score *= 0.6
            if second in CONNECTIVES:
                score *= 0.7
        elif first in CONNECTIVES:
            score *= 0.7
    tail = content.rstrip(_TRAILING_MARKUP)
    if tail and tail[-1] not in _TERMINAL and len(content.split(None, 8)) > 8 and not _ends_as_block(content):
        score *= 0.85
    if _bracket_imbalance(content) or content.count("`") % 2:
        score *= 0.9
    if continuation:
        score *= 0.85
    return _round(score)


def _ends_as_block(content: str) -> bool:
    """Lists, headings, quotes and tables end without a full stop and are still whole."""
    last = content.rstrip().rsplit("\n", 1)[-1].lstrip()
    return bool(_LIST_ITEM.match(last)) or last.startswith(("#", ">", "|"))


# --- overall, rediscovery --------------------------------------------------------------------
def quality_overall(richness: float, integrity: float, uniqueness: float) -> float:
    """richness * (0.4 + 0.3 * integrity + 0.3 * uniqueness).

    Richness scales the whole: a unit that says nothing ("ok thanks") is worth nothing
    however whole and unique it is, while a rich unit keeps at least 40 % of its richness
    when it is a fragment and a copy."""
    return _round(richness * (BASE + W_INTEGRITY * integrity + W_UNIQUENESS * uniqueness))


def _as_time(value: datetime | str | None) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_time(value)


def rediscovery_score(
    quality: float | None,
    created_at: datetime | str | None,
    now: datetime | str,
    view_count: int = 0,
    last_viewed_at: datetime | str | None = None,
) -> float:
    """How valuable and how forgotten a unit is at ``now``:

    quality * (1 - exp(-age / 90 d)) * (1 - exp(-idle / 30 d)) / (1 + ln(1 + views))

    where age is the time since ``created_at`` (the source message's time), idle the time
    since ``last_viewed_at`` (or since ``created_at`` when never viewed). A new unit, or
    one just looked at, scores near 0; a good unit untouched for months scores near its
    quality; every view lowers the score a little less than the one before. An unknown
    ``created_at`` counts as half-aged (factor 0.5) so such units still surface.
    """
    q = quality or 0.0
    now_t = _as_time(now)
    if now_t is None:
        raise ValueError(f"now must be a time, got {now!r}")
    created = _as_time(created_at)
    viewed = _as_time(last_viewed_at)
    if created is None:
        aged = UNKNOWN_AGE_FACTOR
        idle_from = viewed
    else:
        age_days = max(0.0, (now_t - created).total_seconds() / 86400.0)
        aged = 1.0 - math.exp(-age_days / AGE_SCALE_DAYS)
        idle_from = viewed if viewed is not None and viewed > created else created
    if idle_from is None:
        idle = UNKNOWN_AGE_FACTOR
    else:
        idle_days = max(0.0, (now_t - idle_from).total_seconds() / 86400.0)
        idle = 1.0 - math.exp(-idle_days / IDLE_SCALE_DAYS)
    familiarity = 1.0 / (1.0 + math.log1p(max(0, view_count)))
    return _round(q * aged * idle * familiarity)


# --- scoring a batch -------------------------------------------------------------------------
def score_intrinsic(units: Sequence[UnitDraft]) -> None:
    """Fill ``content_richness`` and ``structural_integrity`` (they need no other unit)."""
    for u in units:
        u.content_richness = content_richness(u.content, u.type)
        u.structural_integrity = structural_integrity(u.content, u.type, u.metadata)


def score_units(
    units: Sequence[UnitDraft], index: NearDuplicateIndex | None = None, *, now: datetime | str
) -> None:
    """Fill every quality field of ``units`` in place.

    ``index`` holds the user's other units (load them with ``add_many`` first); the new
    units are added to it, so units of one batch count as each other's "other units" too.
    Without an index, uniqueness is measured within ``units`` only. Where the nearest unit
    is at least 0.5 similar, ``metadata["near_duplicate_of"]`` names it (and
    ``near_duplicate_similarity`` says how close): the caller may lower that older unit's
    stored uniqueness too, since uniqueness is symmetric.
    """
    if not units:
        return
    now_t = _as_time(now)
    if now_t is None:
        raise ValueError(f"now must be a time, got {now!r}")
    score_intrinsic(units)
    idx = index if index is not None else NearDuplicateIndex()
    ids = [u.id for u in units]
    sigs = idx.signatures([u.content for u in units])
    # The user's other units, then the batch's own units among themselves; querying before
    # adding keeps each unit from meeting itself in every bucket.
    stored = idx.query_signatures(sigs, ids)
    among = idx.nearest_among(sigs, ids)
    idx.add_signatures(ids, sigs)
    for u, (s_sim, s_other), (b_sim, b_other) in zip(units, stored, among, strict=True):
        similarity, other = (b_sim, b_other) if b_sim > s_sim else (s_sim, s_other)
        u.uniqueness = _round(1.0 - similarity)
        if other is not None and similarity >= NEAR_DUPLICATE:
            u.metadata["near_duplicate_of"] = other
            u.metadata["near_duplicate_similarity"] = round(similarity, 4)
        u.quality_overall = quality_overall(
            u.content_richness or 0.0, u.structural_integrity or 0.0, u.uniqueness
        )
        u.rediscovery_score = rediscovery_score(u.quality_overall, u.source_timestamp, now_t)
