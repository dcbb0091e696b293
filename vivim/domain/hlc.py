"""Hybrid logical clocks: wall-clock milliseconds plus a counter, totally ordered.

A clock value is written ``WWWWWWWWWWWWW-CCCCCC`` (13 digits of Unix milliseconds, 6 of
counter), so comparing the strings compares the clocks and SQLite can order by them. Each
local transaction ticks the clock once; receiving a remote clock moves ours past it, so an
edit made after seeing another device's edit always orders after it, whatever the two
wall clocks say. Ties between devices are broken by device id (see ``merge``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from vivim.domain.errors import InvalidInput

MAX_COUNTER = 999_999
# How far ahead of our wall clock a remote clock may be. Further means a device whose clock
# is wrong (or a forged operation) would win every future conflict, so it is refused.
MAX_DRIFT_MS = 5 * 60 * 1000

_FORMAT = re.compile(r"^(\d{13})-(\d{6})$")


@dataclass(frozen=True, order=True, slots=True)
class Hlc:
    wall_ms: int
    counter: int = 0

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:06d}"


ZERO = Hlc(0, 0)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse(text: object) -> Hlc:
    if not isinstance(text, str):
        raise InvalidInput("a clock is a string like 1763850000000-000000")
    m = _FORMAT.match(text)
    if m is None:
        raise InvalidInput(f"{text[:40]!r} is not a clock (expected 13 digits, '-', 6 digits)")
    return Hlc(int(m.group(1)), int(m.group(2)))


def tick(last: Hlc, wall_ms: int) -> Hlc:
    """The clock of a new local event after ``last``."""
    if wall_ms > last.wall_ms:
        return Hlc(wall_ms, 0)
    if last.counter >= MAX_COUNTER:
        # A million events in one millisecond: borrow the next millisecond rather than wrap.
        return Hlc(last.wall_ms + 1, 0)
    return Hlc(last.wall_ms, last.counter + 1)


def observe(last: Hlc, remote: Hlc) -> Hlc:
    """Our clock after receiving ``remote``: the next tick orders after both."""
    return max(last, remote)


def too_far_ahead(remote: Hlc, wall_ms: int, max_drift_ms: int = MAX_DRIFT_MS) -> bool:
    return remote.wall_ms > wall_ms + max_drift_ms


__all__ = ["Hlc", "MAX_DRIFT_MS", "ZERO", "now_ms", "observe", "parse", "tick", "too_far_ahead"]
