"""``init``, ``worker``, ``sink`` and ``status``: running the pipeline."""

from __future__ import annotations

import argparse
import datetime as dt

from rich.table import Table

from .. import logs
from .output import out, progress


def cmd_init(args: argparse.Namespace, settings) -> int:
    """Create topics, register schemas (with a registry), apply ClickHouse migrations."""
    from schemas.catalog import default_catalog
    from sinks.clickhouse import ClickHouseWriter, redact

    from ..topics import ensure_topics, topic_specs

    steps = 1 + (1 if settings.registry else 0) + (0 if args.skip_clickhouse else 1)
    with progress("init", steps, "steps") as advance:
        created = ensure_topics(settings)
        advance()
        registered = []
        if settings.registry:
            for event_type in default_catalog().event_types:
                schema = default_catalog().current(event_type)
                settings.registry.register(schema.full_name, schema.text)
                registered.append(schema.full_name)
            advance()
        applied = None
        if not args.skip_clickhouse:
            dsn = settings.clickhouse_dsn.get_secret_value()
            writer = ClickHouseWriter(dsn, settings.clickhouse_target())
            try:
                applied = writer.migrate(ttl_days=settings.crm_events_ttl_days)
            finally:
                writer.close()
            advance()
    specs = topic_specs(settings)
    out.print(f"Kafka {settings.kafka_bootstrap_servers}: {len(specs)} topics "
              f"({len(created)} created, {len(specs) - len(created)} already there), "
              f"{settings.topic_partitions} partitions, replication "
              f"{settings.topic_replication}", markup=False)
    if registered:
        out.print(f"schema registry: {len(registered)} schemas registered", markup=False)
    if applied is not None:
        out.print(f"ClickHouse {redact(settings.clickhouse_dsn.get_secret_value())}: "
                  f"{len(applied.applied)} migrations applied, {len(applied.already)} "
                  "already applied", markup=False)
    return 0


def cmd_worker(args: argparse.Namespace, settings) -> int:
    """Run a stream worker until stopped."""
    from ..worker import run_worker

    run_worker(settings, loglevel=args.loglevel)
    return 0


def cmd_sink(args: argparse.Namespace, settings) -> int:
    """Consume result rows into ClickHouse until stopped."""
    import signal
    import threading

    from ..sink_runner import run_sink

    logs.configure(args.loglevel, settings.log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_sink(settings, stop=stop)
    return 0


def cmd_status(args: argparse.Namespace, settings) -> int:
    """Consumer lag per topic and partition, last event times, sink backlog."""
    from ..lag import ensure_reachable, group_lag, last_message_times
    from ..topics import consumer_groups

    ensure_reachable(settings.kafka_bootstrap_servers)
    groups = consumer_groups(settings)
    lags = {g: group_lag(settings.kafka_bootstrap_servers, g, topics)
            for g, topics in groups.items()}
    last = last_message_times(settings.kafka_bootstrap_servers, settings.topic_inbound)
    table = Table(title=f"Consumer lag ({settings.kafka_bootstrap_servers})")
    for name, justify in (("group", "left"), ("topic", "left"), ("partition", "right"),
                          ("committed", "right"), ("end", "right"), ("lag", "right")):
        table.add_column(name, justify=justify)
    for group, rows in lags.items():
        for row in rows:
            if row.end == 0 and not args.all:
                continue
            table.add_row(group, row.topic, str(row.partition),
                          "-" if row.committed is None else str(row.committed), str(row.end),
                          str(row.lag))
    out.print(table)
    worker_lag = sum(r.lag for r in lags[settings.app_id])
    sink_lag = sum(r.lag for r in lags[f"{settings.app_id}-sink"])
    newest = max(last.values(), default=None)
    out.print(f"workers: {worker_lag} messages behind; sink backlog: {sink_lag} messages "
              "not yet in ClickHouse", markup=False)
    out.print("last inbound event published: " + (_ago(newest) if newest else "none yet"),
              markup=False)
    if not args.no_clickhouse:
        out.print("last event in ClickHouse: " + _clickhouse_last(settings), markup=False)
    return 0


def _ago(when: dt.datetime) -> str:
    seconds = (dt.datetime.now(dt.UTC) - when).total_seconds()
    return f"{when:%Y-%m-%d %H:%M:%S} UTC ({seconds:,.0f}s ago)"


def _clickhouse_last(settings) -> str:
    from sinks.clickhouse import ClickHouseWriter
    from sinks.exceptions import SinkConfigError, SinkUnavailableError

    dsn = settings.clickhouse_dsn.get_secret_value()
    try:
        writer = ClickHouseWriter(dsn, settings.clickhouse_target(), create=False)
        try:
            [(event_time, ingest_time, rows)] = writer.query(
                "SELECT max(event_time), max(ingest_time), count() FROM crm_events")
        finally:
            writer.close()
    except (SinkUnavailableError, SinkConfigError) as exc:
        return f"not readable: {str(exc).splitlines()[0][:300]}"
    if not rows:
        return "none yet"
    return f"event time {_ago(event_time)}, ingested {_ago(ingest_time)}; {rows} raw events"
