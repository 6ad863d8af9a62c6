"""The loop every agent runs, batch by batch, apart from Faust (see :mod:`streams.app`).

A :class:`Stage` is one agent's part: its pure decision per event, the messages a
decision makes and the table it keeps. :func:`run_batches` takes batches of events and,
per batch: lets the stage decide each event, writes the batch's outboxes, sends its
messages and, when one is due, a checkpoint (see :mod:`streams.outbox`), and only then
marks the events processed, so that their offsets may be committed. What touches Kafka
and the tables comes in through :class:`BatchIO` (the app's, on Faust: see
:func:`streams.app.create_app`), so the loop runs in a unit test with plain objects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
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


class BatchConsumer(Protocol):
    """The consumer's part (:class:`~streams.offset_guard.GuardedConsumer`)."""

    def admit(self, events: list[Any]) -> tuple[list[Any], dict[Any, int]]:
        """The events that may be applied now, and partitions to read again from offsets."""

    async def seek(self, partition: Any, offset: int) -> None:
        """Read ``partition`` again from ``offset``."""

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
    """
    faults = faults or Faults(None)
    table = stage.table
    completed: set[int] = set()  # partitions completed from their outboxes, ...
    generation = None  # ... since the consumer generation this was
    uncovered: dict[str, tuple[Any, Any]] = {}  # in outboxes, not in a checkpoint yet
    seqs: dict[int, int] = {}  # partition -> its last batch's sequence number
    checkpoints: dict[int, int] = {}  # partition -> the last batch its checkpoint covers
    clock = metrics.StageClock(stage.name)
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
            if generation != current:
                generation = current
                for kept in (completed, uncovered, seqs, checkpoints):
                    kept.clear()  # the outboxes have it all
            for e in events:
                p = e.message.partition
                if p not in completed:
                    completed.add(p)
                    seqs[p], found = await io.complete_partition(table, p, e, stage.what)
                    checkpoints[p] = seqs[p]
                    if found and stage.on_completed is not None:
                        stage.on_completed()
            clock.lap("completing")
        state = BatchState(table, uncovered) if table is not None else None
        if stage.prepare is not None:
            await stage.prepare()
        sends, senders = await _decide(stage, events, state, io)
        clock.lap("applying")
        if state is not None and state.pending:
            # The outbox first: then the messages cannot land without the state they
            # came from (see streams.outbox). Its values are read from ``uncovered``
            # until a checkpoint writes them to the table.
            changed = await io.write_outboxes(state, seqs, sends, senders, stage.what)
            clock.lap("outbox")
            state.keep()
            if faults.at(stage.name, "after-outbox"):
                faults.kill(stage.name, "after-outbox")
            if faults.at(stage.name, "after-sends"):
                await io.deliver(sends, stage.what)
                faults.kill(stage.name, "after-sends")
            due = [p for p in changed if outbox.checkpoint_due(seqs[p], checkpoints[p])]
            if len(uncovered) > checkpoint_keys:
                due = sorted({*due, *(e.message.partition for _, e in uncovered.values())})
            fault = stage.name if faults.at(stage.name, "mid-checkpoint") else None
            await asyncio.gather(
                io.deliver(sends, stage.what),
                *([io.write_checkpoint(table, uncovered, due, seqs, checkpoints, stage.what,
                                       fault=fault)] if due else []))
            faults.done(stage.name, checkpoint=bool(due))
        else:
            await io.deliver(sends, stage.what)
        clock.lap("sending")
        consumer.mark_processed(events)
        if audit is not None:
            audit.processed(events)


async def _decide(stage: Stage, events: list[Any], state: BatchState | None,
                  io: BatchIO) -> tuple[list[Send], list[Any]]:
    """The batch's sends and, for each, the event it came from.

    Lets the other agents of the event loop run every :data:`TURN_SECONDS`.
    """
    sends: list[Send] = []
    senders: list[Any] = []
    decided: list[tuple[Any, Any]] = []
    turn = time.monotonic()
    for e in events:
        if time.monotonic() - turn >= TURN_SECONDS:
            await asyncio.sleep(0)  # the other stages share this event loop
            turn = time.monotonic()
        if state is not None:
            state.use_event(e)
        try:
            decided.append((e, stage.decide(e, state)))
        except stage.bad as exc:
            sends.append(io.dead(e, exc))
            senders.append(e)
    if stage.coalesce is not None:
        decided = list(zip([e for e, _ in decided],
                           stage.coalesce([d for _, d in decided]), strict=True))
    for e, decision in decided:
        made = list(stage.emit(e, decision))
        sends.extend(made)
        senders.extend([e] * len(made))
    return sends, senders
