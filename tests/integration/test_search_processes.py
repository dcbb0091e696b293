"""The search worker pool's processes, for real (spawned Python processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from vivim.search.processes import SearchProcesses
from vivim.settings import Settings

_SERVER_THAT_DIES = """
import os, sys, time
from vivim.search.processes import SearchProcesses
from vivim.settings import Settings

pool = SearchProcesses(Settings.load(sys.argv[1]), 2)
pool.start()
deadline = time.monotonic() + 60
while len(pool.pids()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
print(*pool.pids(), flush=True)
os._exit(0)  # dies without shutting the pool down, as after SIGKILL
"""


def test_workers_exit_when_their_server_dies_without_stopping_them(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SERVER_THAT_DIES, str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids)


def test_a_pool_needs_a_worker(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        SearchProcesses(Settings.load(tmp_path), 0)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped (by an init that may never do it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
