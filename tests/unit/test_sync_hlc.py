from __future__ import annotations

import pytest

from vivim.domain import hlc
from vivim.domain.errors import InvalidInput


def test_a_clock_prints_as_fixed_width_text_that_sorts_like_the_clock() -> None:
    a, b, c = hlc.Hlc(1_700_000_000_000, 5), hlc.Hlc(1_700_000_000_000, 12), hlc.Hlc(1_700_000_000_001, 0)
    assert str(a) == "1700000000000-000005"
    assert sorted([str(c), str(b), str(a)]) == [str(a), str(b), str(c)]
    assert hlc.parse(str(b)) == b


@pytest.mark.parametrize("bad", ["", "1700000000000", "1700000000000-1", "x700000000000-000000", 17, None])
def test_malformed_clocks_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        hlc.parse(bad)


def test_tick_follows_the_wall_clock_and_counts_within_a_millisecond() -> None:
    last = hlc.Hlc(1000, 3)
    assert hlc.tick(last, 2000) == hlc.Hlc(2000, 0)
    assert hlc.tick(last, 1000) == hlc.Hlc(1000, 4)
    # A wall clock that went backwards never moves the logical clock back.
    assert hlc.tick(last, 10) == hlc.Hlc(1000, 4)
    assert hlc.tick(hlc.Hlc(1000, hlc.MAX_COUNTER), 1000) == hlc.Hlc(1001, 0)


def test_after_observing_a_remote_clock_the_next_tick_is_later() -> None:
    local, remote = hlc.Hlc(1000, 0), hlc.Hlc(5000, 7)
    seen = hlc.observe(local, remote)
    assert hlc.tick(seen, 1200) > remote
    assert hlc.observe(remote, local) == remote


def test_clocks_far_ahead_of_ours_are_too_far() -> None:
    now = 1_700_000_000_000
    assert not hlc.too_far_ahead(hlc.Hlc(now + hlc.MAX_DRIFT_MS), now)
    assert hlc.too_far_ahead(hlc.Hlc(now + hlc.MAX_DRIFT_MS + 1), now)
