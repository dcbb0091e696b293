"""In-process token buckets: per-user and per-IP limits on login and import.

Each (rule, key) pair has a bucket of ``capacity`` tokens that refills continuously at
``capacity / period`` tokens per second; a request takes one token or is refused with the
time until one is back. State lives in this process only: limits reset when the server
restarts and are per process when several run (docs/SECURITY.md says so).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    capacity: int
    """Burst: requests allowed at once from a full bucket."""
    period_s: float
    """Time for an empty bucket to fill up again."""

    @property
    def rate(self) -> float:
        return self.capacity / self.period_s


class RateLimited(Exception):
    """Raised when a bucket is empty; ``retry_after`` is in whole seconds (>= 1)."""

    def __init__(self, rule: str, retry_after: int) -> None:
        super().__init__(f"too many requests ({rule}); retry in {retry_after} s")
        self.rule = rule
        self.retry_after = retry_after


class RateLimiter:
    """Thread-safe token buckets keyed by (rule, key), bounded in number.

    When more than ``max_buckets`` exist, buckets that would be full again by now are
    dropped (they carry no information), so memory stays bounded under key churn.
    """

    def __init__(
        self,
        *,
        max_buckets: int = 100_000,
        idle_horizon_s: float = 24 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._horizon = idle_horizon_s
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max = max_buckets
        self._clock = clock

    def hit(self, rule: Rule, key: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from the bucket or raise :class:`RateLimited`."""
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get((rule.name, key), (float(rule.capacity), now))
            tokens = min(float(rule.capacity), tokens + (now - stamp) * rule.rate)
            if tokens < cost:
                self._buckets[(rule.name, key)] = (tokens, now)
                raise RateLimited(rule.name, max(1, math.ceil((cost - tokens) / rule.rate)))
            self._buckets[(rule.name, key)] = (tokens - cost, now)
            if len(self._buckets) > self._max:
                self._prune(now)

    def remaining(self, rule: Rule, key: str) -> float:
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get((rule.name, key), (float(rule.capacity), now))
            return min(float(rule.capacity), tokens + (now - stamp) * rule.rate)

    def _prune(self, now: float) -> None:
        # Rules are not stored with the buckets; a bucket idle for longer than any rule's
        # period is full again whatever its rule, so it can go.
        stale = [k for k, (_t, stamp) in self._buckets.items() if now - stamp >= self._horizon]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) > self._max:
            # Still too many active keys: drop the least recently used half.
            for k, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[: len(self._buckets) // 2]:
                del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


__all__ = ["RateLimited", "RateLimiter", "Rule"]
