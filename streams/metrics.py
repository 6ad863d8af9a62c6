"""Prometheus metrics of the worker and the sink.

The worker serves them at ``/metrics`` on its Faust web port (``COSELLING_WEB_PORT``);
the sink, a separate process, on its own port (``COSELLING_SINK_WEB_PORT``). Labels are
bounded: event types, tenants (tens to hundreds), stages, tables and result kinds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

EVENTS_IN = Counter("coselling_events_in", "Decoded inbound CRM events.",
                    ["event_type", "tenant"])
DECODE_ERRORS = Counter("coselling_decode_errors", "Inbound messages that could not be "
                        "decoded or validated.", ["error"])
DEAD_LETTERED = Counter("coselling_dead_lettered", "Messages sent to the dead-letter topic.",
                        ["stage"])
RESULTS_EMITTED = Counter("coselling_results_emitted", "Result changes sent to the sink "
                          "(overlaps, intros, attributions).", ["kind"])
SINK_ROWS = Counter("coselling_sink_rows_written", "Rows the sink wrote to ClickHouse.")
SINK_BATCH_ROWS = Histogram("coselling_sink_batch_rows", "Messages per sink flush.",
                            buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 50000))
SINK_FLUSH_SECONDS = Histogram("coselling_sink_flush_seconds", "Duration of a sink flush "
                               "(all tables, retries excluded).")
EVENT_TO_CLICKHOUSE = Histogram(
    "coselling_event_to_clickhouse_seconds", "From a row's event time (the CRM change) to "
    "its write into ClickHouse.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400, float("inf")))
INGEST_TO_CLICKHOUSE = Histogram(
    "coselling_ingest_to_clickhouse_seconds", "From a raw event's Kafka timestamp (its "
    "publish) to its crm_events row in ClickHouse.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf")))
#: Buckets of the source-time latencies (see :mod:`schemas.source_time`).
SOURCE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, float("inf"))
RESULT_TO_CLICKHOUSE = Histogram(
    "coselling_result_to_clickhouse_seconds", "From the publish of the CRM change that made "
    "a result row (overlap, intro, attribution: its message's source time) to the row's "
    "write into ClickHouse.", buckets=SOURCE_BUCKETS)
STAGE_SOURCE_AGE = Histogram(
    "coselling_stage_source_age_seconds", "From the publish of the CRM change a stage's "
    "input carries (its source time) to the landing of the batch that applied it "
    "(everything the batch made acknowledged by Kafka).", ["stage"], buckets=SOURCE_BUCKETS)


STAGE_SECONDS = Counter(
    "coselling_stage_seconds", "Wall time of a stage's batch loop, by step: waiting (for "
    "its next batch), completing (a partition's outboxes after a rebalance), applying (the "
    "core's decisions and the messages they make), outbox (until Kafka acknowledged the "
    "batch's outbox), sending (until Kafka acknowledged its messages and any checkpoint). "
    "A batch lands while the next one is taken and decided: outbox and sending count only "
    "the time the loop waited for the batch before to land.",
    ["stage", "step"])
LANDING_SECONDS = Counter(
    "coselling_stage_landing_seconds", "Wall time of a stage's batches landing, beside its "
    "loop, by step: outbox (until Kafka acknowledged a batch's outbox), sending (until Kafka "
    "acknowledged its messages and any checkpoint).", ["stage", "step"])
STAGE_EVENTS = Counter("coselling_stage_events", "Messages a stage took, in batches.",
                       ["stage"])
STAGE_BATCHES = Counter("coselling_stage_batches", "Batches a stage took.", ["stage"])

#: The steps of :data:`STAGE_SECONDS`, in the order a batch goes through them.
STAGE_STEPS = ("waiting", "completing", "applying", "outbox", "sending")
#: The steps of :data:`LANDING_SECONDS`.
LANDING_STEPS = ("outbox", "sending")


class StageClock:
    """Splits one stage's wall time between the steps of its batch loop.

    Each :meth:`lap` charges the time since the previous one (or since the clock was made)
    to a step, so the steps add up to the loop's whole time.
    """

    def __init__(self, stage: str, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._last = clock()
        self._steps = {step: STAGE_SECONDS.labels(stage=stage, step=step)
                       for step in STAGE_STEPS}
        self._landing = {step: LANDING_SECONDS.labels(stage=stage, step=step)
                         for step in LANDING_STEPS}
        self._events = STAGE_EVENTS.labels(stage=stage)
        self._batches = STAGE_BATCHES.labels(stage=stage)
        self._source_age = STAGE_SOURCE_AGE.labels(stage=stage)

    def lap(self, step: str) -> None:
        """Charge the time since the last lap to ``step``."""
        now = self._clock()
        self._steps[step].inc(now - self._last)
        self._last = now

    def landed(self, step: str, seconds: float) -> None:
        """Count ``seconds`` a batch's landing spent on ``step`` (outbox or sending)."""
        self._landing[step].inc(seconds)

    def sourced(self, times_ms: Iterable[int | None]) -> None:
        """Count how long ago (now, wall clock) the inputs of a landed batch were published.

        ``times_ms``: their source times (epoch ms), None where unknown (not counted).
        """
        now = time.time()
        observe = self._source_age.observe
        for t in times_ms:
            if t is not None:
                observe(max(0.0, now - t / 1000))

    def took(self, events: int) -> None:
        """Count a batch of ``events`` messages."""
        self._batches.inc()
        self._events.inc(events)


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
