"""Shared helpers for benchmarks: timing, medians, percentiles, peak memory."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_files_matching(suffix: str) -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
                n += 1
        except OSError:
            pass
    return n


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def machine_speed() -> float:
    """Seconds a fixed pure-Python loop takes now: how fast this (shared) machine is at the
    moment, printed beside figures so that runs on a slowed-down host can be told apart
    (about 0.55-0.69 s on this project's machine at its usual speed)."""
    t = time.perf_counter()
    sum(i * i for i in range(10_000_000))
    return time.perf_counter() - t

