"""Assembling a context bundle, recording its composition, and caching it.

A bundle is cached in ``context_bundles`` under a key made of everything the caller asked
(message, conversation, persona, budget, style, settings) and stamped with the
fingerprint of everything it was made from (sources.snapshot). A cached bundle is served
only while that fingerprint still matches and it has not expired, so a changed memory,
fact, instruction, persona, profile, newly indexed unit or conversation makes the next
request assemble afresh.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from vivim.context import gather, sources
from vivim.context.budget import count, truncate
from vivim.context.compaction import Compaction
from vivim.context.compaction import save as save_compaction
from vivim.context.conversation import fill_conversation, turn_pieces
from vivim.context.layers import (
    Layer,
    Piece,
    allocate,
    demand,
    fill,
    heading,
    section_text,
    set_pieces,
    settle_exactly,
)
from vivim.context.settings import LAYERS, MAX_BUDGET, MIN_BUDGET, UserContextSettings, load_settings
from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso, utcnow
from vivim.search.engine import SearchEngine
from vivim.store.user.conversations import find_conversation_id
from vivim.store.user.db import UserStore

STYLES = ("text", "markdown")
SEPARATOR = "\n\n"
MAX_MESSAGE_CHARS = 100_000


@dataclass
class Bundle:
    id: str
    content: str
    total_tokens: int
    budget: int
    style: str
    message: str
    conversation_id: str | None
    persona_id: str | None
    composition: dict[str, Any]
    created_at: str
    expires_at: str | None
    fingerprint: str
    cached: bool = False
    layers: list[Layer] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "total_tokens": self.total_tokens,
            "budget": self.budget,
            "style": self.style,
            "conversation_id": self.conversation_id,
            "persona_id": self.persona_id,
            "cached": self.cached,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "composition": self.composition,
        }


class QueryMemo:
    """An embedder that remembers its last query vector."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self._last: tuple[str, Any] | None = None

    def embed(self, texts: list[str]) -> Any:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> Any:
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        vector = self.inner.embed_query(text)
        self._last = (text, vector)
        return vector


