"""Stops Faust from committing offsets of messages no agent processed.

Three paths in faust-streaming (0.15) count a message as processed although no agent saw
it, so its offset gets committed and a crash or rebalance loses it for good. The SIGKILL
test (tests/integration/test_crash_recovery.py) lost inbound events through all three:

1. **Gaps.** When a fetched message's offset is more than one past the last one read,
   ``Consumer._add_gap`` records the offsets in between and ``_new_offset`` later counts
   them as acknowledged. Meant for holes left by compaction or transaction markers, it also
   fires when a message fetched before a rebalance's seek arrives after it (seen: "fetched
   offset 114 right after 6"), and 107 never-processed offsets became committable.
2. **Skipped messages.** A message the stream skips (fetched in an earlier consumer
   generation, or delivered while flow control is paused for a rebalance or recovery) is
   acknowledged anyway, in the stream's ``finally`` (``faust/streams.py`` ``_py_aiter``; the
   same in the Cython stream). It never reached an agent, but its offset is committed.
3. **One missing message at the head.** ``Consumer._new_offset`` refuses to commit when
   the lowest acknowledged offset is more than one past the committed offset, but the
   committed offset is already the *next* offset to read, so exactly one unprocessed
   message right after it is committed anyway (an off-by-one). Seen: ingest processed
   offsets ..128 and 130..156 of a partition, committed 129, then 157; event 129 was lost.

The pipeline's source topics have no holes (none is compacted, see ``streams.topics``, and
nothing is written transactionally), so a gap is never legitimate: gaps are not recorded.
And every agent here runs :func:`streams.app.create_app`'s batch loop, which calls
:meth:`GuardedConsumer.mark_processed` for the events of a batch once everything the batch
produced was acknowledged by Kafka; an acknowledgement of any other message is refused. A
new commit must start exactly at the committed offset; where Faust keeps none (nothing
committed yet, or offset 0, which Faust stores as None) it must start at the partition's
log start offset, read after every rebalance's seek. The commit then waits at the first
message not processed; the rebalance's own seek (or else the stall watchdog,
``streams.watchdog``) reads it again, and the agents are idempotent, so a message processed
twice costs only time.

4. **Forgotten before the final commit.** On a revocation Faust's
   ``Consumer.on_partitions_revoked`` drops the revoked partitions' acknowledged and
   committed offsets, then runs the app's revoke handler, which waits for the agents and
   makes the partitions' final commit. That commit ran without the committed offset, so
   the rule above could not hold it back. Here the partitions are forgotten only after
   the handler (and its commit) finished.

5. **A seek from the wrong thread.** Faust's aiokafka consumer runs the aiokafka client
   on a thread of its own, but its ``Consumer.seek`` (which the stall watchdog,
   ``streams.watchdog``, uses to read a partition again) called aiokafka's ``seek`` from
   the app's event loop, changing the fetcher's state while that thread was draining it.
   Seen in the chaos test (tests/integration/test_chaos.py): the fetcher crashed with a
   ``KeyError`` in aiokafka's ``fetched_records`` and took the worker down; and records
   fetched before the seek were returned after it, moving the position past the offset
   sought, so the message at the committed offset was never read again and the partition
   stalled for good. Here the seek runs on the consumer's thread, between two fetches.

6. **Applied past a gap.** Holding the commit back (1-3) keeps a skipped message from
   being lost, but it did not keep the agents from applying the messages after it first.
   Seen in the chaos test: after a rebalance and a broker restart a worker applied
   by-company offsets 351-489, then 588-829 (records fetched before the recovery's seek),
   and only later, read again from the committed offset, 490-587. The state had moved on,
   so an account snapshot at 499 came stale; the results a killed worker had sent for it
   (sent, but its state not yet written) were never derived again, and never retracted.
   Results are made good by applying the same messages in the same order again, so
   :meth:`GuardedConsumer.admit` lets an agent apply a partition's messages only from the
   next offset on (the committed offset after an assignment, the log start without one):
   a message past a gap is set aside unprocessed, and the partition is read again from
   the gap.

How it is hooked in: :class:`GuardedConsumer` subclasses the consumer of Faust's aiokafka
driver and :class:`GuardedTransport` ships it, registered in Faust's transport registry
under the URL scheme :data:`SCHEME`; :func:`streams.app.broker_urls` gives the app broker
URLs with that scheme. Faust's own classes are left as they are, and the state the guard
keeps belongs to the consumer instance.

The same subclass also hands fetched messages to the streams faster than Faust's own
loop (:meth:`GuardedConsumer._drain_messages`): Faust waits for each delivery through
four new tasks, which made the stages wait for batches while events sat in Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING, CONSUMER_PARTITIONS_REVOKED
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, AppT, Message
from faust.utils.tracing import traced_from_parent_span
from mode import Service

from .exceptions import StreamConfigError

log = logging.getLogger(__name__)

#: The faust-streaming releases the guard was written for and tested with (the package
#: pins the same); any other one is refused, since the private methods it overrides may
#: have changed.
TESTED_FAUST_VERSIONS = ("0.15.3",)

#: The broker URL scheme under which :class:`GuardedTransport` is registered with Faust.
SCHEME = "coselling"
#: Seconds before a partition set aside past a gap is sought back to the gap again (records
#: fetched before the first seek can still arrive after it and move Faust's read offset).
SEEK_AGAIN_SECONDS = 1.0


def check_faust_version(version: str | None = None) -> None:
    """Raise :class:`StreamConfigError` unless the installed Faust is a tested release."""
    version = version or faust.__version__
    if version not in TESTED_FAUST_VERSIONS:
        raise StreamConfigError(
            f"faust-streaming {version} is installed, but the worker's offset handling was "
            f"tested with {', '.join(TESTED_FAUST_VERSIONS)} only; install "
            f"faust-streaming=={TESTED_FAUST_VERSIONS[-1]} (pip install . does)")


#: Messages the fetch loop hands to the streams before it lets other tasks run (Faust's 100).
DRAIN_YIELD_EVERY = 100


class GuardedConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, committing only offsets of events an agent processed.

    It also delivers fetched messages to the streams many per turn of the event loop
    (:meth:`_drain_messages`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: (partition, offset) of events processed and not yet acknowledged to Faust.
        self._processed: set[tuple[TP, int]] = set()
        #: (partition, offset) -> batches holding that event while their outboxes and
        #: messages land (see :meth:`hold`).
        self._held: dict[tuple[TP, int], int] = {}
        #: Held events Faust acknowledged before they were processed: acknowledged
        #: once they are.
        self._parked: dict[tuple[TP, int], list[Message]] = {}
        #: Log start offsets of assigned partitions without a committed offset.
        self._log_start: dict[TP, int] = {}
        #: Per partition, the next offset an agent may apply (fault 6; see :meth:`admit`).
        self._next: dict[TP, int] = {}
        #: Partitions sought back to a gap: (offset, monotonic time of the seek).
        self._sought: dict[TP, tuple[int, float]] = {}
        super().__init__(*args, **kwargs)

    def admit(self, events: list[Any]) -> tuple[list[Any], dict[TP, int]]:
        """The events an agent may apply now, and the partitions to read again (fault 6).

        A partition's events are admitted in order from its next offset on (re-reads of
        earlier ones too: applying them again changes nothing); from the first one past
        that offset on, its events in ``events`` are set aside, not processed. Returned
        with them: partition -> offset to seek to (not again within
        :data:`SEEK_AGAIN_SECONDS` of an earlier seek there).
        """
        admitted: list[Any] = []
        behind: dict[TP, int] = {}
        for e in events:
            tp, offset = e.message.tp, e.message.offset
            if tp in behind:
                continue
            expected = self._next.get(tp, self._start(tp))
            if expected is not None and offset > expected:
                behind[tp] = expected
                continue
            admitted.append(e)
            if expected is None or offset >= expected:
                self._next[tp] = offset + 1
                self._sought.pop(tp, None)
        now = time.monotonic()
        seeks = {tp: offset for tp, offset in behind.items()
                 if self._sought.get(tp, (None, 0.0))[0] != offset
                 or now - self._sought[tp][1] >= SEEK_AGAIN_SECONDS}
        for tp, offset in seeks.items():
            self._sought[tp] = (offset, now)
            log.info("%s[%d]: offset %d is not processed yet; setting aside what came after "
                     "it and reading the partition again from there", tp.topic, tp.partition,
                     offset)
        return admitted, seeks

    def _start(self, tp: TP) -> int | None:
        """Where an assigned partition's processing starts: committed offset, else log start."""
        committed = self._committed_offset.get(tp)
        return committed if committed is not None else self._log_start.get(tp)

    def hold(self, events: Iterable[Any]) -> None:
        """These events are applied and their batch is landing: acknowledge them later.

        The batch loop takes the next batch while a batch's outboxes and messages are
        still being written, and Faust's stream acknowledges a batch's events when the
        next one is taken. An acknowledgement of a held event waits (the message stays
        unacknowledged, so its offset is not committed and a revocation waits for it)
        until :meth:`mark_processed`.
        """
        held = self._held
        for e in events:
            key = (e.message.tp, e.message.offset)
            held[key] = held.get(key, 0) + 1

    def mark_processed(self, events: Iterable[Any]) -> None:
        """Let Faust acknowledge these events: an agent has fully processed them."""
        held, parked = self._held, self._parked
        for e in events:
            key = (e.message.tp, e.message.offset)
            count = held.pop(key, 0)
            if count > 1:
                held[key] = count - 1
            waiting = parked.get(key)
            if waiting:
                message = waiting.pop(0)
                if not waiting:
                    del parked[key]
                if super().ack(message):  # the stream's acknowledgement, done now
                    self.app.sensors.on_message_out(message.tp, message.offset, message)
            else:
                self._processed.add(key)

    def ack(self, message: Message) -> bool:
        """Acknowledge ``message`` only if an agent processed it (fault 2)."""
        key = (message.tp, message.offset)
        if key in self._processed:
            self._processed.discard(key)
            return super().ack(message)
        if key in self._held and len(self._parked.get(key, ())) < self._held[key]:
            self._parked.setdefault(key, []).append(message)  # acknowledged once processed
            return False
        if not message.acked:
            message.acked = True  # this Message object is done; a re-read is a new one
            self._unacked_messages.discard(message)
            log.debug("not acknowledging %s[%d]@%d: no agent processed it", message.topic,
                      message.partition, message.offset)
        return False

    async def _drain_messages(self, fetcher: Any) -> None:
        """Hand fetched messages to the agents' streams, many per event loop turn.

        Faust's loop waits for each message's delivery with ``wait_first`` (four tasks
        per message), so it delivers about one message per turn of the event loop, and a
        turn lasts as long as the agent that holds it. Here a delivery that does not have
        to wait (the stream's buffer has room) completes in place; only while Faust
        suspends the flow (a rebalance) does a delivery race the suspension as Faust's does.
        """
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                ait = self.getmany(timeout=1.0)
                await asyncio.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in ait:
                    since_yield += 1
                    if since_yield > DRAIN_YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if suspended():
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:
                            await callback(message)
                        set_read_offset(tp, offset)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Record nothing: a forward jump is never a gap on these topics (fault 1)."""
        log.info("%s[%d]: fetched offset %d right after %d; the offsets in between are not "
                 "counted as processed", tp.topic, tp.partition, offset_to, offset_from - 1)

    def _new_offset(self, tp: TP) -> int | None:
        """Commit nothing until the event at the committed offset is processed (fault 3)."""
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        start = committed if committed is not None else self._log_start.get(tp)
        if acked and start is not None and min(acked) > start:
            return None  # the message at the committed offset is not processed yet
        return super()._new_offset(tp)

    async def perform_seek(self) -> None:
        """Seek as Faust does, then note where partitions without a commit start."""
        await super().perform_seek()
        for tp in self.assignment():  # processing starts again at the committed offsets
            self._next.pop(tp, None)
            self._sought.pop(tp, None)
        unknown = [tp for tp in self.assignment() if self._committed_offset.get(tp) is None]
        if unknown:
            self._log_start.update(await self.earliest_offsets(*unknown))

    async def _seek(self, partition: TP, offset: int) -> None:
        """Seek on the thread that runs the aiokafka client, not the app's (fault 5)."""
        await self._thread.call_thread(self._thread.seek, partition, offset)

    @Service.transitions_to(CONSUMER_PARTITIONS_REVOKED)
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Faust's revocation, forgetting the partitions after their final commit (fault 4)."""
        span = self.app._start_span_from_rebalancing("on_partitions_revoked")
        traced = traced_from_parent_span(span)
        with span:
            if self._active_partitions is not None:
                self._active_partitions.difference_update(revoked)
            self._paused_partitions.difference_update(revoked)
            try:
                await traced(self._on_partitions_revoked, partitions=revoked)(revoked)
            finally:
                self.forget_partitions(revoked)

    def forget_partitions(self, tps: set[TP]) -> None:
        """Drop everything kept about ``tps`` (Faust's bookkeeping and the guard's)."""
        for tp in tps:
            self._gap.pop(tp, None)
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
            self._read_offset.pop(tp, None)
            self._committed_offset.pop(tp, None)
            self._log_start.pop(tp, None)
            self._next.pop(tp, None)
            self._sought.pop(tp, None)
        self._processed = {key for key in self._processed if key[0] not in tps}
        self._held = {key: n for key, n in self._held.items() if key[0] not in tps}
        self._parked = {key: m for key, m in self._parked.items() if key[0] not in tps}


class GuardedTransport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with :class:`GuardedConsumer` as its consumer."""

    Consumer = GuardedConsumer


def register() -> None:
    """Make :data:`SCHEME` broker URLs use :class:`GuardedTransport`; refuse an untested Faust."""
    check_faust_version()
    TRANSPORTS[SCHEME] = f"{__name__}:{GuardedTransport.__name__}"


def guarded_consumer(app: AppT) -> GuardedConsumer:
    """The app's consumer, which must be a :class:`GuardedConsumer`."""
    consumer = app.consumer
    if not isinstance(consumer, GuardedConsumer):
        raise StreamConfigError(
            f"the app's Kafka consumer is a {type(consumer).__name__}, not the offset "
            f"guard's; its broker URLs must use the {SCHEME}:// scheme")
    return consumer
