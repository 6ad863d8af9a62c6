"""The loop every agent runs, batch by batch, apart from Faust (see :mod:`streams.app`).

A :class:`Stage` is one agent's part: its pure decision per event, the messages a
decision makes and the table it keeps. :func:`run_batches` takes batches of events and,
per batch: lets the stage decide each event, writes the batch's outboxes, sends its
messages and, when one is due, a checkpoint (see :mod:`streams.outbox`), and only then
marks the events processed, so that their offsets may be committed; that landing of a
batch runs while the next batch is taken and decided. What touches Kafka
and the tables comes in through :class:`BatchIO` (the app's, on Faust: see
:func:`streams.app.create_app`), so the loop runs in a unit test with plain objects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from schemas.exceptions import CosellingError

from . import metrics, outbox
from .faults import Faults
from .faust_state import BatchState
from .outbox import Send

#: How long an agent works on a batch before it lets the other agents of the worker run
#: (and table writes it makes before it does): they share one event loop, and a whole
#: batch of one stage held the others for its duration. By time, not by count: each stage
#: gets its share of the loop whatever its events cost.
TURN_SECONDS = 0.01


class Turns:
    """Lets the other tasks of the event loop run after every :data:`TURN_SECONDS` of work.

    For loops over a whole batch (deciding, emitting, handing messages to the producer):
    without a turn, one of them held every other stage, the fetch loop and the producer's
    acknowledgements for up to 0.8 s under a steady 1,000 events/s.
    """

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since = time.monotonic()

    async def take(self) -> None:
        """Let the others run if this task worked :data:`TURN_SECONDS` since its last turn."""
        if time.monotonic() - self._since >= TURN_SECONDS:
            await asyncio.sleep(0)
            self._since = time.monotonic()


@dataclass(frozen=True, slots=True)
class Stage:
    """One agent's part of the pipeline.

    :param name: the stage's name (metrics, fault points).
    :param what: what its sends are, for the log when they are retried.
    :param decide: the pure decision for one event, given the batch's view of the table
        (None without a table); an exception of a type in ``bad`` dead-letters the event.
    :param emit: the messages one decision makes.
    :param table: the Faust table it keeps, if any.
    :param coalesce: drops the decisions of a batch that later ones supersede.
    :param prepare: awaited before each batch.
    :param on_completed: called when a partition met for the first time had outboxes
        after its checkpoint (they were applied).
    :param source_time: an event's source time (epoch ms; see :mod:`schemas.source_time`),
        None where unknown: the messages its decision makes carry it, and the stage's
        ``coselling_stage_source_age_seconds`` counts from it when its batch lands.
    """

    name: str
    what: str
    decide: Callable[[Any, BatchState | None], Any]
    emit: Callable[[Any, Any], Iterable[Send]]
    table: Any = None
    bad: tuple[type[Exception], ...] = (CosellingError,)
    coalesce: Callable[[list[Any]], list[Any]] | None = None
    prepare: Callable[[], Awaitable[None]] | None = None
    on_completed: Callable[[], None] | None = None
    source_time: Callable[[Any], int | None] | None = None


class BatchConsumer(Protocol):
    """The consumer's part (:class:`~streams.offset_guard.GuardedConsumer`)."""

    def admit(self, events: list[Any]) -> tuple[list[Any], dict[Any, int]]:
        """The events that may be applied now, and partitions to read again from offsets."""

    async def seek(self, partition: Any, offset: int) -> None:
        """Read ``partition`` again from ``offset``."""

    def hold(self, events: Iterable[Any]) -> None:
        """These events are applied; their batch is landing (acknowledge them later)."""

    def mark_processed(self, events: Iterable[Any]) -> None:
        """Let these events' offsets be committed: everything they made landed."""


class BatchIO(Protocol):
    """What the loop does outside the core: Kafka sends and table writes, retried inside."""

    def generation(self) -> Any:
        """The consumer group generation (a rebalance changes it)."""

    def dead(self, event: Any, error: Exception) -> Send:
        """The dead letter of ``event``, which ``error`` kept from being applied."""

    async def deliver(self, sends: list[Send], what: str) -> None:
        """Send ``sends`` and wait until Kafka acknowledged every one."""

    async def complete_partition(self, table: Any, partition: int, event: Any,
                                 what: str) -> tuple[int, bool]:
        """Apply ``partition``'s outboxes after its checkpoint (last seq, found any)."""

    async def write_outboxes(self, state: BatchState, seqs: dict[int, int],
                             sends: list[Send], senders: list[Any], what: str) -> list[int]:
        """Write the outbox of every partition the batch changed; returns them."""

    async def write_checkpoint(self, table: Any, uncovered: dict[str, tuple[Any, Any]],
                               partitions: list[int], seqs: dict[int, int],
                               checkpoints: dict[int, int], what: str, *,
                               fault: str | None = None) -> None:
        """Write the uncovered values of ``partitions``, then their checkpoint keys."""


