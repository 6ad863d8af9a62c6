"""The Faust app: topics, agents and their wiring. Built by :func:`create_app`, never at import.

Agents run with concurrency 1 and at-least-once processing; each takes a batch, performs
every send the pure core asks for, waits for Kafka to acknowledge all of them and only then
lets Faust ack (and later commit) the batch's offsets. A failed send is retried inside the
agent with backoff, never raised out of it (an exception in a Faust agent acks the event).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import faust

from .ingest import DeadLetter, Forward, RawMessage, triage
from .retry import retry_async
from .routing import Destination
from .settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_WINDOW_SECONDS = 0.2


def broker_urls(bootstrap_servers: str) -> list[str]:
    """Faust broker URLs from a Kafka bootstrap list (``host:port,host:port``)."""
    return [f"kafka://{h.strip()}" for h in bootstrap_servers.split(",") if h.strip()]


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app with its topics and agents for ``settings``."""
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
    )
    codec = settings.codec()
    inbound = app.topic(settings.topic_inbound, key_type=bytes, value_type=bytes)
    outputs = {
        Destination.BY_ACCOUNT: app.topic(
            settings.topic_by_account, key_type=bytes, value_type=bytes
        ),
        Destination.CONTROL: app.topic(settings.topic_control, key_type=bytes, value_type=bytes),
    }
    dead_letter = app.topic(settings.topic_dead_letter, key_type=bytes, value_type=bytes)

    async def send_all(decisions: list[Forward | DeadLetter]) -> None:
        futures: list[Any] = []
        for d in decisions:
            if isinstance(d, Forward):
                topic = outputs[d.route.destination]
                futures.append(await topic.send(key=d.route.key, value=d.value))
            else:
                futures.append(
                    await dead_letter.send(key=d.key, value=d.value, headers=list(d.headers))
                )
        await asyncio.gather(*futures)

    @app.agent(inbound, concurrency=1, name="ingest")
    async def ingest(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
            decisions = [triage(codec, _raw(e.message)) for e in events]
            bad = sum(isinstance(d, DeadLetter) for d in decisions)
            if bad:
                log.warning("ingest: %d of %d messages dead-lettered", bad, len(decisions))
            await retry_async(
                partial(send_all, decisions),
                what="ingest: forwarding batch",
                should_stop=lambda: app.should_stop,
            )

    app.coselling_agents = {"ingest": ingest}  # type: ignore[attr-defined]
    return app


def _raw(message: Any) -> RawMessage:
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )
