"""Stall watchdog: notices a partition this worker owns that stopped moving.

faust-streaming can, after a rebalance, keep a partition assigned but never fetch or
commit it again (faust-streaming#166, #629, robinhood/faust#458): the lag grows and no
error is raised. Seen here after SIGKILLed workers' partitions moved: every message was
read, but a run of offsets right after the committed one was never acknowledged (a gap at
the head of Faust's acked list), so the commit could not advance and a restart would have
read it all again forever.

Every few seconds the watchdog compares, for each assigned source partition, the
committed offset with the end of the log. A partition that is behind and whose committed
offset did not move for ``stall_seconds`` is logged with what Faust and aiokafka think of
it, and sought back to its committed offset: the messages after it are read and processed
again (every stage is idempotent) and acknowledged this time, so the commit moves on.

While the worker restores its tables (Faust's recovery) its stream partitions are paused
on purpose and nothing is committed: they are not judged then (their clocks start again
afterwards, when recovery seeks them to their committed offsets anyway), and seeking them
would only move Faust's read offsets under the recovery. What is judged instead is the
recovery itself: an active changelog partition with offsets still to read that received
nothing for ``stall_seconds`` (seen once: a fresh worker waited four minutes for
``resolver-changelog[0]``, "No event received ... since recovery start", its streams
paused throughout) is logged with what Faust and aiokafka think of it and sought again to
the next offset the recovery needs, which also clears Faust's read offset for it, and
resumed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class StallTracker:
    """Decides, from (committed, end) readings over time, which partitions stalled.

    :param stall_seconds: how long a partition may stay behind without its commit moving.
    """

    def __init__(self, stall_seconds: float):
        self.stall_seconds = stall_seconds
        self._progress: dict[Any, tuple[int | None, float]] = {}

    def reset(self) -> None:
        """Forget every clock (the partitions start again from their committed offsets)."""
        self._progress.clear()

    def stalled_for(self, tp: Any, committed: int | None, end: int, now: float) -> float | None:
        """Seconds ``tp`` has been stalled (its clock then starts again), or None."""
        if (committed or 0) >= end:
            self._progress[tp] = (committed, now)
            return None
        last, since = self._progress.get(tp, (None, now))
        if tp not in self._progress or last != committed:
            self._progress[tp] = (committed, now)
            return None
        if now - since < self.stall_seconds:
            return None
        self._progress[tp] = (committed, now)
        return now - since


def install(app: Any, *, interval: float, stall_seconds: float) -> None:
    """Register the watchdog timer on ``app``."""
    tracker = StallTracker(stall_seconds)
    recovery_tracker = StallTracker(stall_seconds)  # (next offset, end) of changelogs
    guard: list[asyncio.Future] = []

    async def guard_recovery() -> None:
        while not app.should_stop:
            await asyncio.sleep(interval)
            try:
                await check_recovery(app, recovery_tracker, time.monotonic())
            except Exception as exc:  # noqa: BLE001 - a guard must not die
                log.warning("recovery guard: %r", exc)

    # Not a timer: Faust starts timers only once the first recovery is complete.
    @app.on_partitions_assigned.connect
    async def start_guard(sender: Any, *args: Any, **kwargs: Any) -> None:
        if not guard:
            guard.append(asyncio.ensure_future(guard_recovery()))

    @app.timer(interval, name="coselling-stall-watchdog")
    async def watch() -> None:
        consumer = app.consumer
        if app.tables.recovery.in_recovery:
            tracker.reset()  # paused on purpose: not judged, nor sought under the recovery
            return
        changelogs = set(app.tables.changelog_topics)
        for tp in sorted(consumer.assignment()):
            if tp.topic in changelogs or "__assignor" in tp.topic:
                continue
            committed = consumer._committed_offset.get(tp)
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not known yet: nothing to judge
                continue
            if end is None:
                continue
            stalled = tracker.stalled_for(tp, committed, end, time.monotonic())
            if stalled is not None:
                log.warning("partition %s[%d] stalled for %.0fs: committed %s, end %s; %s; "
                            "reading it again from the committed offset", tp.topic,
                            tp.partition, stalled, committed, end, _describe(app, tp))
                # Consumer.seek also resets Faust's read offset; without that Faust drops
                # every re-read message below the highest offset it had read already.
                await consumer.seek(tp, committed or 0)


async def check_recovery(app: Any, tracker: StallTracker, now: float) -> None:
    """Seek again (and resume) the changelog partitions the recovery waits for in vain.

    ``tracker`` judges each active changelog partition by the next offset the recovery
    needs and the end of what it must read (its highwater + 1), as the stream partitions
    are judged by their committed and end offsets.
    """
    recovery = app.tables.recovery
    if not recovery.in_recovery:
        tracker.reset()
        return
    offsets = {}
    for tp in recovery.active_tps:
        highwater = recovery.active_highwaters.get(tp)
        if highwater is None:
            continue
        done = recovery.active_offsets.get(tp)
        needed = (done if done is not None and done >= 0 else -1) + 1
        if tracker.stalled_for(tp, needed, highwater + 1, now) is not None:
            offsets[tp] = needed
    if not offsets:
        return
    consumer = app.consumer
    fetcher = getattr(app, "_fetcher", None)
    for tp in offsets:
        done = recovery.active_offsets.get(tp)
        log.warning("recovery of %s[%d] stuck for %.0fs: read up to %s of %s; %s; "
                    "recovery tasks alive: %s, fetcher alive: %s; seeking it to %d again",
                    tp.topic, tp.partition, tracker.stall_seconds, done,
                    recovery.active_highwaters.get(tp), _describe(app, tp),
                    _alive(recovery), _alive(fetcher), offsets[tp])
    # seek_wait also drops Faust's read offset of these partitions (or sets it to the
    # offset sought), so the records read again are not discarded as already read.
    await consumer.seek_wait(offsets)
    consumer.resume_partitions(set(offsets))


def _alive(service: Any) -> bool:
    """Whether every task of a (mode) service still runs."""
    futures = getattr(service, "_futures", None)
    return bool(futures) and all(not f.done() for f in futures)


def _describe(app: Any, tp: Any) -> str:
    c = app.consumer
    facts = {
        "active": tp in (c._active_partitions or set()),
        "faust_paused": tp in c._paused_partitions,
        "buffered": tp in c._buffered_partitions,
        "read_offset": c._read_offset.get(tp),
        "acked_head": sorted(c._acked.get(tp, []))[:3],
        "flow_active": c.flow_active,
    }
    try:
        inner = c._thread._ensure_consumer()
        facts["aiokafka_paused"] = tp in inner.paused()
        facts["position"] = inner._subscription.subscription.assignment.state_value(
            tp).position if inner._subscription.subscription else None
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        facts["aiokafka"] = repr(exc)
    return ", ".join(f"{k}={v}" for k, v in facts.items())
