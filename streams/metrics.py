"""Prometheus metrics of the worker and the sink.

The worker serves them at ``/metrics`` on its Faust web port (``COSELLING_WEB_PORT``);
the sink, a separate process, on its own port (``COSELLING_SINK_WEB_PORT``). Labels are
bounded: event types, tenants (tens to hundreds), stages, tables and result kinds.
"""

from __future__ import annotations

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


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