class ContextEngine:
    """Builds bundles for one user's store. ``search`` may be None (no unit retrieval) or
    have no embedder (full-text retrieval only)."""

    def __init__(
        self, store: UserStore, search: SearchEngine | None, *, settings: UserContextSettings | None = None
    ):
        self.store = store
        if search is not None and search.embedder is not None:
            # Unit search and memory scoring embed the same message: embed it once.
            search = SearchEngine(QueryMemo(search.embedder))
        self.search = search
        self.settings = settings

    def build(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        persona: str | None = None,
        budget: int | None = None,
        style: str = "text",
        use_cache: bool = True,
    ) -> Bundle:
        if not isinstance(message, str) or not message.strip():
            raise InvalidInput("a message is required to build context for")
        if len(message) > MAX_MESSAGE_CHARS:
            raise InvalidInput(f"the message is longer than {MAX_MESSAGE_CHARS:,} characters")
        if style not in STYLES:
            raise InvalidInput(f"unknown style {style!r}; use one of: {', '.join(STYLES)}")
        message = message.strip()
        with self.store.read() as conn:
            settings = self.settings or load_settings(conn)
            budget = settings.max_context_tokens if budget is None else budget
            if not isinstance(budget, int) or not (MIN_BUDGET <= budget <= MAX_BUDGET):
                raise InvalidInput(
                    f"the budget must be a whole number of tokens from {MIN_BUDGET} to {MAX_BUDGET}"
                )
            conv_id = None
            if conversation_id:
                conv_id = find_conversation_id(conn, conversation_id)
                if conv_id is None:
                    raise NotFound(f"no conversation {conversation_id!r}")
            persona_row = sources.persona(conn, persona, message)
            if persona and persona_row is None:
                raise NotFound(f"no persona named {persona!r}")
            snap = sources.cached_snapshot(conn, self.store.memo, conversation_id=conv_id)
            key = cache_key(
                message, conv_id, persona_row.id if persona_row else None, budget, style, settings
            )
            if use_cache:
                hit = _cached(conn, key, snap.digest)
                if hit is not None:
                    return hit
        req = gather.Request(message, gather.stems(message), conv_id, persona_row, settings, style, snap)
        layers, compaction, content, total = self._assemble(req, budget)
        now = utcnow()
        ttl = int(settings.option("cache_ttl_seconds") or 0)
        bundle = Bundle(
            id=new_id(),
            content=content,
            total_tokens=total,
            budget=budget,
            style=style,
            message=message,
            conversation_id=conv_id,
            persona_id=persona_row.id if persona_row else None,
            composition=composition(layers, budget, settings, persona_row),
            created_at=to_iso(now) or "",
            expires_at=to_iso(now + timedelta(seconds=ttl)) if ttl > 0 else None,
            fingerprint=snap.digest,
            layers=layers,
        )
        self._store(key, bundle, compaction, use_cache)
        return bundle

    # -- assembly ----------------------------------------------------------------------
    def _assemble(self, req: gather.Request, budget: int) -> tuple[list[Layer], Compaction | None, str, int]:
        s = req.settings
        shares = s.layers()
        layers = {name: Layer(name) for name in LAYERS}
        turns: list[sources.Turn] = []
        store = self.store
        with store.read() as conn:
            table: gather.RowTable | None = None
            # include_memories off (the privacy preset) keeps memories out of every layer.
            if s.option("include_memories"):
                table = gather.memory_table(store, conn, req.snapshot)
            kinds = {"IDENTITY", "PREFERENCE"} - s.excluded("memory_types")
            topics = (
                gather.active_topics(store, conn, req)
                if shares["topic"].enabled or shares["preferences"].enabled
                else []
            )
            if shares["identity"].enabled:
                layers["identity"].candidates = gather.identity(store, conn, req, table, kinds)
            if shares["preferences"].enabled:
                slugs = {t.meta["slug"].lower() for t, _ in topics}
                layers["preferences"].candidates = gather.preferences(conn, req, table, kinds, slugs)
            if shares["topic"].enabled:
                layers["topic"].candidates = gather.topic(req, topics)
            if shares["entities"].enabled:
                layers["entities"].candidates = gather.entities(store, conn, req)
            if shares["conversation"].enabled and req.conversation_id:
                turns = sources.conversation_turns(conn, req.conversation_id)
                layers["conversation"].candidates = turn_pieces(turns)
            if shares["history"].enabled:
                layers["history"].candidates = gather.history(conn, req)
        if shares["retrieval"].enabled:
            skip = bool(req.conversation_id) and shares["conversation"].enabled
            layers["retrieval"].candidates = gather.retrieval(
                store, self.search, req, table, skip_conversation=skip
            )
        layers["message"].candidates = [Piece("user_message", None, req.message, 1.0)]

        demands = {
            name: demand(layer, req.style, None if name == "message" else int(shares[name].max * budget) + 1)
            for name, layer in layers.items()
        }
        alloc = allocate(budget, shares, demands)
        compaction: Compaction | None = None
        for name in LAYERS:
            compaction = self._fill(layers[name], alloc[name], req, turns, compaction)
        # Whole pieces leave some of an allocation unused; hand the slack, in priority
        # order, to layers that still have candidates, up to their maximum share.
        slack = budget - _total_estimate(layers)
        for name in LAYERS:
            if slack <= 0:
                break
            layer = layers[name]
            cap = int(shares[name].max * budget) if shares[name].enabled else 0
            if name == "message":
                cap = budget
                if not any(p.truncated for p in layer.pieces) and layer.pieces:
                    continue
            elif len(layer.pieces) >= len(layer.candidates) or layer.tokens >= cap:
                continue
            new_limit = min(cap, layer.allocated + slack)
            if new_limit <= layer.allocated:
                continue
            before = layer.tokens
            compaction = self._fill(layer, new_limit, req, turns, compaction)
            slack -= layer.tokens - before
        ordered = [layers[name] for name in LAYERS]
        for layer in ordered:
            settle_exactly(layer, req.style)
        content, total = _enforce(ordered, budget, req.style)
        return ordered, compaction, content, total

    def _fill(
        self,
        layer: Layer,
        limit: int,
        req: gather.Request,
        turns: list[sources.Turn],
        compaction: Compaction | None,
    ) -> Compaction | None:
        layer.allocated = limit
        if layer.name == "conversation" and req.conversation_id:
            with self.store.read() as conn:
                keep = float(req.settings.option("compaction_keep_recent_share"))
                used = fill_conversation(layer, conn, req.conversation_id, turns, limit, req.style, keep)
            return used or compaction
        if layer.name == "message":
            _fill_message(layer, limit, req.style)
            return compaction
        fill(layer, limit, req.style)
        return compaction

    # -- cache -------------------------------------------------------------------------
    def _store(self, key: str, bundle: Bundle, compaction: Compaction | None, use_cache: bool) -> None:
        try:
            with self.store.transaction() as conn:
                if compaction is not None and not compaction.cached:
                    save_compaction(conn, compaction)
                if use_cache:
                    conn.execute(
                        "DELETE FROM context_bundles WHERE expires_at IS NOT NULL AND expires_at < ?",
                        (bundle.created_at,),
                    )
                    conn.execute(
                        "INSERT INTO context_bundles (id, cache_key, bundle_type, conversation_id, persona_id,"
                        " budget_tokens, total_tokens, content, composition, source_fingerprint, is_dirty,"
                        " created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?)"
                        " ON CONFLICT(cache_key) DO UPDATE SET id = excluded.id, total_tokens = excluded.total_tokens,"
                        " content = excluded.content, composition = excluded.composition,"
                        " source_fingerprint = excluded.source_fingerprint, is_dirty = 0,"
                        " created_at = excluded.created_at, expires_at = excluded.expires_at",
                        (
                            bundle.id,
                            key,
                            "conversation" if bundle.conversation_id else "message",
                            bundle.conversation_id,
                            bundle.persona_id,
                            bundle.budget,
                            bundle.total_tokens,
                            bundle.content,
                            json.dumps(
                                {**bundle.composition, "_message": bundle.message, "_style": bundle.style},
                                ensure_ascii=False,
                            ),
                            bundle.fingerprint,
                            bundle.created_at,
                            bundle.expires_at,
                        ),
                    )
        except (sqlite3.OperationalError, sqlite3.IntegrityError):
            # A read-only or busy vault, or a persona or conversation deleted meanwhile: the
            # caller still gets its bundle, just not cached.
            return
        with self.store.read() as conn:
            sources.note_own_write(conn, self.store.memo)