async def run_batches(stage: Stage, batches: AsyncIterable[list[Any]],
                      consumer: BatchConsumer, io: BatchIO, *, checkpoint_keys: int,
                      faults: Faults | None = None, audit: Any = None) -> None:
    """Run ``stage`` over ``batches`` (lists of Faust events) until they end.

    Per batch: ``prepare``, ``decide`` for each event, ``coalesce``, ``emit``; then (if
    the stage has a table and the batch changed it) the batch's outboxes, then its
    messages and, when one is due, a checkpoint; then the events count as processed.
    Before the first event of a partition it did not have before, the partition's
    outboxes after its checkpoint are applied. ``audit`` (if given) is told what was
    processed (see :mod:`streams.commit_audit`).

    A batch's landing (outboxes, messages, checkpoint: :func:`_land`) runs beside the
    next batch's wait and decisions, which read the batch's writes from its sealed
    state; the next batch lands only after it. So a stage waits for Kafka's
    acknowledgements once per batch at most, not twice, and not while events wait.
    Before a partition is completed or a new consumer generation starts, the batch
    landing is awaited. A landing that fails stops the loop with its error at once, even
    while the loop waits for a batch.
    """
    faults = faults or Faults(None)
    table = stage.table
    completed: set[int] = set()  # partitions completed from their outboxes, ...
    generation = None  # ... since the consumer generation this was
    uncovered: dict[str, tuple[Any, Any]] = {}  # in outboxes, not in a checkpoint yet
    seqs: dict[int, int] = {}  # partition -> its last batch's sequence number
    checkpoints: dict[int, int] = {}  # partition -> the last batch its checkpoint covers
    clock = metrics.StageClock(stage.name)
    landing: _Landing | None = None  # the batch before, landing
    staged: dict[str, tuple[Any, Any]] | None = None  # its writes, sealed
    kept = _Kept(uncovered, seqs, checkpoints, checkpoint_keys)
    try:
        async for events in batches:
            events, seeks = consumer.admit(events)  # nothing applied past a gap
            for tp, offset in seeks.items():
                await consumer.seek(tp, offset)
            clock.lap("waiting")
            if not events:
                continue
            clock.took(len(events))
            if table is not None:
                current = io.generation()
                if landing is not None and (generation != current or any(
                        e.message.partition not in completed for e in events)):
                    await landing.wait(clock)
                    landing, staged = None, None
                if generation != current:
                    generation = current
                    for kept_set in (completed, uncovered, seqs, checkpoints):
                        kept_set.clear()  # the outboxes have it all
                for e in events:
                    p = e.message.partition
                    if p not in completed:
                        completed.add(p)
                        seqs[p], found = await io.complete_partition(table, p, e, stage.what)
                        checkpoints[p] = seqs[p]
                        if found and stage.on_completed is not None:
                            stage.on_completed()
                clock.lap("completing")
            state = BatchState(table, uncovered, staged) if table is not None else None
            if stage.prepare is not None:
                await stage.prepare()
            sends, senders, sources = await _decide(stage, events, state, io)
            sealed = state.seal() if state is not None and state.pending else None
            clock.lap("applying")
            if landing is not None:
                await landing.wait(clock)  # batches land in order
            consumer.hold(events)
            landing = _Landing()
            landing.task = asyncio.ensure_future(_land(
                stage, events, state, sends, senders, sources, kept, consumer, io, faults,
                audit, landing, clock))
            landing.task.add_done_callback(partial(_stop_on_failure, asyncio.current_task()))
            staged = sealed
        if landing is not None:
            await landing.wait(clock)
            landing = None
    except asyncio.CancelledError:
        failed = landing.task if landing is not None else None
        if failed is not None and failed.done() and not failed.cancelled() \
                and failed.exception() is not None:
            raise failed.exception() from None  # cancelled by _stop_on_failure
        raise
    finally:
        if landing is not None and landing.task is not None and not landing.task.done():
            landing.task.cancel()


def _stop_on_failure(loop_task: asyncio.Task[Any] | None, landed: asyncio.Future[None]) -> None:
    """Cancel the batch loop when a landing failed: the loop then raises its error."""
    if loop_task is not None and not landed.cancelled() and landed.exception() is not None:
        loop_task.cancel()


