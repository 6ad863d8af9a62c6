"""``coselling sink``: the sink topic into ClickHouse, offsets committed after each flush.

A plain Kafka consumer (its own consumer group, ``<app id>-sink``) reads result rows,
batches them by row count or age, writes each batch with an insert deduplication token
made from its partitions' offset ranges, and commits the offsets only after the write
succeeded. While ClickHouse is unreachable it retries with capped backoff and does not
consume further. With chDB (one process per data folder) run one sink; with a ClickHouse
server run as many as there are partitions to share.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

from streams.core.companies import ResultChange
from streams.retry import backoff_delays
from streams.settings import Settings

from .clickhouse import ClickHouseWriter, redact
from .exceptions import SinkDataError, SinkUnavailableError

log = logging.getLogger(__name__)


def run_sink(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Consume the sink topic into ClickHouse until ``stop`` is set (or forever)."""
    stop = stop or threading.Event()
    dsn = settings.clickhouse_dsn.get_secret_value()
    writer = ClickHouseWriter(dsn)
    for delay in backoff_delays(cap=10):
        try:
            writer.ensure_schema()
            break
        except SinkUnavailableError as exc:
            log.warning("ClickHouse at %s not ready, retrying in %.1fs: %s", redact(dsn),
                        delay, exc)
            time.sleep(delay)
    consumer = KafkaConsumer(
        settings.topic_sink,
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=f"{settings.app_id}-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.sink_batch_rows,
        max_poll_interval_ms=30 * 60 * 1000,
    )
    batch: list = []
    started = time.monotonic()
    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=200, max_records=settings.sink_batch_rows)
            for records in polled.values():
                batch.extend(records)
            old = batch and time.monotonic() - started >= settings.sink_batch_seconds
            if batch and (len(batch) >= settings.sink_batch_rows or old):
                _flush(consumer, writer, batch, stop)
                batch = []
            if not batch:
                started = time.monotonic()
    finally:
        consumer.close(autocommit=False)
        writer.close()


def _flush(consumer: KafkaConsumer, writer: ClickHouseWriter, batch: list,
           stop: threading.Event) -> None:
    ranges: dict[TopicPartition, tuple[int, int]] = {}
    for m in batch:
        tp = TopicPartition(m.topic, m.partition)
        lo, hi = ranges.get(tp, (m.offset, m.offset))
        ranges[tp] = (min(lo, m.offset), max(hi, m.offset))
    token = ",".join(f"{tp.topic}/{tp.partition}:{lo}-{hi}"
                     for tp, (lo, hi) in sorted(ranges.items()))
    changes = [ResultChange.from_json(json.loads(m.value)) for m in batch]
    for delay in backoff_delays(cap=30):
        try:
            writer.write(changes, token=token)
            break
        except SinkUnavailableError as exc:
            if stop.is_set():
                return  # offsets not committed: the batch is written again next time
            log.warning("ClickHouse write failed, retrying in %.1fs: %s", delay, exc)
            time.sleep(delay)
        except SinkDataError:
            log.exception("ClickHouse rejected a batch (%s); it is skipped", token)
            break
    consumer.commit({tp: OffsetAndMetadata(hi + 1, "", -1) for tp, (_, hi) in ranges.items()})
