"""When ``coselling sink`` writes: as soon as its input is idle, or at the row limit.

The runner's consume loop is driven by a scripted consumer (what each poll returns) and
a sink that records its writes; no Kafka, no ClickHouse, no clock.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from aiokafka import TopicPartition

from sinks.base import Batch, BatchingSink
from streams.settings import Settings
from streams.sink_runner import _Runner

TP = TopicPartition("sink-rows", 0)


class RecordingSink(BatchingSink):
    """Keeps the offsets of every batch written."""

    def __init__(self, max_rows: int, max_age: float):
        super().__init__(max_rows, max_age)
        self.written: list[list[int]] = []

    def write(self, batch: Batch):
        self.written.append([m.offset for m in batch.messages])
        return len(batch.messages), []

    def take_written_times(self):
        return []


class ScriptedConsumer:
    """Returns the scripted polls in turn, then stops the runner."""

    def __init__(self, runner: _Runner, polls: list[list[int]]):
        self.runner = runner
        self.polls = list(polls)
        self.timeouts: list[int] = []
        self.commits: list[dict[TopicPartition, int]] = []

    def subscribe(self, topics, listener=None):
        pass

    async def getmany(self, timeout_ms: int, max_records: int):
        self.timeouts.append(timeout_ms)
        if not self.polls:
            self.runner.stop.set()
            return {}
        offsets = self.polls.pop(0)
        records = [SimpleNamespace(topic=TP.topic, partition=TP.partition, offset=o,
                                   key=b"k", value=b"{}", timestamp=1_800_000_000_000,
                                   headers=[])
                   for o in offsets]
        return {TP: records} if records else {}

    def assignment(self):
        return {TP}

    async def commit(self, offsets):
        self.commits.append(dict(offsets))


def consume(polls: list[list[int]], *, rows: int = 5000, seconds: float = 3600.0):
    settings = Settings(topic_sink=TP.topic, sink_batch_rows=rows, sink_batch_seconds=seconds)
    runner = _Runner(settings, threading.Event())
    sink = RecordingSink(rows, seconds)
    consumer = ScriptedConsumer(runner, polls)
    try:
        asyncio.run(runner._consume(consumer, None, sink))
    finally:
        runner._db.shutdown()
    return sink, consumer


def test_rows_are_written_once_nothing_more_is_fetched_not_after_the_batch_age():
    sink, consumer = consume([[0, 1], [2], [], [3]])
    assert sink.written == [[0, 1, 2], [3]]
    assert consumer.commits == [{TP: 3}, {TP: 4}]
    # with rows pending the runner only takes what is fetched already
    assert consumer.timeouts[:3] == [200, 0, 0]


def test_a_busy_input_is_written_at_the_row_limit():
    sink, consumer = consume([[0], [1], [2], [3], [4]], rows=2)
    assert sink.written == [[0, 1], [2, 3], [4]]
    assert consumer.commits == [{TP: 2}, {TP: 4}, {TP: 5}]


def test_an_idle_runner_with_nothing_pending_writes_nothing():
    sink, consumer = consume([[], []])
    assert sink.written == []
    assert consumer.commits == []
    assert consumer.timeouts == [200, 200, 200]
