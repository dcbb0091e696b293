"""Remix: copy a shared unit into my own vault, as a new unit signed by me that derives from it.

Two rows are written to the remixer's vault (the only vault a request opens):
- a copy of the shared unit, written by its author. It cannot keep the author's
  conversation and message ids as columns (those rows live in the author's vault), so its
  ``metadata.original`` keeps the signed form and the author's signature instead;
  :func:`verify_copy` checks it against the author's DID.
- the remix: my content (the original's, or my edit), signed with my key, ``parent_id`` the
  copy, and a ``derived_from`` link from the remix to the copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from vivim.app import UserRecord, Vivim
from vivim.domain.canonical import content_hash
from vivim.domain.errors import InvalidInput
from vivim.domain.ids import derived_id
from vivim.domain.times import to_iso, utcnow
from vivim.embed.base import Embedder
from vivim.identity.signing import sign_unit, verify_unit
from vivim.social.common import NotPermitted
from vivim.social.feed import visible_share
from vivim.social.published import signed_view, verification
from vivim.social.reciprocity import record_consumption
from vivim.store.master.models import User
from vivim.store.user import units as unit_store
from vivim.units.extract import UnitDraft

REMIX_VERSION = "remix/v1"
MAX_REMIX = 100_000


def verify_copy(unit: dict[str, Any]) -> tuple[bool, str]:
    """Check a copied unit's ``metadata.original`` against its author's DID."""
    original = (unit.get("metadata") or {}).get("original")
    if not isinstance(original, dict) or not original.get("signature"):
        return False, "not a copy of a signed unit"
    signed = {
        "id": original.get("id"),
        "author_did": unit.get("author_did"),
        "content": unit.get("content"),
        "content_hash": unit.get("content_hash"),
        "type": unit.get("type"),
        "category": unit.get("category"),
        "conversation_id": original.get("conversation_id"),
        "message_id": original.get("message_id"),
        "created_at": original.get("created_at"),
    }
    try:
        signature = bytes.fromhex(original["signature"])
    except ValueError:
        return False, "the copied signature is not hex"
    return verify_unit(signed, signature)


def _draft(**fields: Any) -> UnitDraft:
    base: dict[str, Any] = {
        "language": None,
        "conversation_id": None,
        "message_id": None,
        "message_index": None,
        "parent_id": None,
        "provider": None,
        "model": None,
        "source_timestamp": None,
        "extractor_version": REMIX_VERSION,
        "parser_version": None,
        "role": None,
        "position": 0,
    }
    base.update(fields)
    return UnitDraft(**base)


def remix(
    v: Vivim,
    actor: UserRecord,
    shared_id: str,
    *,
    content: str | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Remix a share into the actor's vault (needs canRemix). Remixing the same share with the
    same content again finds the earlier remix instead of writing a second one."""
    if content is not None and (not content.strip() or len(content) > MAX_REMIX):
        raise InvalidInput(f"a remix is 1 to {MAX_REMIX} characters")
    now = utcnow()
    with v.master.session() as s:
        su, perms = visible_share(s, shared_id, actor.id, now)
        if not perms.remix:
            raise NotPermitted("this share does not allow remixing")
        check = verification(su)
        if not check["valid"]:
            raise InvalidInput(
                f"shared unit {shared_id} does not verify ({check['reason']}); it will not be copied"
            )
        snap = dict(signed_view(su))
        snap.update(
            signature=su.signature,
            language=su.language,
            tags=list(su.tags or []),
            embedding=su.embedding,
            embedding_model=su.embedding_model,
            embedding_dim=su.embedding_dim,
            shared_unit_id=su.id,
        )
        sharer_did = s.scalar(select(User.did).where(User.id == su.sharer_id))
    result = _write(v, actor, snap, sharer_did or "", content, embedder, now)
    if result["created"]:
        with v.master.session() as s:
            su, _perms = visible_share(s, shared_id, actor.id, utcnow())
            record_consumption(s, consumer=actor, su=su, kind="remix")
    return result


