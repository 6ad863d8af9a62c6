"""The stall watchdog's decision: behind, and the commit did not move for long enough."""

from streams.watchdog import StallTracker


def test_a_partition_behind_whose_commit_does_not_move_is_stalled_once_per_period():
    t = StallTracker(stall_seconds=10)
    assert t.stalled_for("p0", 5, 100, now=0) is None  # first sight starts the clock
    assert t.stalled_for("p0", 5, 100, now=9) is None
    assert t.stalled_for("p0", 5, 100, now=10) == 10
    assert t.stalled_for("p0", 5, 100, now=15) is None  # the clock started again
    assert t.stalled_for("p0", 5, 100, now=20) == 10


def test_progress_or_being_caught_up_is_never_a_stall():
    t = StallTracker(stall_seconds=10)
    t.stalled_for("p0", 5, 100, now=0)
    assert t.stalled_for("p0", 50, 100, now=11) is None  # the commit moved
    assert t.stalled_for("p0", 50, 100, now=20) is None
    for now in (0, 30, 60):
        assert t.stalled_for("p1", 100, 100, now=now) is None  # nothing to do
    assert t.stalled_for("p2", None, 0, now=0) is None
    t.stalled_for("p3", None, 7, now=0)
    assert t.stalled_for("p3", None, 7, now=10) == 10  # never committed, behind
