"""``coselling sink``: Kafka into ClickHouse, offsets committed after each flush.

A Kafka consumer (its own consumer group, ``<app id>-sink``) reads the sink topic (rows
the workers derive), the inbound and control topics (the raw event log, ``crm_events``)
and the intro and attribution topics (their result rows); :mod:`streams.sink_inputs` says
what each message becomes. It hands every message to a
:class:`~sinks.clickhouse.ClickHouseSink`, which batches per partition. It writes as soon
as its input is idle (nothing more already fetched), so a quiet pipeline's rows land
without a fixed wait and a busy one's batches grow while a write runs; a batch is also
written at ``COSELLING_SINK_BATCH_ROWS`` rows or ``COSELLING_SINK_BATCH_SECONDS`` age.
Only after a flush succeeded (and the messages it rejected as bad data are acknowledged
on the dead-letter topic) are the offsets committed. While ClickHouse is
unreachable or answers with a retryable error, the runner pauses its partitions and
retries with capped exponential backoff: nothing is dropped and nothing piles up in
memory. At start it applies pending migrations. With chDB (one process per data folder)
run one sink; with a ClickHouse server run as many as there are partitions.

The consumer is aiokafka's (the client the Faust workers run on): kafka-python 3.0's
group coordinator was seen to hang for good in a rebalance right after start-up.
ClickHouse calls run on one dedicated thread so the consumer keeps its group membership
(heartbeats) while a write is slow.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from sinks.base import Message, Rejected
from sinks.clickhouse import ClickHouseSink, ClickHouseWriter, redact
from sinks.exceptions import SinkUnavailableError

from . import metrics
from .deadletter import dead_letter_headers
from .retry import backoff_delays, retry_async
from .settings import Settings
from .sink_inputs import SinkInputs
from .topics import sink_topics

log = logging.getLogger(__name__)


def run_sink(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Consume the sink's topics into ClickHouse until ``stop`` is set (or forever).

    Serves Prometheus metrics on ``COSELLING_SINK_WEB_PORT`` (0: none).
    """
    if settings.sink_web_port:
        from prometheus_client import start_http_server

        start_http_server(settings.sink_web_port, addr=settings.web_host)
    asyncio.run(_Runner(settings, stop or threading.Event()).run())


