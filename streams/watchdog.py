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
"""

from __future__ import annotations

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

    @app.timer(interval, name="coselling-stall-watchdog")
    async def watch() -> None:
        consumer = app.consumer
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
