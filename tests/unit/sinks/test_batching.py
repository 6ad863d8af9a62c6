"""The sink contract: batches per partition, flush by size or age, keep what failed."""

from __future__ import annotations

import pytest

from schemas.exceptions import RetryableError
from sinks.base import Batch, BatchingSink, Message, Rejected, token_of


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class ScriptedSink(BatchingSink):
    """Records each written batch; fails the partitions listed in ``failing``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.written: list[tuple[str, int, list[int], str]] = []
        self.failing: set[int] = set()

    def write(self, batch: Batch):
        if batch.partition in self.failing:
            raise RetryableError(f"partition {batch.partition} unavailable")
        self.written.append((batch.topic, batch.partition,
                             [m.offset for m in batch.messages], batch.token()))
        bad = [Rejected(m, ValueError("bad")) for m in batch.messages if m.value == b"bad"]
        return len(batch.messages) - len(bad), bad


def msg(partition: int, offset: int, value: bytes = b"{}") -> Message:
    return Message("rows", partition, offset, None, value)


@pytest.fixture
def clock():
    return Clock()


def test_flush_is_due_by_row_count_or_by_age(clock):
    sink = ScriptedSink(max_rows=3, max_age=1.0, clock=clock)
    assert not sink.due()
    sink.add(msg(0, 1))
    sink.add(msg(1, 7))
    assert not sink.due()
    sink.add(msg(0, 2))
    assert sink.due()  # three rows
    sink.flush()
    sink.add(msg(0, 3))
    clock.now += 0.9
    assert not sink.due()
    clock.now += 0.2
    assert sink.due()  # the oldest row waited 1.1 s


def test_flush_writes_one_batch_per_partition_and_returns_next_offsets(clock):
    sink = ScriptedSink(max_rows=10, max_age=1.0, clock=clock)
    for p, o in ((0, 5), (1, 9), (0, 6), (0, 7), (1, 10)):
        sink.add(msg(p, o, b"bad" if (p, o) == (0, 6) else b"{}"))
    result = sink.flush()
    assert sink.written == [("rows", 0, [5, 6, 7], "rows/0:5-7/3"),
                            ("rows", 1, [9, 10], "rows/1:9-10/2")]
    assert result.offsets == {("rows", 0): 8, ("rows", 1): 11}
    assert [r.message.offset for r in result.rejected] == [6]
    assert result.rows == 4 and sink.pending == 0 and not sink.due()


def test_a_retryable_failure_keeps_the_batch_and_reports_earlier_ones_later(clock):
    sink = ScriptedSink(max_rows=10, max_age=1.0, clock=clock)
    sink.add(msg(0, 1))
    sink.add(msg(1, 1))
    sink.failing = {1}
    with pytest.raises(RetryableError):
        sink.flush()
    assert sink.pending == 1  # partition 0 was written and dropped, partition 1 kept
    sink.add(msg(1, 2))
    sink.failing = set()
    result = sink.flush()
    assert result.offsets == {("rows", 0): 2, ("rows", 1): 3}  # partition 0 still reported
    assert sink.written[-1] == ("rows", 1, [1, 2], "rows/1:1-2/2")


def test_revoked_partitions_are_dropped_with_their_offsets(clock):
    sink = ScriptedSink(max_rows=10, max_age=1.0, clock=clock)
    sink.add(msg(0, 1))
    sink.add(msg(1, 1))
    sink.failing = {1}
    with pytest.raises(RetryableError):
        sink.flush()
    sink.add(msg(1, 2))
    sink.drop([("rows", 0), ("rows", 1)])
    assert sink.pending == 0 and not sink.due()
    assert sink.flush().offsets == {}


def test_the_token_names_partition_and_offset_range():
    batch = Batch("t", 3, [msg(3, 10), msg(3, 11), msg(3, 15)])
    assert batch.token() == "t/3:10-15/3"
    assert batch.token(batch.messages[1:]) == "t/3:11-15/2"


def test_a_token_of_several_partitions_joins_each_partition_token_in_partition_order():
    ms = [msg(3, 10), msg(1, 4), msg(3, 11), msg(1, 5), msg(1, 9)]
    assert token_of(ms) == "rows/1:4-9/3;rows/3:10-11/2"
    assert token_of(ms[:1]) == Batch("rows", 3, ms[:1]).token()


class CombiningSink(ScriptedSink):
    """Writes every pending partition in one call; fails while ``down`` is set."""

    combine_batches = True
    down = False

    def write_batches(self, batches):
        if self.down:
            raise RetryableError("unavailable")
        self.written.append([(b.partition, [m.offset for m in b.messages]) for b in batches])
        return sum(len(b.messages) for b in batches), []


def test_a_combining_sink_writes_all_partitions_in_one_call_and_keeps_all_on_failure(clock):
    sink = CombiningSink(max_rows=10, max_age=1.0, clock=clock)
    for m in (msg(1, 7), msg(0, 1), msg(0, 2)):
        sink.add(m)
    sink.down = True
    with pytest.raises(RetryableError):
        sink.flush()
    assert sink.pending == 3  # nothing was written: every partition is still pending
    sink.down = False
    result = sink.flush()
    assert sink.written == [[(0, [1, 2]), (1, [7])]]
    assert result.offsets == {("rows", 0): 3, ("rows", 1): 8} and result.rows == 3
