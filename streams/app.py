"""The Faust app: topics, tables, agents and their wiring. Built by :func:`create_app`.

Stages (each an agent with concurrency 1, at-least-once):

1. ``accounts`` reads the inbound CRM topic and the by-account topic (both co-partitioned
   with its account table: partition p of each belongs to the same worker).

   - An inbound message is decoded and checked (:func:`streams.ingest.triage`); a bad
     one goes to the dead letter, a control event to the control topic. An accepted event
     whose route key (see :func:`streams.routing.route`) belongs to the partition it was
     read from is applied to the account table at once (:func:`streams.ingest.place`);
     any other is re-keyed by (tenant, account) to the by-account topic, where this stage
     reads it again on the partition that owns the key. Forwards carry the header
     ``coselling.forwarded-from``. The raw event log (``crm_events``) is not sent
     anywhere: the sink reads it from the inbound and control topics, making the same
     decisions (see :mod:`streams.sink_inputs`).
   - It sends account snapshots keyed by company key to the by-company topic, only the
     last of a batch per (company, account): each is the account's whole state and
     supersedes the earlier ones. Touches and contacts are keyed by their own home,
     touches on a deal are kept under the deal's key; the stage sends itself internal
     messages (see below) back onto the by-account topic to
     place touches and contacts where their latest version counts and to forward a deal's
     touches to the deal's account (see :mod:`streams.core.homes` and
     :mod:`streams.core.opportunities`); one for a key of the partition that made it is
     applied at once instead (``AccountStage.settle``).
   When an account's match inputs change it sends them (:class:`MatchInput`) to
   the matching topic, and it reads the resolver's assignments (internal messages, keyed
   by account) from the by-account topic: an account's snapshot goes to the company the
   resolver assigned.
2. ``resolver``: matching topic (ONE partition) -> resolver table (one partition: any
   account may merge with any other, so the state is global) -> an
   :class:`Assignment` onto the by-account topic for every account whose company
   changed (see :mod:`streams.core.resolver`). A batch's assignments are coalesced to
   the last per account (each is the account's whole assignment). The table holds the
   account records and tenant settings; the indexes (domains, labels, names, typos) live
   beside it, rebuilt from its account records after a rebalance
   (:mod:`streams.resolver_index`).
3. ``control``: control -> every partition of the by-company topic (each company
   partition keeps its own copy of every partnership). Tenant settings go to the
   matching topic only, where the resolver applies them (a tenant's ignored domains).
4. ``companies``: by-company -> company table -> announced changes to the outbound
   overlap, intro and attribution topics (Avro) and the result rows no outbound event
   carries whole (overlaps) to the sink topic; ``coselling sink`` writes both into
   ClickHouse (see :mod:`streams.core.outbound`).

Internal messages (snapshots, match inputs, assignments, placements, links, forwarded
touches, result rows for the sink) are Avro in versioned schemas (:mod:`schemas.internal`,
``schemas/avro/internal``); they are read in that format or as the JSON an earlier version
wrote, told apart by the first byte. Control events broadcast to the company partitions
and the matching topic are still JSON.

Every agent takes a batch and lets the pure core decide. A batch that changed the agent's
table writes its outbox first (per partition: its table writes and the messages its
events produced; :mod:`streams.outbox`), then sends its messages, waits until Kafka
acknowledged all of it, and only then lets Faust acknowledge (and later commit) the
batch's offsets. The changed keys' values are read from memory until a checkpoint (when
the agent holds enough of them, or a partition's outbox slots run out) writes each to the
table once (:class:`~streams.faust_state.BatchState`). The first time an agent meets a partition
(after a rebalance or a restart) it applies that partition's outboxes after its
checkpoint, so a crash inside a batch never keeps its messages without the state they
came from. A failed send is retried inside the agent with backoff, never raised out of
it (an exception in a Faust agent acks the event). A bad message is dead-lettered, never
retried forever. A batch's sends go to the producer together and are waited for once;
table writes are waited for through their own changelog sends
(:class:`~streams.faust_state.ChangelogTable`). The agents share the
worker's event loop and take turns every
:data:`~streams.batch_loop.TURN_SECONDS` of work (see :mod:`streams.batch_loop`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
import orjson

from schemas import source_time
from schemas.codec import Decoded
from schemas.exceptions import CodecError, CosellingError
from schemas.internal import internal_codec

from . import batch_loop, commit_audit, metrics, offset_guard, outbox, watchdog
from .batch_loop import Stage
from .core.accounts import AccountStage, SnapshotMessage, latest_snapshots
from .core.companies import CompanyStage, ResultChange
from .core.opportunities import (
    InternalMessage,
    internal_message_from_json,
    is_internal_payload,
)
from .core.outbound import ROW_CARRYING_KINDS, outbound_event
from .core.records import to_plain
from .core.resolver import Assignment, MatchInput, apply_input, apply_settings_event
from .deadletter import dead_letter_headers
from .event_batches import take_batches
from .exceptions import InternalMessageError
from .faults import Faults
from .faust_state import (
    BatchState,
    ChangelogTable,
    encode_value,
    set_current_event,
    write_entries,
)
from .ingest import (
    HEADER_FORWARDED_FROM,
    ApplyHere,
    DeadLetter,
    Forward,
    RawMessage,
    control_event,
    place,
    triage,
)
from .monitor import WorkerMonitor
from .outbox import Send
from .partitioner import Partitioner
from .raw_schema import RawSchema
from .resolver_index import EventWrites, ResolverIndexStore, SplitState
from .retry import retry_async
from .routing import Destination, KeyPartitions
from .settings import Settings

log = logging.getLogger(__name__)

#: Most events an agent takes at once (it takes what arrived within BATCH_WINDOW_SECONDS,
#: up to this many). A larger batch writes less to Kafka under a backlog (each changed
#: key once per batch, and its outbox is one message per partition); the outbox keeps a
#: crash from losing more with a larger one.
BATCH_SIZE = 2000
BATCH_WINDOW_SECONDS = 0.1
#: How often Faust commits what the agents processed. Faust's default (2.8 s) is most of
#: the time a quiet pipeline needs to show its last batch as done; a commit is cheap here
#: (every batch's sends are acknowledged before its events count as processed).
COMMIT_INTERVAL_SECONDS = 0.5
#: Changelog messages Faust's producer buffer may hold before it stops *every* stream
#: until it drained (Faust's default is 100, less than one batch's table writes: the
#: stages then took turns). A batch waits for its own changelog sends anyway.
PRODUCER_BUFFER_MESSAGES = 20 * BATCH_SIZE
#: Table writes a checkpoint makes before it lets the other agents of the worker run.
YIELD_EVERY = 50
PRODUCER_LINGER_SECONDS = 0.005
#: Most records one poll of the consumer returns. When a stream's buffer passes its
#: high-pressure mark (Faust's ``stream_buffer_maxsize``, 4,096, divided by 1.25) Faust
#: stops fetching that stream's partitions, but what one poll returned is delivered in
#: full, and a full buffer holds the worker's one fetch loop, so every other stage's
#: messages wait behind it. Uncapped, a poll returned everything fetched (up to
#: ``consumer_max_fetch_size`` per partition: tens of thousands of events under a
#: backlog), and the inbound backlog left by-account and by-company unread until it
#: drained. Kept below the room between the pressure mark and a full buffer (820).
MAX_POLL_RECORDS = 500
PRODUCER_BATCH_BYTES = 1024 * 1024
#: What makes an internal message a bad message rather than a crash of its agent.
INTERNAL_MESSAGE_ERRORS = (ValueError, KeyError, TypeError, CosellingError)
#: What reading (not applying) an internal message of the accounts stage can raise.
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, CodecError)


def broker_urls(bootstrap_servers: str) -> list[str]:
    """Faust broker URLs from a Kafka bootstrap list (``host:port,host:port``).

    Their scheme selects the offset guard's transport (:mod:`streams.offset_guard`).
    """
    return [f"{offset_guard.SCHEME}://{h.strip()}"
            for h in bootstrap_servers.split(",") if h.strip()]


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app with its topics, tables and agents for ``settings``."""
    offset_guard.register()
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap_servers),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=settings.data_dir,
        web_port=settings.web_port,
        web_host=settings.web_host,
        table_standby_replicas=settings.standby_replicas,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
        table_cleanup_interval=3600.0,
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_session_timeout_seconds / 10,
        broker_commit_interval=COMMIT_INTERVAL_SECONDS,
        # Fewer, larger produce requests: with Faust's defaults (no linger, 16 KB batches)
        # writing produce requests to the socket took an eighth of the worker's time.
        producer_linger=PRODUCER_LINGER_SECONDS,
        broker_max_poll_records=MAX_POLL_RECORDS,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        # Kafka's partitions of keys, computed in fewer steps (see streams.partitioner).
        producer_partitioner=Partitioner(),
        Table=ChangelogTable,
    )
    audit = None
    if settings.commit_audit_file:  # tests and diagnostics only: see streams.commit_audit
        audit = commit_audit.CommitAuditLog(settings.commit_audit_file)
        app.monitor = commit_audit.AuditingMonitor(audit)
    else:
        app.monitor = WorkerMonitor()
    codec = settings.codec()
    validator = settings.event_validator
    internal = internal_codec(settings.internal_format)  # see schemas.internal

    def topic(*names: str, partitions: int = settings.topic_partitions) -> faust.TopicT:
        return app.topic(*names, schema=RawSchema(), partitions=partitions)

    control = topic(settings.topic_control)
    by_account = topic(settings.topic_by_account)
    by_company = topic(settings.topic_by_company)
    matching = topic(settings.topic_matching, partitions=1)
    sink_rows = topic(settings.topic_sink)
    dead_letter = topic(settings.topic_dead_letter)
    outbound = {"overlap": topic(settings.topic_overlaps),
                "intro": topic(settings.topic_intros),
                "attribution": topic(settings.topic_attributions)}
    routes = {Destination.BY_ACCOUNT: by_account, Destination.CONTROL: control}

    accounts_table = app.Table("accounts", default=None, key_type=str,
                               partitions=settings.topic_partitions)
    companies_table = app.Table("companies", default=None, key_type=str,
                                partitions=settings.topic_partitions)
    resolver_table = app.Table("resolver", default=None, key_type=str, partitions=1)
    # The resolver's indexes are derived from its table's account records: kept apart,
    # not changelogged (streams.resolver_index).
    indexes = ResolverIndexStore(
        os.path.join(app.conf.tabledir, "resolver-index")
        if settings.store == "rocksdb" else None,
        leftovers=[os.path.join(app.conf.tabledir, "resolver-typos")])  # earlier builds'
    resolver_index: Any = None  # the index of the batch in progress

    @resolver_table.on_recover
    async def _resolver_recovered() -> None:
        indexes.mark_stale()
    account_stage = AccountStage()
    company_stage = CompanyStage(settings.attribution())

    async def deliver(sends: list[Send]) -> None:
        """Send everything, then wait until Kafka acknowledged every message.

        Straight to the producer (Faust's ``ProducerT.send``: hands the message to the
        Kafka client's batches and returns the future of its acknowledgement), not
        through ``Topic.send``'s per-message wrapping; the producer sends a batch's
        messages together.
        """
        send = app.producer.send
        turns = batch_loop.Turns()  # thousands of sends: the other stages run meanwhile
        futures = []
        for s in sends:
            futures.append(await send(s.topic, s.key, s.value, s.partition, None,
                                      s.kafka_headers()))
            await turns.take()
        await asyncio.gather(*futures)

    async def deliver_until_done(sends: list[Send], what: str) -> None:
        if sends:
            await retry_async(partial(deliver, sends), what=what)

    faults = Faults(settings.fault_point)

    async def complete_partition(table: Any, partition: int, event: Any,
                                 what: str) -> tuple[int, bool]:
        """Apply ``partition``'s outboxes after its checkpoint (see streams.outbox).

        Their values are written as a checkpoint and the last one's messages sent again.
        Returns the partition's last batch sequence number and whether there were any.
        """
        set_current_event(event)
        checkpoint, run = outbox.to_complete(table.get, partition)
        if not run:
            return checkpoint, False
        values = outbox.folded(run)
        log.info("%s: partition %d: completing batches %d-%d from their outboxes: %d table "
                 "values written, %d messages of the last sent again",
                 what.partition(":")[0], partition,
                 run[0].seq, run[-1].seq, len(values), len(run[-1].sends))
        await retry_async(partial(write_entries, table, [
            *((k, v, event) for k, v in values.items()),
            (outbox.checkpoint_key(partition), run[-1].seq, event)]),
            what=f"{what}: outbox values")
        await deliver_until_done(run[-1].sends, f"{what}: outbox messages")
        return run[-1].seq, True

    async def write_outboxes(state: BatchState, seqs: dict[int, int], sends: list[Send],
                             senders: list[Any], what: str) -> list[int]:
        """Write the outbox of every partition the batch changed (see streams.outbox).

        Returns those partitions; ``seqs`` (partition -> last batch) counts the batch.
        """
        batch = outbox.new_batch_id()
        # The values go into the outboxes as the JSON they were sealed as: not encoded
        # a second time when the outbox chunk is.
        writes: dict[int, dict[str, Any]] = {}
        events = {}
        sizes = {}
        for key, (raw, e) in state.seal().items():
            writes.setdefault(e.message.partition, {})[key] = orjson.Fragment(raw)
            events[e.message.partition] = e
            sizes[key] = len(raw)
        boxes = {p: outbox.Outbox(batch, seqs[p] + 1, w) for p, w in writes.items()}
        for send, e in zip(sends, senders, strict=True):
            box = boxes.get(e.message.partition)
            if box is not None and send.topic != dead_letter_topic:
                box.sends.append(send)
        entries = [(outbox.outbox_key(p, box.seq, i), encode_value(chunk), events[p])
                   for p, box in boxes.items()
                   for i, chunk in enumerate(outbox.pack(box, sizes=sizes))]
        await retry_async(partial(write_entries, state.table, entries),
                          what=f"{what}: writing the outbox")
        for p, box in boxes.items():
            seqs[p] = box.seq
        return list(boxes)

    async def write_checkpoint(table: Any, uncovered: dict[str, tuple[Any, Any]],
                               partitions: list[int], seqs: dict[int, int],
                               checkpoints: dict[int, int], what: str, *,
                               fault: str | None = None) -> None:
        """Write the uncovered values of ``partitions``, then their checkpoint keys."""
        wanted = set(partitions)
        entries = [(k, v, e) for k, (v, e) in uncovered.items()
                   if e.message.partition in wanted]
        last = {e.message.partition: e for _, _, e in entries}
        entries += [(outbox.checkpoint_key(p), seqs[p], last[p]) for p in partitions]
        if fault is not None:
            await write_entries(table, entries[:max(1, len(entries) // 2)])
            faults.kill(fault, "mid-checkpoint")
        started = time.monotonic()
        acks = await retry_async(partial(write_entries, table, entries,
                                         yield_every=YIELD_EVERY),
                                 what=f"{what}: writing a checkpoint")
        log.info("%s: checkpoint of partitions %s: %d values in %.2f s (%.2f s of it "
                 "waiting for Kafka's acknowledgements)", what.partition(":")[0],
                 sorted(wanted), len(entries) - len(partitions),
                 time.monotonic() - started, acks)
        for key, _, _ in entries[:-len(partitions)]:
            del uncovered[key]
        for p in partitions:
            checkpoints[p] = seqs[p]

    def dead(event: Any, error: Exception) -> tuple[faust.TopicT, dict[str, Any]]:
        m = event.message
        headers = dead_letter_headers(error, topic=m.topic, partition=m.partition,
                                      offset=m.offset)
        metrics.DEAD_LETTERED.labels(stage=_stage(m.topic, settings)).inc()
        if isinstance(error, CosellingError):  # bad input, explained by the message
            log.warning("dead-lettering %s[%d]@%d: %s", m.topic, m.partition, m.offset, error)
        else:  # an internal message the core could not handle: a bug, keep the traceback
            log.error("dead-lettering %s[%d]@%d: %s: %s", m.topic, m.partition, m.offset,
                      type(error).__name__, error, exc_info=error)
        return dead_letter, {"key": m.key, "value": m.value or b"", "headers": list(headers)}

    dead_letter_topic = dead_letter.get_topic_name()

    batch_io = FaustBatchIO(
        generation=lambda: app.consumer_generation_id,
        dead=lambda event, error: as_send(*dead(event, error)),
        deliver=deliver_until_done,
        complete_partition=complete_partition,
        write_outboxes=write_outboxes,
        write_checkpoint=write_checkpoint)

    async def run_batches(
        stream: faust.StreamT,
        decide: Callable[[Any, BatchState | None], Any],
        emit: Callable[[Any, Any], Iterable[tuple[faust.TopicT, dict[str, Any]]]],
        what: str,
        **options: Any,
    ) -> None:
        """Run one agent's batch loop (:func:`streams.batch_loop.run_batches`) on ``stream``.

        ``options``: the :class:`~streams.batch_loop.Stage`'s table, bad, coalesce,
        prepare and on_completed.
        """
        consumer = offset_guard.guarded_consumer(app)
        app.producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
        stage = Stage(what.partition(":")[0], what, decide,
                      lambda e, d: [as_send(t, kw) for t, kw in emit(e, d)],
                      source_time=event_source_time, **options)
        await batch_loop.run_batches(
            stage, take_batches(stream, BATCH_SIZE, BATCH_WINDOW_SECONDS), consumer,
            batch_io, checkpoint_keys=settings.checkpoint_keys, faults=faults, audit=audit)

    published = {settings.topic_inbound, settings.topic_control}

    def event_source_time(e: Any) -> int | None:
        """An event's source time: when a CRM published the change it carries."""
        m = e.message
        if m.topic in published:  # its own publish, unless the accounts stage forwarded it
            stamp = None if m.timestamp is None else round(m.timestamp * 1000)
            return source_time.of_message(m.headers, stamp)
        return source_time.from_headers(m.headers)

    key_partitions = KeyPartitions(
        lambda key: app.consumer.key_partition(settings.topic_by_account, key))

    def by_account_partition(key: bytes) -> int | None:
        """The by-account partition of ``key`` (the producer's partitioner)."""
        return key_partitions(key, app.consumer.topic_partitions(settings.topic_by_account))

    def by_account_owner(key: bytes) -> int | None:
        """:func:`by_account_partition`, None unless the inbound topic is co-partitioned."""
        consumer = app.consumer
        partitions = consumer.topic_partitions(settings.topic_by_account)
        if partitions is None or consumer.topic_partitions(settings.topic_inbound) != partitions:
            return None
        return key_partitions(key, partitions)

    def accounts_decide(e: Any, state: BatchState | None) -> Forward | DeadLetter | Applied:
        m = e.message
        decoded = None
        if m.topic == settings.topic_inbound:
            decision = place(triage(codec, validator, _raw(m)), m.partition, by_account_owner)
            if not isinstance(decision, ApplyHere):
                return decision
            decoded = decision.decoded
            made = account_stage.apply(state, decoded.event_type, decoded.record)
        elif is_internal_payload(m.value):
            try:
                msg = internal_message_from_json(m.key.decode(), internal.decode(m.value))
            except _UNREADABLE as exc:  # dead-lettered; an error applying it is a bug
                raise InternalMessageError(f"unreadable internal message: {exc!r}") from exc
            made = account_stage.apply_internal(state, msg)
        else:
            forwarded = codec.decode(m.value)
            made = account_stage.apply(state, forwarded.event_type, forwarded.record)
        # Internal messages for keys of this very partition are applied now rather than
        # sent round the by-account topic (same partitioner as the producer's sends).
        return Applied(decoded, account_stage.settle(
            state, made, lambda key: by_account_partition(key.encode()) == m.partition))

    def count_in(decoded: Decoded) -> None:
        """An accepted inbound event, forwarded or applied where it was read."""
        metrics.EVENTS_IN.labels(event_type=decoded.event_type,
                                 tenant=decoded.record["tenant_id"]).inc()

    def accounts_emit(e: Any, d: Forward | DeadLetter | Applied):
        if isinstance(d, Forward):
            count_in(d.decoded)
            # Marked, so the sink does not log a partnership again from the control topic.
            return [(routes[d.route.destination], {
                "key": d.route.key, "value": d.value,
                "headers": [(HEADER_FORWARDED_FROM, e.message.topic.encode())]})]
        if isinstance(d, DeadLetter):
            if isinstance(d.error, CodecError):
                metrics.DECODE_ERRORS.labels(error=type(d.error).__name__).inc()
            return [dead(e, d.error)]
        if d.inbound is not None:
            count_in(d.inbound)
        return [(by_company, {"key": m.company_key.encode(),
                              "value": internal.encode("snapshot", m.to_json())})
                if isinstance(m, SnapshotMessage) else
                (matching if isinstance(m, MatchInput) else by_account,
                 {"key": m.key.encode(), "value": encode_internal(m.to_json())})
                for m in d.messages]

    def encode_internal(data: dict[str, Any]) -> bytes:
        return internal.encode(data["kind"], data)

    async def resolver_prepare() -> None:
        nonlocal resolver_index
        # Straight from the table (before a batch nothing is buffered): read lazily, where
        # a batch state's items() would first copy the whole table into a list.
        resolver_index = await indexes.ready(resolver_table.items,
                                             app.consumer_generation_id)

    def resolver_decide(e: Any, state: BatchState | None) -> list[Assignment]:
        data = internal.decode(e.message.value)
        # Index keys and records are written together or (the decision raised) not at all.
        event = EventWrites(SplitState(state, resolver_index))
        if "tenant_settings" in data:
            out = apply_settings_event(event, data["tenant_settings"])
        else:
            out = apply_input(event, MatchInput.from_json(e.message.key.decode(), data))
        event.commit()
        return out

    def resolver_emit(e: Any, assignments: list[Assignment]):
        return [(by_account, {"key": a.key.encode(),
                              "value": internal.encode("assigned", a.to_json())})
                for a in assignments]

    def control_decide(e: Any, state: BatchState | None) -> Decoded:
        return control_event(codec, validator, e.message.value)

    def control_emit(e: Any, decoded: Decoded):
        value = json.dumps({decoded.event_type: to_plain(decoded.record)}).encode()
        if decoded.event_type == "tenant_settings":  # the resolver alone applies them
            return [(matching, {"key": e.message.key, "value": value})]
        return [(by_company, {"key": e.message.key, "value": value, "partition": p})
                for p in range(settings.topic_partitions)]

    def companies_decide(e: Any, state: BatchState | None) -> list[ResultChange]:
        partition = e.message.partition
        data = internal.decode(e.message.value)
        if "partnership" in data:
            return company_stage.apply_partnership(state, partition, data["partnership"])
        if "tenant_settings" in data:  # sent here by earlier versions; nothing derives from it
            return []
        msg = SnapshotMessage.from_json(e.message.key.decode(), data)
        return company_stage.apply_snapshot(state, partition, msg)

    def companies_emit(e: Any, changes: list[ResultChange]):
        sends = []
        for change in changes:
            metrics.RESULTS_EMITTED.labels(kind=change.kind).inc()
            announced = outbound_event(change)
            if announced is None or change.kind not in ROW_CARRYING_KINDS:
                sends.append((sink_rows, {"key": change.row["company_key"].encode(),
                                          "value": encode_internal(change.to_json())}))
            if announced is not None:
                event_type, record = announced
                sends.append((outbound[event_type], {
                    "key": f"{record['tenant_id']}".encode(),
                    "value": codec.encode(event_type, record)}))
        return sends

    @app.agent(topic(settings.topic_inbound, settings.topic_by_account),
               concurrency=1, name="accounts")
    async def accounts(stream: faust.StreamT) -> None:
        await run_batches(stream, accounts_decide, accounts_emit,
                          "accounts: sending a batch's messages", table=accounts_table,
                          coalesce=latest_applied)

    @app.agent(matching, concurrency=1, name="resolver")
    async def resolver(stream: faust.StreamT) -> None:
        try:
            await run_batches(stream, resolver_decide, resolver_emit,
                              "resolver: sending assignments", table=resolver_table,
                              bad=INTERNAL_MESSAGE_ERRORS, coalesce=latest_assignments,
                              prepare=resolver_prepare, on_completed=indexes.mark_stale)
        except BaseException:
            indexes.mark_stale()  # a batch's index changes may have no table writes
            raise

    @app.agent(control, concurrency=1, name="control")
    async def control_agent(stream: faust.StreamT) -> None:
        await run_batches(stream, control_decide, control_emit,
                          "control: broadcasting control events")

    @app.agent(by_company, concurrency=1, name="companies")
    async def companies(stream: faust.StreamT) -> None:
        await run_batches(stream, companies_decide, companies_emit,
                          "companies: sending results", table=companies_table,
                          bad=INTERNAL_MESSAGE_ERRORS)

    _web_pages(app)
    watchdog.install(app, interval=min(5.0, settings.stall_seconds / 2),
                     stall_seconds=settings.stall_seconds)

    app.coselling_agents = {  # type: ignore[attr-defined]
        "accounts": accounts, "control": control_agent,
        "companies": companies, "resolver": resolver,
    }
    return app


@dataclass(frozen=True, slots=True)
class FaustBatchIO:
    """The app's :class:`~streams.batch_loop.BatchIO`: Kafka and the tables through Faust."""

    generation: Callable[[], Any]
    dead: Callable[[Any, Exception], Send]
    deliver: Callable[[list[Send], str], Awaitable[None]]
    complete_partition: Callable[[Any, int, Any, str], Awaitable[tuple[int, bool]]]
    write_outboxes: Callable[..., Awaitable[list[int]]]
    write_checkpoint: Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one message to the account table made.

    :param inbound: the inbound event applied (None for a by-account message).
    :param messages: the snapshots and internal messages to send.
    """

    inbound: Decoded | None
    messages: list[SnapshotMessage | InternalMessage]


def latest_applied(decisions: list[Any]) -> list[Any]:
    """The accounts stage's decisions without the snapshots a later one supersedes.

    :func:`~streams.core.accounts.latest_snapshots` over the :class:`Applied` ones;
    forwards and dead letters are kept as they are.
    """
    applied = [d.messages if isinstance(d, Applied) else [] for d in decisions]
    return [Applied(d.inbound, kept) if isinstance(d, Applied) else d
            for d, kept in zip(decisions, latest_snapshots(applied), strict=True)]


def latest_assignments(decisions: list[list[Assignment]]) -> list[list[Assignment]]:
    """The resolver's decisions without the assignments a later one supersedes.

    An assignment is the account's whole assignment with the next seq, so the account
    stage ends the same whether or not it saw the earlier ones of a batch.
    """
    last = {a.key: (i, j) for i, d in enumerate(decisions) for j, a in enumerate(d)}
    return [[a for j, a in enumerate(d) if last[a.key] == (i, j)]
            for i, d in enumerate(decisions)]


def as_send(topic: faust.TopicT, kw: dict[str, Any]) -> Send:
    """A send as an agent's ``emit`` gives it (topic, keyword arguments) as a :class:`Send`."""
    return Send(topic.get_topic_name(), kw.get("key"), kw["value"], kw.get("partition"),
                kw.get("headers"))


def _stage(topic: str, settings: Settings) -> str:
    return {settings.topic_inbound: "ingest", settings.topic_by_account: "accounts",
            settings.topic_control: "control", settings.topic_by_company: "companies",
            settings.topic_matching: "resolver"}.get(topic, "other")


def _web_pages(app: faust.App) -> None:
    """``/metrics`` (Prometheus), ``/healthz`` (liveness) and ``/readyz`` (readiness).

    Live: the event loop answers. Ready: the worker has joined its group, has partitions
    and is not rebalancing or recovering state.
    """

    @app.page("/metrics")
    async def metrics_page(web, request):
        body, content_type = metrics.exposition()
        return web.bytes(body, content_type=content_type.split(";")[0])

    @app.page("/healthz")
    async def healthz(web, request):
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web, request):
        try:
            assigned = bool(app.consumer.assignment())
        except Exception:  # noqa: BLE001 - no consumer yet: not ready
            assigned = False
        ready = assigned and not app.rebalancing and not app.tables.recovery.in_recovery
        return web.json({"ready": ready, "assigned": assigned,
                         "rebalancing": bool(app.rebalancing)}, status=200 if ready else 503)


def _raw(message: Any) -> RawMessage:
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )
