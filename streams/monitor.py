"""The app's monitor: Faust's, without the per-message figures nobody reads.

Faust calls its app's monitor (a sensor) for every message fetched, every event a stream
takes and lets go, and every message acknowledged; the default :class:`Monitor` counts
each by topic, stream and task, and stamps times on the message and on a fresh dict per
event: 1.7% of the worker's time at 1,000 events/s. Those figures feed Faust's own web
statistics pages, which the worker does not serve; its figures are the Prometheus metrics
of :mod:`streams.metrics`. :class:`WorkerMonitor` keeps what Faust's consumer reads from
its monitor (each partition's last stream activity, for its "slow processing" warnings,
and the committed offsets) and everything not per message (commits, rebalances, sends).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors.monitor import Monitor
from faust.types import TP


class WorkerMonitor(Monitor):
    """Faust's monitor, with its per-message bookkeeping left out (see module doc)."""

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        """A message was fetched: nothing to count."""

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> None:
        """A stream took an event: only when, per partition (Faust's consumer reads it)."""
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        """A stream let an event go: nothing to time."""

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        """A message was acknowledged: nothing to time."""
