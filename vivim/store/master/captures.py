"""Capture attempts and per-user provider statistics (SQLAlchemy Core; bulk friendly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vivim.domain.ids import new_id
from vivim.domain.times import utcnow
from vivim.store.master.models import CaptureAttempt, ProviderStats

Executor = Session | Connection

_attempts = CaptureAttempt.__table__
_stats = ProviderStats.__table__


@dataclass(slots=True)
class Attempt:
    source_url: str
    provider: str | None
    status: str
    """``success``, ``unchanged`` or ``failed`` (a file may also be ``partial``)."""
    started_at: datetime
    completed_at: datetime
    conversation_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_of: str | None = None
    retry_count: int = 0
    ip_address: str | None = None
    user_agent: str | None = None
    id: str = field(default_factory=new_id)

    @property
    def duration_ms(self) -> int:
        return int((self.completed_at - self.started_at).total_seconds() * 1000)


@dataclass(slots=True)
class StatsDelta:
    """What one batch of attempts adds to a provider's statistics.

    Averages are per successful capture (an unchanged re-capture counts: the conversation
    still has that many messages); totals count only what was newly stored, so importing
    the same export twice does not double them.
    """

    captures: int = 0
    successes: int = 0
    failures: int = 0
    duration_ms_sum: float = 0.0
    message_count_sum: int = 0
    token_count_sum: int = 0
    new_messages: int = 0
    new_code_blocks: int = 0
    new_images: int = 0
    new_tool_calls: int = 0
    last_capture_at: datetime | None = None


def record_attempts(conn: Executor, *, user_id: str | None, attempts: list[Attempt]) -> None:
    if not attempts:
        return
    now = utcnow()
    conn.execute(
        insert(_attempts),
        [
            {
                "id": a.id,
                "user_id": user_id,
                "source_url": a.source_url,
                "provider": a.provider,
                "status": a.status,
                "error_code": a.error_code,
                "error_message": a.error_message,
                "started_at": a.started_at,
                "completed_at": a.completed_at,
                "duration": a.duration_ms,
                "ip_address": a.ip_address,
                "user_agent": a.user_agent,
                "conversation_id": a.conversation_id,
                "retry_count": a.retry_count,
                "retry_of": a.retry_of,
                "created_at": now,
            }
            for a in attempts
        ],
    )


def failed_attempts(conn: Executor, *, user_id: str, source_urls: list[str]) -> dict[str, tuple[str, int]]:
    """The latest failed attempt (id, retry_count) per source, for retry-of links."""
    out: dict[str, tuple[str, int]] = {}
    for i in range(0, len(source_urls), 500):
        chunk = source_urls[i : i + 500]
        rows = conn.execute(
            select(_attempts.c.source_url, _attempts.c.id, _attempts.c.retry_count)
            .where(
                _attempts.c.user_id == user_id,
                _attempts.c.status == "failed",
                _attempts.c.source_url.in_(chunk),
            )
            .order_by(_attempts.c.created_at)
        )
        for url, attempt_id, retries in rows:
            out[url] = (attempt_id, retries)
    return out


def apply_stats(conn: Executor, *, user_id: str, provider: str, delta: StatsDelta) -> None:
    """Fold a batch into the running totals and averages (incremental, so an import of
    5,000 conversations costs one row update per batch, not a rescan)."""
    if delta.captures == 0:
        return
    row = (
        conn.execute(select(_stats).where(_stats.c.user_id == user_id, _stats.c.provider == provider))
        .mappings()
        .first()
    )
    now = utcnow()
    if row is None:
        values: dict[str, Any] = {
            "id": new_id(),
            "user_id": user_id,
            "provider": provider,
            "total_captures": 0,
            "successful_captures": 0,
            "failed_captures": 0,
            "avg_duration": None,
            "avg_message_count": None,
            "avg_token_count": None,
            "total_messages": 0,
            "total_code_blocks": 0,
            "total_images": 0,
            "total_tool_calls": 0,
            "last_capture_at": None,
        }
    else:
        values = dict(row)
    prev_captures, prev_successes = values["total_captures"], values["successful_captures"]
    values["avg_duration"] = _running_avg(
        values["avg_duration"], prev_captures, delta.duration_ms_sum, delta.captures
    )
    values["avg_message_count"] = _running_avg(
        values["avg_message_count"], prev_successes, delta.message_count_sum, delta.successes
    )
    values["avg_token_count"] = _running_avg(
        values["avg_token_count"], prev_successes, delta.token_count_sum, delta.successes
    )
    values["total_captures"] = prev_captures + delta.captures
    values["successful_captures"] = prev_successes + delta.successes
    values["failed_captures"] += delta.failures
    values["total_messages"] += delta.new_messages
    values["total_code_blocks"] += delta.new_code_blocks
    values["total_images"] += delta.new_images
    values["total_tool_calls"] += delta.new_tool_calls
    if delta.last_capture_at is not None:
        values["last_capture_at"] = delta.last_capture_at
    values["updated_at"] = now
    if row is None:
        values["created_at"] = now
        values = {k: v for k, v in values.items() if k in _stats.c}
        conn.execute(insert(_stats).values(**values))
    else:
        conn.execute(
            update(_stats)
            .where(_stats.c.id == values["id"])
            .values(
                **{k: v for k, v in values.items() if k not in {"id", "user_id", "provider", "created_at"}}
            )
        )


def _running_avg(old: float | None, old_n: int, added_sum: float, added_n: int) -> float | None:
    if added_n == 0:
        return old
    if old is None or old_n == 0:
        return added_sum / added_n
    return (old * old_n + added_sum) / (old_n + added_n)


def provider_stats(conn: Executor, *, user_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(_stats).where(_stats.c.user_id == user_id).order_by(_stats.c.provider)
    ).mappings()
    return [dict(r) for r in rows]


def recent_attempts(conn: Executor, *, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(_attempts)
        .where(_attempts.c.user_id == user_id)
        .order_by(_attempts.c.created_at.desc(), _attempts.c.started_at.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
