"""``coselling sink``: the sink topic into ClickHouse, offsets committed after each flush.

A Kafka consumer (its own consumer group, ``<app id>-sink``) reads result rows, batches
them by row count or age, writes each batch with an insert deduplication token made from
its partitions' offset ranges, and commits the offsets only after the write succeeded.
While ClickHouse is unreachable it pauses its partitions and retries with capped backoff:
nothing is dropped and nothing piles up in memory. With chDB (one process per data
folder) run one sink; with a ClickHouse server run as many as there are partitions.

The consumer is aiokafka's (the client the Faust workers run on): kafka-python 3.0's
group coordinator was seen to hang for good in a rebalance right after start-up.
ClickHouse calls run on one dedicated thread so the consumer keeps its group membership
(heartbeats) while a write is slow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from streams.core.companies import ResultChange
from streams.retry import backoff_delays
from streams.settings import Settings

from .clickhouse import ClickHouseWriter, redact
from .exceptions import SinkDataError, SinkUnavailableError

log = logging.getLogger(__name__)


def run_sink(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Consume the sink topic into ClickHouse until ``stop`` is set (or forever)."""
    asyncio.run(_Sink(settings, stop or threading.Event()).run())


class _Revoked(ConsumerRebalanceListener):
    """Drops the pending rows of partitions this sink no longer owns.

    Their new owner reads them again from the last commit; writes are idempotent.
    """

    def __init__(self, sink: _Sink):
        self.sink = sink

    async def on_partitions_revoked(self, revoked):
        gone = set(revoked)
        self.sink.batch = [m for m in self.sink.batch
                           if TopicPartition(m.topic, m.partition) not in gone]

    async def on_partitions_assigned(self, assigned):
        log.info("sink assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class _Sink:
    def __init__(self, settings: Settings, stop: threading.Event):
        self.settings = settings
        self.stop = stop
        self.dsn = settings.clickhouse_dsn.get_secret_value()
        self.batch: list = []
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")

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
        writer = await self._db_call(ClickHouseWriter, self.dsn)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers.split(","),
            group_id=f"{s.app_id}-sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.sink_batch_rows,
        )
        try:
            if not await self._until_ready(lambda: self._db_call(writer.ensure_schema),
                                           SinkUnavailableError,
                                           f"ClickHouse at {redact(self.dsn)}"):
                return
            if not await self._until_ready(consumer.start, KafkaError,
                                           f"Kafka at {s.kafka_bootstrap_servers}"):
                return
            await self._consume(consumer, writer)
        finally:
            await consumer.stop()
            await self._db_call(writer.close)
            self._db.shutdown()

    async def _consume(self, consumer: AIOKafkaConsumer, writer: ClickHouseWriter) -> None:
        s = self.settings
        consumer.subscribe([s.topic_sink], listener=_Revoked(self))
        log.info("sink started: %s -> %s (group %s-sink)", s.topic_sink, redact(self.dsn),
                 s.app_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while not self.stop.is_set():
            room = max(1, s.sink_batch_rows - len(self.batch))
            polled = await consumer.getmany(timeout_ms=200, max_records=room)
            for records in polled.values():
                self.batch.extend(records)
            old = loop.time() - started >= s.sink_batch_seconds
            if self.batch and (len(self.batch) >= s.sink_batch_rows or old):
                await self._flush(consumer, writer)
            if not self.batch:
                started = loop.time()

    async def _flush(self, consumer: AIOKafkaConsumer, writer: ClickHouseWriter) -> None:
        batch = self.batch
        ranges: dict[TopicPartition, tuple[int, int]] = {}
        for m in batch:
            tp = TopicPartition(m.topic, m.partition)
            lo, hi = ranges.get(tp, (m.offset, m.offset))
            ranges[tp] = (min(lo, m.offset), max(hi, m.offset))
        token = ",".join(f"{tp.topic}/{tp.partition}:{lo}-{hi}"
                         for tp, (lo, hi) in sorted(ranges.items()))
        changes = [ResultChange.from_json(json.loads(m.value)) for m in batch]
        paused = False
        try:
            for delay in backoff_delays(cap=30):
                try:
                    await self._db_call(writer.write, changes, token=token)
                    break
                except SinkUnavailableError as exc:
                    log.warning("ClickHouse write failed, retrying in %.1fs: %s", delay, exc)
                    paused = True
                    await self._wait_paused(consumer, delay)
                    if self.stop.is_set():
                        return  # not committed: the batch is written again next time
                except SinkDataError:
                    log.exception("ClickHouse rejected a batch (%s); it is skipped", token)
                    break
            owned = consumer.assignment()
            offsets = {tp: hi + 1 for tp, (_, hi) in ranges.items() if tp in owned}
            try:
                if offsets:
                    await consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # A rebalance took partitions away while writing; their new owner writes
                # the rows again (same keys and versions), so nothing is lost or doubled.
                log.warning("offsets of %s not committed (group rebalanced): %s", token, exc)
            log.info("wrote %d rows, committed %s", len(batch), token)
        finally:
            if paused:
                consumer.resume(*consumer.assignment())
            done = {id(m) for m in batch}
            self.batch = [m for m in self.batch if id(m) not in done]

    async def _wait_paused(self, consumer: AIOKafkaConsumer, seconds: float) -> None:
        """Wait with every partition paused, polling so the group keeps this member.

        Records fetched before the pause took effect (or from partitions assigned
        meanwhile) join the pending rows; none is dropped.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self.stop.is_set() and loop.time() < end:
            consumer.pause(*consumer.assignment())
            polled = await consumer.getmany(timeout_ms=int(min(0.2, end - loop.time()) * 1000))
            for records in polled.values():
                self.batch.extend(records)
