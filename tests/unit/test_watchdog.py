"""The stall watchdog's decision: behind, and the commit did not move for long enough."""

import asyncio
from types import SimpleNamespace

from faust.types import TP

from streams import watchdog
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


def test_a_recovery_partition_whose_next_offset_does_not_move_is_stuck_once_per_period():
    """Changelog partitions judged by (next offset the recovery needs, highwater + 1)."""
    t = StallTracker(stall_seconds=10)
    assert t.stalled_for("c0", 0, 22, now=0) is None  # first sight starts the clock
    assert t.stalled_for("c1", 22, 22, now=0) is None  # nothing left to read
    assert t.stalled_for("c0", 0, 22, now=9) is None
    assert t.stalled_for("c0", 0, 22, now=10) == 10
    assert t.stalled_for("c0", 0, 22, now=15) is None  # the clock started again
    assert t.stalled_for("c0", 17, 22, now=21) is None  # progress
    assert t.stalled_for("c0", 22, 22, now=40) is None  # done


class _Consumer:
    def __init__(self, assigned, committed):
        self.assigned, self._committed_offset = assigned, committed
        self.seeks, self.seek_waits, self.resumed = [], [], []
        self._active_partitions, self._paused_partitions = set(), set(assigned)
        self._buffered_partitions, self._read_offset, self._acked = set(), {}, {}
        self.flow_active = True

    def assignment(self):
        return set(self.assigned)

    def highwater(self, tp):
        return 100

    async def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    async def seek_wait(self, offsets):
        self.seek_waits.append(dict(offsets))

    def resume_partitions(self, tps):
        self.resumed.append(set(tps))


class _Recovery:
    def __init__(self, changelog):
        self.in_recovery = True
        self.active_tps = {changelog}
        self.active_offsets = {changelog: -1}
        self.active_highwaters = {changelog: 21}


def _app_in_recovery(monkeypatch):
    stream, changelog = TP("t.crm-events", 0), TP("app-resolver-changelog", 0)
    app = SimpleNamespace(consumer=_Consumer([stream, changelog], {stream: 5}),
                          tables=SimpleNamespace(changelog_topics={changelog.topic},
                                                 recovery=_Recovery(changelog)))
    timers = []
    app.timer = lambda interval, name: (lambda fun: timers.append(fun) or fun)
    app.on_partitions_assigned = SimpleNamespace(connect=lambda fun: fun)
    clock = [0.0]
    monkeypatch.setattr(watchdog.time, "monotonic", lambda: clock[0])
    watchdog.install(app, interval=1, stall_seconds=10)
    return app, timers[0], clock, stream, changelog


def test_in_recovery_paused_stream_partitions_are_not_sought_a_stuck_changelog_is(monkeypatch):
    """A fresh worker waited 4 minutes for resolver-changelog[0] (highwater 21, nothing
    read) while the watchdog sought its paused stream partitions again and again."""
    app, watch, clock, stream, changelog = _app_in_recovery(monkeypatch)
    tracker = StallTracker(stall_seconds=10)
    for now in (0, 5, 10, 15):
        clock[0] = now
        asyncio.run(watch())
        asyncio.run(watchdog.check_recovery(app, tracker, now))
    assert app.consumer.seeks == []  # the stream partition, behind and paused: left alone
    assert app.consumer.seek_waits == [{changelog: 0}]  # stuck 10 s: read again from 0
    assert app.consumer.resumed == [{changelog}]


def test_after_recovery_a_stalled_stream_partition_gets_a_full_period_again(monkeypatch):
    app, watch, clock, stream, changelog = _app_in_recovery(monkeypatch)
    for now in (0, 5, 10):
        clock[0] = now
        asyncio.run(watch())
    app.tables.recovery.in_recovery = False
    for now in (11, 15, 20):
        clock[0] = now
        asyncio.run(watch())
    assert app.consumer.seeks == []  # its clock started at 11, not at 0
    clock[0] = 21
    asyncio.run(watch())
    assert app.consumer.seeks == [(stream, 5)]