def _write(
    v: Vivim,
    actor: UserRecord,
    snap: dict[str, Any],
    sharer_did: str,
    content: str | None,
    embedder: Embedder | None,
    now: Any,
) -> dict[str, Any]:
    text = content if content is not None else snap["content"]
    text_hash = content_hash(text)
    remix_id = derived_id("remix", actor.id, snap["author_did"], snap["id"], text_hash)
    created_at = to_iso(now) or ""
    store = v.store(actor)
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM atomic_chat_units WHERE id = ?", (remix_id,)).fetchone():
            return {"unit_id": remix_id, "derived_from": _target(conn, actor, snap), "created": False}
        target = _target(conn, actor, snap)
        if target is None:
            target = derived_id("shared-copy", snap["author_did"], snap["id"])
            original = {
                "id": snap["id"],
                "conversation_id": snap["conversation_id"],
                "message_id": snap["message_id"],
                "created_at": snap["created_at"],
                "signature": snap["signature"].hex() if snap["signature"] else None,
                "shared_unit_id": snap["shared_unit_id"],
                "sharer_did": sharer_did,
            }
            copy = _draft(
                id=target,
                content=snap["content"],
                content_hash=snap["content_hash"],
                type=snap["type"],
                category=snap["category"],
                language=snap["language"],
                tags=snap["tags"],
                metadata={"original": original},
            )
            unit_store.insert_units(
                conn,
                [copy],
                author_did=snap["author_did"],
                signatures=[None],
                authors=[None],
                index_texts=[copy.content],
                created_at=created_at,
            )
            if snap["embedding"] is not None:
                unit_store.store_embeddings(
                    conn,
                    [(target, snap["embedding"])],
                    model=snap["embedding_model"],
                    dim=snap["embedding_dim"],
                )
        mine = _draft(
            id=remix_id,
            content=text,
            content_hash=text_hash,
            type=snap["type"],
            category=snap["category"],
            language=snap["language"],
            tags=snap["tags"],
            parent_id=target,
            metadata={
                "derived_from": {
                    "unit_id": snap["id"],
                    "author_did": snap["author_did"],
                    "shared_unit_id": snap["shared_unit_id"],
                    "sharer_did": sharer_did,
                }
            },
        )
        columns = {
            "id": mine.id,
            "content": mine.content,
            "content_hash": mine.content_hash,
            "type": mine.type,
            "category": mine.category,
            "conversation_id": None,
            "message_id": None,
            "author_did": actor.did,
            "created_at": created_at,
        }
        signature = sign_unit(v.keypair(actor), columns)
        unit_store.insert_units(
            conn,
            [mine],
            author_did=actor.did,
            signatures=[signature],
            authors=[actor.handle],
            index_texts=[text],
            created_at=created_at,
        )
        unit_store.insert_links(
            conn,
            [
                unit_store.LinkRow(
                    remix_id, target, "derived_from", 1.0, {"shared_unit_id": snap["shared_unit_id"]}
                )
            ],
            created_by_did=actor.did,
            created_at=created_at,
        )
        vector = _vector(text, snap, content is None, embedder)
        if vector is not None:
            unit_store.store_embeddings(conn, [(remix_id, vector[0])], model=vector[1], dim=vector[2])
        unit_store.bump_search_generation(conn)
    return {
        "unit_id": remix_id,
        "derived_from": target,
        "created": True,
        "signature": signature.hex(),
        "author_did": actor.did,
        "content": text,
    }


def _target(conn: Any, actor: UserRecord, snap: dict[str, Any]) -> str | None:
    """The unit the remix derives from in the actor's vault: their own original, or a copy made earlier."""
    if (
        snap["author_did"] == actor.did
        and conn.execute(
            "SELECT 1 FROM atomic_chat_units WHERE id = ? AND author_did = ?", (snap["id"], actor.did)
        ).fetchone()
    ):
        return str(snap["id"])
    copy_id = derived_id("shared-copy", snap["author_did"], snap["id"])
    if conn.execute("SELECT 1 FROM atomic_chat_units WHERE id = ?", (copy_id,)).fetchone():
        return copy_id
    return None


def _vector(
    text: str, snap: dict[str, Any], unchanged: bool, embedder: Embedder | None
) -> tuple[bytes, str, int] | None:
    if unchanged and snap["embedding"] is not None:
        return snap["embedding"], snap["embedding_model"], snap["embedding_dim"]
    if embedder is None:
        return None
    vec = np.asarray(embedder.embed([text])[0], dtype="<f4")
    return vec.tobytes(), embedder.model_id, int(vec.shape[0])

