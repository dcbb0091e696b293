"""Helpers for the social tests (no tests here): a vivim on a given master, users, signed units."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.fakes import HashingEmbedder
from vivim.app import UserRecord, Vivim, open_vivim
from vivim.domain.canonical import content_hash
from vivim.domain.ids import derived_id
from vivim.domain.times import to_iso, utcnow
from vivim.identity.signing import sign_unit
from vivim.store.user import units as unit_store
from vivim.units.extract import UnitDraft

EMBEDDER = HashingEmbedder()


def social_vivim(tmp_path: Path, master_url: str) -> Vivim:
    v = open_vivim(tmp_path / "data", master_url=master_url)
    v.init()
    return v


def add_unit(v: Vivim, user: UserRecord, content: str, *, unit_type: str = "statement", sign: bool = True) -> str:
    """A unit in the user's own vault, signed like the indexer signs, with a vector."""
    unit_id = derived_id("test-unit", user.id, content)
    draft = UnitDraft(
        id=unit_id, content=content, content_hash=content_hash(content), type=unit_type, category="general",
        language="en", conversation_id=None, message_id=None, message_index=None, parent_id=None, provider=None,
        model=None, source_timestamp=None, extractor_version="test", parser_version=None, role="assistant", position=0,
    )
    created_at = to_iso(utcnow()) or ""
    columns = {"id": unit_id, "content": content, "content_hash": draft.content_hash, "type": unit_type,
               "category": "general", "conversation_id": None, "message_id": None, "author_did": user.did,
               "created_at": created_at}
    signature = sign_unit(v.keypair(user), columns) if sign else None
    vector = np.asarray(EMBEDDER.embed([content])[0], dtype="<f4").tobytes()
    with v.store(user).transaction() as conn:
        unit_store.insert_units(conn, [draft], author_did=user.did, signatures=[signature], authors=[user.handle],
                                index_texts=[content], created_at=created_at)
        unit_store.store_embeddings(conn, [(unit_id, vector)], model=EMBEDDER.model_id, dim=EMBEDDER.dim)
    return unit_id