def cache_key(
    message: str,
    conversation_id: str | None,
    persona_id: str | None,
    budget: int,
    style: str,
    settings: UserContextSettings,
) -> str:
    raw = json.dumps([message, conversation_id, persona_id, budget, style, settings.fingerprint()])
    return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def _cached(conn: sqlite3.Connection, key: str, fingerprint: str) -> Bundle | None:
    r = conn.execute(
        "SELECT id, content, total_tokens, budget_tokens, composition, conversation_id, persona_id, created_at,"
        " expires_at, source_fingerprint, is_dirty FROM context_bundles WHERE cache_key = ?",
        (key,),
    ).fetchone()
    if r is None or r[9] != fingerprint or r[10]:
        return None
    if r[8] is not None and r[8] <= (to_iso(utcnow()) or ""):
        return None
    comp = json.loads(r[4])
    message, style = comp.pop("_message", ""), comp.pop("_style", "text")
    return Bundle(r[0], r[1], r[2], r[3], style, message, r[5], r[6], comp, r[7], r[8], r[9], cached=True)


def mark_dirty(conn: sqlite3.Connection, *, conversation_id: str | None = None) -> int:
    """Flag cached bundles (all, or one conversation's) so they are rebuilt on next use."""
    if conversation_id:
        return conn.execute(
            "UPDATE context_bundles SET is_dirty = 1 WHERE conversation_id = ?", (conversation_id,)
        ).rowcount
    return conn.execute("UPDATE context_bundles SET is_dirty = 1").rowcount


def _fill_message(layer: Layer, limit: int, style: str) -> None:
    """The message is never dropped while any room is left: it is cut to fit instead."""
    head = count(heading(layer.title, style)) + 1
    piece = layer.candidates[0]
    text = piece.text
    if head + piece.cost() > limit:
        text = truncate(text, max(0, limit - head - 1))
    if not text:
        set_pieces(layer, [], limit, style)
        return
    p = Piece(piece.source, None, text, 1.0, truncated=text != piece.text)
    p.tokens = count(text)
    set_pieces(layer, [p], limit, style)


def _total_estimate(layers: dict[str, Layer]) -> int:
    used = [layer.tokens for layer in layers.values() if layer.text]
    return sum(used) + max(0, len(used) - 1) * count(SEPARATOR)


def _enforce(layers: list[Layer], budget: int, style: str) -> tuple[str, int]:
    """The exact guarantee: the joined text counts at most ``budget`` tokens. Joining can
    cost a token or two more than the sections apart; take pieces from the lowest-priority
    layers (the message last of all) until it fits."""
    while True:
        content = SEPARATOR.join(layer.text for layer in layers if layer.text)
        total = count(content)
        if total <= budget:
            return content, total
        victim = next((la for la in reversed(layers) if la.pieces and la.name != "message"), None)
        if victim is None:
            msg = next((la for la in layers if la.name == "message" and la.pieces), None)
            if msg is None:
                return content, total
            piece = msg.pieces[0]
            shorter = truncate(
                piece.text, max(0, piece.tokens - 1 if piece.tokens > 0 else count(piece.text) - 1)
            )
            if not shorter:
                set_pieces(msg, [], 0, style)
                continue
            p = Piece(piece.source, None, shorter, 1.0, truncated=True)
            p.tokens = count(shorter)
            set_pieces(msg, [p], budget, style)
            continue
        set_pieces(victim, victim.pieces[:-1], budget, style)


def composition(
    layers: list[Layer], budget: int, settings: UserContextSettings, persona: sources.Row | None
) -> dict[str, Any]:
    shares = settings.layers()
    out_layers: dict[str, Any] = {}
    by_source: dict[str, int] = {}
    for layer in layers:
        share = shares[layer.name]
        out_layers[layer.name] = {
            "title": layer.title,
            "enabled": share.enabled,
            "share": {"min": share.min, "ideal": share.ideal, "max": share.max},
            "allocated_tokens": layer.allocated,
            "tokens": layer.tokens,
            "candidates": len(layer.candidates),
            "items": [p.to_json() for p in layer.pieces],
        }
        for p in layer.pieces:
            by_source[p.source] = by_source.get(p.source, 0) + 1
    return {
        "budget": budget,
        "preset": settings.preset,
        "persona": persona.meta["name"] if persona else None,
        "layers": out_layers,
        "sources": by_source,
    }


__all__ = ["Bundle", "ContextEngine", "cache_key", "mark_dirty", "section_text"]