class _Landing:
    """One batch landing: its task, and whether its outbox landed yet."""

    def __init__(self) -> None:
        self.task: asyncio.Future[None] | None = None
        self.outbox_landed = asyncio.Event()

    async def wait(self, clock: metrics.StageClock) -> None:
        """Wait until the batch landed.

        The time goes to the clock's ``outbox`` step while the batch's outbox was being
        written, to ``sending`` after.
        """
        assert self.task is not None
        if not self.outbox_landed.is_set():
            waiter = asyncio.ensure_future(self.outbox_landed.wait())
            try:
                await asyncio.wait({self.task, waiter},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            clock.lap("outbox")
        await self.task
        clock.lap("sending")


@dataclass(slots=True)
class _Kept:
    """What a stage keeps between batches about its outboxes and checkpoints."""

    uncovered: dict[str, tuple[Any, Any]]
    seqs: dict[int, int]
    checkpoints: dict[int, int]
    checkpoint_keys: int


async def _land(stage: Stage, events: list[Any], state: BatchState | None,
                sends: list[Send], senders: list[Any], sources: list[int | None] | None,
                kept: _Kept,
                consumer: BatchConsumer, io: BatchIO, faults: Faults, audit: Any,
                landing: _Landing, clock: metrics.StageClock) -> None:
    """Land one batch: its outboxes, then its messages and any checkpoint due.

    Then its events count as processed, and their ``sources`` (source times) are counted.
    """
    table, uncovered, seqs = stage.table, kept.uncovered, kept.seqs
    started = time.monotonic()
    if state is not None and state.pending:
        # The outbox first: then the messages cannot land without the state they
        # came from (see streams.outbox). Its values are read from ``uncovered``
        # until a checkpoint writes them to the table.
        changed = await io.write_outboxes(state, seqs, sends, senders, stage.what)
        state.keep()
        landing.outbox_landed.set()
        clock.landed("outbox", time.monotonic() - started)
        started = time.monotonic()
        if faults.at(stage.name, "after-outbox"):
            faults.kill(stage.name, "after-outbox")
        if faults.at(stage.name, "after-sends"):
            await io.deliver(sends, stage.what)
            faults.kill(stage.name, "after-sends")
        due = [p for p in changed if outbox.checkpoint_due(seqs[p], kept.checkpoints[p])]
        if len(uncovered) > kept.checkpoint_keys:
            due = sorted({*due, *(e.message.partition for _, e in uncovered.values())})
        fault = stage.name if faults.at(stage.name, "mid-checkpoint") else None
        await asyncio.gather(
            io.deliver(sends, stage.what),
            *([io.write_checkpoint(table, uncovered, due, seqs, kept.checkpoints,
                                   stage.what, fault=fault)] if due else []))
        faults.done(stage.name, checkpoint=bool(due))
    else:
        landing.outbox_landed.set()
        await io.deliver(sends, stage.what)
    clock.landed("sending", time.monotonic() - started)
    consumer.mark_processed(events)
    if sources is not None:
        clock.sourced(sources)
    if audit is not None:
        audit.processed(events)


async def _decide(stage: Stage, events: list[Any], state: BatchState | None,
                  io: BatchIO) -> tuple[list[Send], list[Any], list[int | None] | None]:
    """The batch's sends, for each the event it came from, and each event's source time.

    The source times (None without ``stage.source_time``) are worked out once per event:
    the messages an event makes carry its own, and the landing counts them all.
    Lets the other agents of the event loop run every :data:`TURN_SECONDS`.
    """
    sends: list[Send] = []
    senders: list[Any] = []
    decided: list[tuple[Any, int | None, Any]] = []  # (event, its source time, decision)
    source = stage.source_time
    sources = None if source is None else [source(e) for e in events]
    turns = Turns()
    for e, source_ms in zip(events, sources if sources is not None else [None] * len(events),
                            strict=True):
        await turns.take()  # the other stages share this event loop
        if state is not None:
            state.use_event(e)
        try:
            decided.append((e, source_ms, stage.decide(e, state)))
        except stage.bad as exc:
            sends.append(io.dead(e, exc))
            senders.append(e)
    if stage.coalesce is not None:
        decided = [(e, source_ms, d) for (e, source_ms, _), d in zip(
            decided, stage.coalesce([d for _, _, d in decided]), strict=True)]
    for e, source_ms, decision in decided:
        await turns.take()
        made = list(stage.emit(e, decision))
        if source_ms is not None and made:
            made = _stamped(made, source_ms)
        sends.extend(made)
        senders.extend([e] * len(made))
    return sends, senders, sources


def _stamped(sends: list[Send], source_ms: int) -> list[Send]:
    """``sends`` carrying the source time of the event that made them."""
    return [Send(s.topic, s.key, s.value, s.partition, s.headers, source_ms) for s in sends]
