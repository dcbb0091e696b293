"""Atomic Chat Units: splitting messages into units, classifying and scoring them, and the
structural links between them. Pure functions and values: nothing here touches a database.

Typical use, per conversation::

    units = extract_conversation(conversation, messages, parser_version=...)
    score_units(units, index, now=utcnow())     # index: the user's NearDuplicateIndex
    links = structural_links(units)

See docs/UNITS.md for every rule, score and weight.
"""

from vivim.units.extract import (
    EXTRACTOR_VERSION,
    UNIT_TYPES,
    UnitDraft,
    derive_unit,
    extract_conversation,
    inputs_from_rows,
)
from vivim.units.links import (
    RELATED_THRESHOLD,
    LinkDraft,
    derived_from_link,
    related_links,
    structural_links,
)
from vivim.units.neardup import NearDuplicateIndex
from vivim.units.quality import (
    content_richness,
    quality_overall,
    rediscovery_score,
    score_intrinsic,
    score_units,
    structural_integrity,
)

__all__ = [
    "EXTRACTOR_VERSION",
    "RELATED_THRESHOLD",
    "UNIT_TYPES",
    "LinkDraft",
    "NearDuplicateIndex",
    "UnitDraft",
    "content_richness",
    "derive_unit",
    "derived_from_link",
    "extract_conversation",
    "inputs_from_rows",
    "quality_overall",
    "rediscovery_score",
    "related_links",
    "score_intrinsic",
    "score_units",
    "structural_integrity",
    "structural_links",
]
