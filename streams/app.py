"""The Faust app: topics, tables, agents and their wiring. Built by :func:`create_app`.

Stages (each an agent with concurrency 1, at-least-once):

1. ``ingest``: inbound CRM topic -> decode -> re-key by (tenant, account) to the
   by-account topic; partnerships to the control topic; bad messages to the dead letter.
2. ``accounts``: by-account -> account table -> account snapshots keyed by company key to
   the by-company topic.
3. ``control``: control -> every partition of the by-company topic (each company
   partition keeps its own copy of every partnership).
4. ``companies``: by-company -> company table -> result rows to the sink topic (consumed
   by ``coselling sink`` into ClickHouse) and announced changes to the outbound overlap,
   intro and attribution topics (Avro).

Every agent takes a batch, lets the pure core decide, sends everything the batch produced,
waits until Kafka acknowledged all of it, and only then writes its table state and lets
Faust acknowledge (and later commit) the batch's offsets. A failed send is retried inside
the agent with backoff, never raised out of it (an exception in a Faust agent acks the
event). A bad message is dead-lettered, never retried forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any

import faust

from schemas.exceptions import CosellingError

from .core.accounts import AccountStage, SnapshotMessage
from .core.companies import CompanyStage
from .core.outbound import outbound_event
from .core.records import to_plain
from .deadletter import dead_letter_headers
from .faust_state import BatchState
from .ingest import DeadLetter, Forward, RawMessage, triage
from .retry import retry_async
from .routing import Destination
from .settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_WINDOW_SECONDS = 0.1


def broker_urls(bootstrap_servers: str) -> list[str]:
    """Faust broker URLs from a Kafka bootstrap list (``host:port,host:port``)."""
    return [f"kafka://{h.strip()}" for h in bootstrap_servers.split(",") if h.strip()]


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app with its topics, tables and agents for ``settings``."""
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap_servers),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=settings.data_dir,
        web_port=settings.web_port,
        web_host="127.0.0.1",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
        table_cleanup_interval=3600.0,
    )
    codec = settings.codec()

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes,
                         partitions=settings.topic_partitions)

    inbound = topic(settings.topic_inbound)
    control = topic(settings.topic_control)
    by_account = topic(settings.topic_by_account)
    by_company = topic(settings.topic_by_company)
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
    account_stage = AccountStage()
    company_stage = CompanyStage(settings.attribution())

    async def deliver(sends: list[tuple[faust.TopicT, dict[str, Any]]]) -> None:
        """Send everything, then wait until Kafka acknowledged every message."""
        futures = [await t.send(**kwargs) for t, kwargs in sends]
        await asyncio.gather(*futures)

    async def deliver_until_done(sends: list, what: str) -> None:
        if sends:
            await retry_async(partial(deliver, sends), what=what,
                              should_stop=lambda: False)

    def dead(event: Any, error: Exception) -> tuple[faust.TopicT, dict[str, Any]]:
        m = event.message
        headers = dead_letter_headers(error, topic=m.topic, partition=m.partition,
                                      offset=m.offset)
        log.warning("dead-lettering %s[%d]@%d: %s", m.topic, m.partition, m.offset, error)
        return dead_letter, {"key": m.key, "value": m.value or b"", "headers": list(headers)}

    @app.agent(inbound, concurrency=1, name="ingest")
    async def ingest(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
            sends = []
            for e in events:
                d = triage(codec, _raw(e.message))
                if isinstance(d, Forward):
                    sends.append((routes[d.route.destination],
                                  {"key": d.route.key, "value": d.value}))
                else:
                    assert isinstance(d, DeadLetter)
                    sends.append(dead(e, d.error))
            await deliver_until_done(sends, "ingest: forwarding a batch")

    @app.agent(by_account, concurrency=1, name="accounts")
    async def accounts(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
            state = BatchState(accounts_table)
            sends = []
            for e in events:
                state.use_event(e)
                try:
                    decoded = codec.decode(e.message.value)
                    messages = account_stage.apply(state, decoded.event_type, decoded.record)
                except CosellingError as exc:
                    sends.append(dead(e, exc))
                    continue
                sends.extend((by_company, {"key": m.company_key.encode(),
                                           "value": json.dumps(m.to_json()).encode()})
                             for m in messages)
            await deliver_until_done(sends, "accounts: sending snapshots")
            state.flush()

    @app.agent(control, concurrency=1, name="control")
    async def control_agent(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
            sends = []
            for e in events:
                try:
                    decoded = codec.decode(e.message.value)
                    if decoded.event_type != "partnership":
                        raise CosellingError(f"{decoded.event_type} on the control topic")
                except CosellingError as exc:
                    sends.append(dead(e, exc))
                    continue
                value = json.dumps({"partnership": to_plain(decoded.record)}).encode()
                sends.extend((by_company, {"key": e.message.key, "value": value,
                                           "partition": p})
                             for p in range(settings.topic_partitions))
            await deliver_until_done(sends, "control: broadcasting partnerships")

    @app.agent(by_company, concurrency=1, name="companies")
    async def companies(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
            state = BatchState(companies_table)
            sends = []
            for e in events:
                state.use_event(e)
                partition = e.message.partition
                try:
                    data = json.loads(e.message.value)
                    if "partnership" in data:
                        record = data["partnership"]
                        changes = company_stage.apply_partnership(state, partition, record)
                    else:
                        msg = SnapshotMessage.from_json(e.message.key.decode(), data)
                        changes = company_stage.apply_snapshot(state, partition, msg)
                except (ValueError, KeyError, TypeError, CosellingError) as exc:
                    sends.append(dead(e, exc))
                    continue
                for change in changes:
                    sends.append((sink_rows, {"key": change.row["company_key"].encode(),
                                              "value": json.dumps(change.to_json()).encode()}))
                    announced = outbound_event(change)
                    if announced is not None:
                        event_type, record = announced
                        sends.append((outbound[event_type], {
                            "key": f"{record['tenant_id']}".encode(),
                            "value": codec.encode(event_type, record)}))
            await deliver_until_done(sends, "companies: sending results")
            state.flush()

    app.coselling_agents = {  # type: ignore[attr-defined]
        "ingest": ingest, "accounts": accounts, "control": control_agent,
        "companies": companies,
    }
    return app


def _raw(message: Any) -> RawMessage:
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )
