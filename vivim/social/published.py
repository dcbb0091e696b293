"""A published unit as readers see it: the signed fields, the signature checked against the
author's DID on every read, and the reader's permissions."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vivim.identity.signing import signing_payload, verify_unit
from vivim.social.access import Permissions
from vivim.social.common import iso
from vivim.store.master.models import CircleMember, SharedUnitCircle


def signed_view(su: Any) -> dict[str, Any]:
    """The unit's signed fields under the user DB column names ``verify_unit`` expects."""
    return {
        "id": su.unit_id,
        "author_did": su.author_did,
        "content": su.content,
        "content_hash": su.content_hash,
        "type": su.type,
        "category": su.category,
        "conversation_id": su.conversation_id,
        "message_id": su.message_id,
        "created_at": su.unit_created_at,
    }


_VERDICTS: OrderedDict[bytes, tuple[bool, str]] = OrderedDict()
_VERDICTS_MAX = 200_000
_VERDICTS_LOCK = threading.Lock()


def _verify(su: Any) -> tuple[bool, str]:
    """Ed25519 verification, memoised by the exact signed bytes and signature.

    The key is a hash of everything the verdict depends on (the canonical payload, which
    includes the DID, and the signature), so a row changed in any signed field misses the
    memo and is verified afresh: the memo can save work, never change an answer.
    """
    view = signed_view(su)
    key = hashlib.blake2b(signing_payload(view) + b"\x00" + (su.signature or b""), digest_size=20).digest()
    with _VERDICTS_LOCK:
        hit = _VERDICTS.get(key)
    if hit is not None:
        return hit
    verdict = verify_unit(view, su.signature)
    with _VERDICTS_LOCK:
        _VERDICTS[key] = verdict
        if len(_VERDICTS) > _VERDICTS_MAX:
            _VERDICTS.popitem(last=False)
    return verdict


def verification(su: Any) -> dict[str, Any]:
    valid, reason = _verify(su)
    # "tampered": signed, but the published bytes no longer match what the author signed.
    return {"valid": valid, "reason": reason, "tampered": bool(su.signature) and not valid}


def policy_of(su: Any) -> str:
    return str(su.policy.value if hasattr(su.policy, "value") else su.policy)


def share_json(
    s: Session,
    su: Any,
    *,
    perms: Permissions,
    names: dict[str, tuple[str | None, str]],
    now: datetime,
    viewer_id: str,
    circles: list[str] | None = None,
) -> dict[str, Any]:
    """A share (an ORM object or a plain row of ``shared_units``) for one reader. Circles are listed only where the reader is a member (the
    sharer sees all of them): a share never reveals circles its reader does not belong to."""
    if circles is None:
        circles = visible_circles(s, [su.id], viewer_id, sharer=perms.is_sharer).get(su.id, [])
    sharer = names.get(su.sharer_id, (None, ""))
    author = names.get(su.author_id or "", (None, su.author_did))
    return {
        "id": su.id,
        "unit_id": su.unit_id,
        "content": su.content,
        "content_hash": su.content_hash,
        "type": su.type,
        "category": su.category,
        "language": su.language,
        "tags": list(su.tags or []),
        "author": author[0],
        "author_did": su.author_did,
        "sharer": sharer[0],
        "sharer_did": sharer[1],
        "reshared_from_id": su.reshared_from_id,
        "policy": policy_of(su),
        "circles": circles,
        "permissions": perms.to_json(),
        "granted": {
            "can_view": su.can_view,
            "can_annotate": su.can_annotate,
            "can_remix": su.can_remix,
            "can_reshare": su.can_reshare,
        },
        "expires_at": iso(su.expires_at),
        "expired": su.expires_at is not None and su.expires_at <= now,
        "published_at": iso(su.published_at),
        "unit_created_at": su.unit_created_at,
        "signature": su.signature.hex() if su.signature else None,
        "verification": verification(su),
    }


def visible_circles(
    s: Session, shared_ids: list[str], viewer_id: str, *, sharer: bool
) -> dict[str, list[str]]:
    """share id -> the circles it is shared with that the viewer belongs to (all, for the sharer)."""
    q = select(SharedUnitCircle.shared_unit_id, SharedUnitCircle.circle_id).where(
        SharedUnitCircle.shared_unit_id.in_(shared_ids)
    )
    if not sharer:
        q = q.join(
            CircleMember,
            (CircleMember.circle_id == SharedUnitCircle.circle_id) & (CircleMember.user_id == viewer_id),
        )
    out: dict[str, list[str]] = {}
    for sid, cid in s.execute(q.order_by(SharedUnitCircle.circle_id)):
        out.setdefault(sid, []).append(cid)
    return out
