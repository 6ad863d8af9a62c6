"""The sink contract: ``add`` messages, ``flush`` them, then commit what was flushed.

:class:`BatchingSink` keeps one batch per Kafka (topic, partition) and asks subclasses
only to ``write(batch)``. ``flush`` writes every pending batch (one at a time, or
all in one call to ``write_batches`` when the subclass sets ``combine_batches``) and
returns the offsets that are now safe to commit and the messages that must go to the
dead-letter topic. A retryable failure (:class:`~schemas.exceptions.RetryableError`)
propagates and leaves the failed batch and every later one pending, to be flushed again;
a batch is dropped only once it was written (or its partition was revoked). No I/O here:
the runner consumes and commits, the subclass writes.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from schemas.raw_message import RawMessage

#: One consumed Kafka message (the same shape the accounts stage triages).
Message = RawMessage


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message the sink cannot write, and why (it goes to the dead-letter topic)."""

    message: Message
    error: Exception


@dataclass
class Batch:
    """Pending messages of one partition, in offset order."""

    topic: str
    partition: int
    messages: list[Message] = field(default_factory=list)

    @property
    def first_offset(self) -> int:
        """Offset of the first pending message."""
        return self.messages[0].offset

    @property
    def last_offset(self) -> int:
        """Offset of the last pending message."""
        return self.messages[-1].offset

    def token(self, messages: list[Message] | None = None) -> str:
        """Insert deduplication token of ``messages`` (default: the whole batch).

        Derived from the partition and offset range (plus the count, for a part of a batch
        after rejected messages were taken out), so the same messages written again after
        a crash carry the same token and ClickHouse drops the repeated insert.
        """
        ms = self.messages if messages is None else messages
        return f"{self.topic}/{self.partition}:{ms[0].offset}-{ms[-1].offset}/{len(ms)}"


def token_of(messages: list[Message]) -> str:
    """Insert deduplication token of ``messages`` of one or more partitions.

    :meth:`Batch.token` of each partition's messages (in offset order), joined in
    partition order; for one partition, the same as that batch's token.
    """
    parts: dict[tuple[str, int], list[Message]] = {}
    for m in messages:
        parts.setdefault((m.topic, m.partition), []).append(m)
    return ";".join(Batch(t, p, ms).token() for (t, p), ms in sorted(parts.items()))


@dataclass(frozen=True)
class FlushResult:
    """What a flush achieved: offsets to commit (next offset per partition), rejects."""

    offsets: dict[tuple[str, int], int]
    rejected: list[Rejected]
    rows: int


class Sink(abc.ABC):
    """Where consumed messages go. Commit offsets only after :meth:`flush` returned."""

    @abc.abstractmethod
    def add(self, message: Message) -> None:
        """Take one message (it is written at the next flush)."""

    @abc.abstractmethod
    def flush(self) -> FlushResult:
        """Write everything added so far."""


class BatchingSink(Sink):
    """Batches per partition; a flush is due at ``max_rows`` or ``max_age`` (:meth:`due`).

    :param max_rows: flush at this many pending messages.
    :param max_age: ...or when the oldest pending message waited this long (seconds).
    :param clock: monotonic clock (tests pass their own).
    """

    #: Write every pending batch in one :meth:`write_batches` call (a subclass whose
    #: writes cost per call, not per row, sets it) instead of one :meth:`write` each.
    combine_batches = False

    def __init__(self, max_rows: int, max_age: float,
                 clock: Callable[[], float] = time.monotonic):
        self.max_rows = max_rows
        self.max_age = max_age
        self._clock = clock
        self._batches: dict[tuple[str, int], Batch] = {}
        self._since: float | None = None
        # Written by an earlier flush that then failed on a later batch: reported (and
        # committed) with the next successful flush.
        self._offsets: dict[tuple[str, int], int] = {}
        self._rejected: list[Rejected] = []
        self._rows = 0

    @property
    def pending(self) -> int:
        """Messages added and not yet written."""
        return sum(len(b.messages) for b in self._batches.values())

    def add(self, message: Message) -> None:
        """Append to the message's partition batch."""
        tp = (message.topic, message.partition)
        batch = self._batches.get(tp)
        if batch is None:
            batch = self._batches[tp] = Batch(message.topic, message.partition)
        batch.messages.append(message)
        if self._since is None:
            self._since = self._clock()

    def due(self) -> bool:
        """True when a flush is due (enough rows, or the oldest waited long enough)."""
        if self._since is None:
            return False
        return self.pending >= self.max_rows or self._clock() - self._since >= self.max_age

    def drop(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Forget pending messages of partitions this consumer no longer owns."""
        gone = set(partitions)
        for tp in gone:
            self._batches.pop(tp, None)
            self._offsets.pop(tp, None)
        self._rejected = [r for r in self._rejected
                          if (r.message.topic, r.message.partition) not in gone]
        if not self._batches:
            self._since = None

    def flush(self) -> FlushResult:
        """Write every batch in turn (or all at once); each is dropped once written."""
        pending = [self._batches[tp] for tp in sorted(self._batches)]
        groups = [pending] if self.combine_batches and pending else [[b] for b in pending]
        for group in groups:
            written, bad = (self.write_batches(group) if self.combine_batches
                            else self.write(group[0]))
            self._rows += written
            self._rejected.extend(bad)
            for batch in group:
                tp = (batch.topic, batch.partition)
                self._offsets[tp] = batch.last_offset + 1
                del self._batches[tp]
        result = FlushResult(self._offsets, self._rejected, self._rows)
        self._offsets, self._rejected, self._rows = {}, [], 0
        self._since = None
        return result

    @abc.abstractmethod
    def write(self, batch: Batch) -> tuple[int, list[Rejected]]:
        """Write ``batch`` idempotently; return rows written and messages rejected.

        Raise a retryable error to have the batch kept and flushed again later.
        """

    def write_batches(self, batches: list[Batch]) -> tuple[int, list[Rejected]]:
        """Write ``batches`` (of different partitions) together, when ``combine_batches``.

        As :meth:`write`; a retryable error keeps all of them pending.
        """
        raise NotImplementedError