class _Revoked(ConsumerRebalanceListener):
    """Drops the pending rows of partitions this sink no longer owns.

    Their new owner reads them again from the last commit; writes are idempotent.
    """

    def __init__(self, runner: _Runner, sink: ClickHouseSink):
        self.runner = runner
        self.sink = sink

    async def on_partitions_revoked(self, revoked):
        self.runner.revoke(self.sink, {(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned):
        log.info("sink assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class _Runner:
    def __init__(self, settings: Settings, stop: threading.Event):
        self.settings = settings
        self.stop = stop
        self.dsn = settings.clickhouse_dsn.get_secret_value()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        # A rebalance can revoke partitions while a flush runs on the ClickHouse thread;
        # their rows are dropped once it returned (the commit skips them anyway).
        self._flushing = False
        self._revoked: set[tuple[str, int]] = set()

    def revoke(self, sink: ClickHouseSink, partitions: set[tuple[str, int]]) -> None:
        """Forget revoked partitions' pending rows now, or right after a running flush."""
        self._revoked |= partitions
        if not self._flushing:
            sink.drop(self._revoked)
            self._revoked = set()

    async def _db_call(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when asked to stop."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self.stop.is_set() and loop.time() < end:
            await asyncio.sleep(min(0.2, end - loop.time()))

    async def _until_ready(self, attempt, errors: type[Exception], what: str) -> bool:
        """Await ``attempt()`` until it succeeds (True) or the sink is stopped (False)."""
        for delay in backoff_delays(cap=10):
            try:
                await attempt()
                return True
            except errors as exc:
                log.warning("%s not ready, retrying in %.1fs: %s", what, delay, exc)
                await self._sleep(delay)
                if self.stop.is_set():
                    return False
        raise AssertionError("unreachable")  # pragma: no cover

    async def run(self) -> None:
        s = self.settings
        writer = await self._db_call(ClickHouseWriter, self.dsn, s.clickhouse_target())
        sink = ClickHouseSink(writer, s.sink_batch_rows, s.sink_batch_seconds,
                              read=SinkInputs(s.codec(), s.event_validator, s))
        servers = s.kafka_bootstrap_servers.split(",")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=servers,
            group_id=f"{s.app_id}-sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.sink_batch_rows,
            session_timeout_ms=int(s.kafka_session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(s.kafka_session_timeout_seconds * 100),
        )
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
        try:
            migrate = partial(self._db_call, writer.migrate, ttl_days=s.crm_events_ttl_days)
            if not await self._until_ready(migrate, SinkUnavailableError,
                                           f"ClickHouse at {redact(self.dsn)}"):
                return
            for client, what in ((consumer, "consumer"), (producer, "producer")):
                if not await self._until_ready(client.start, KafkaError,
                                               f"Kafka {what} at {s.kafka_bootstrap_servers}"):
                    return
            await self._consume(consumer, producer, sink)
        finally:
            await consumer.stop()
            await producer.stop()
            await self._db_call(writer.close)
            self._db.shutdown()

    async def _consume(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                       sink: ClickHouseSink) -> None:
        s = self.settings
        topics = sink_topics(s)
        consumer.subscribe(topics, listener=_Revoked(self, sink))
        log.info("sink started: %s -> %s (group %s-sink)", ", ".join(topics),
                 redact(self.dsn), s.app_id)
        while not self.stop.is_set():
            room = max(1, s.sink_batch_rows - sink.pending)
            # With rows pending, take only what is fetched already: when nothing is, the
            # input is idle and the rows are written now rather than after a fixed wait.
            polled = await consumer.getmany(timeout_ms=0 if sink.pending else 200,
                                            max_records=room)
            idle = not any(polled.values())
            _add_all(sink, polled)
            if sink.due() or (idle and sink.pending):
                await self._flush(consumer, producer, sink)

    async def _flush(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                     sink: ClickHouseSink) -> None:
        paused = False
        try:
            for delay in backoff_delays(cap=30):
                try:
                    self._flushing = True
                    batch_rows = sink.pending
                    started = time.perf_counter()
                    try:
                        result = await self._db_call(sink.flush)
                    finally:
                        self._flushing = False
                        self.revoke(sink, set())
                    metrics.SINK_FLUSH_SECONDS.observe(time.perf_counter() - started)
                    metrics.SINK_BATCH_ROWS.observe(batch_rows)
                    metrics.SINK_ROWS.inc(result.rows)
                    _observe_latency(sink.take_written_times())
                    break
                except SinkUnavailableError as exc:
                    log.warning("ClickHouse write failed, consumption paused, retrying in "
                                "%.1fs: %s", delay, exc)
                    paused = True
                    await self._wait_paused(consumer, sink, delay)
                    if self.stop.is_set():
                        return  # not committed: written again after the restart
            if result.rejected and not await self._dead_letter(producer, result.rejected):
                return  # stopped before the dead letters were acknowledged: not committed
            owned = consumer.assignment()
            offsets = {tp: o for (t, p), o in result.offsets.items()
                       if (tp := TopicPartition(t, p)) in owned}
            try:
                if offsets:
                    await consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # A rebalance took partitions away while writing; their new owner writes
                # the rows again (same keys and versions), so nothing is lost or doubled.
                log.warning("offsets not committed (group rebalanced): %s", exc)
            log.info("wrote %d rows, committed %s", result.rows,
                     ", ".join(f"{tp.topic}[{tp.partition}]@{o}"
                               for tp, o in sorted(offsets.items())))
        finally:
            if paused:
                consumer.resume(*consumer.assignment())

    async def _dead_letter(self, producer: AIOKafkaProducer, rejected: list[Rejected]) -> bool:
        """Send rejected messages to the dead-letter topic; True once all are acknowledged."""
        topic = self.settings.topic_dead_letter
        metrics.DEAD_LETTERED.labels(stage="sink").inc(len(rejected))
        for r in rejected:
            m = r.message
            log.warning("dead-lettering %s[%d]@%d: %s", m.topic, m.partition, m.offset, r.error)

        async def send_all():
            futures = [await producer.send(
                topic, value=r.message.value or b"", key=r.message.key,
                headers=list(dead_letter_headers(
                    r.error, topic=r.message.topic, partition=r.message.partition,
                    offset=r.message.offset)))
                for r in rejected]
            await asyncio.gather(*futures)

        try:
            await retry_async(send_all, what="sink: dead-lettering rejected rows",
                              retry_on=(KafkaError,), should_stop=self.stop.is_set)
        except KafkaError:
            return False
        return True

    async def _wait_paused(self, consumer: AIOKafkaConsumer, sink: ClickHouseSink,
                           seconds: float) -> None:
        """Wait with every partition paused, polling so the group keeps this member.

        Records fetched before the pause took effect (or from partitions assigned
        meanwhile) join the pending rows; none is dropped.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self.stop.is_set() and loop.time() < end:
            consumer.pause(*consumer.assignment())
            polled = await consumer.getmany(timeout_ms=int(min(0.2, end - loop.time()) * 1000))
            _add_all(sink, polled)


def _observe_latency(times: list[tuple[int, int | None, int | None]]) -> None:
    """Event-, ingest- and result-to-ClickHouse latency of rows just written."""
    now = time.time()
    for event_ms, ingest_ms, source_ms in times:
        metrics.EVENT_TO_CLICKHOUSE.observe(max(0.0, now - event_ms / 1000))
        if ingest_ms is not None:
            metrics.INGEST_TO_CLICKHOUSE.observe(max(0.0, now - ingest_ms / 1000))
        if source_ms is not None:
            metrics.RESULT_TO_CLICKHOUSE.observe(max(0.0, now - source_ms / 1000))


def _add_all(sink: ClickHouseSink, polled) -> None:
    for records in polled.values():
        for r in records:
            sink.add(Message(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp,
                             tuple(r.headers or ())))
