"""Reading a whole topic, from its beginning to the end offsets it had when reading began."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from schemas.exceptions import CosellingError

from ..exceptions import RetryableError


def read_to_end(settings, topic: str, missing: str) -> Iterator[Any]:
    """Every record of every partition of ``topic`` (kafka-python ``ConsumerRecord``).

    ``missing``: what to tell the user when the topic does not exist.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                                 enable_auto_commit=False, request_timeout_ms=15_000)
    except KafkaError as exc:
        raise RetryableError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: "
                             f"{exc}") from None
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            raise CosellingError(f"no topic {topic}: {missing}")
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        idle = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps) and idle < 20:
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                yield from records
        if any(consumer.position(tp) < ends[tp] for tp in tps):
            raise RetryableError(f"{topic} was not read to its end: Kafka sent nothing for "
                                 "10 s")
    finally:
        consumer.close()


def read_table(settings, topic: str, missing: str) -> dict[str, Any]:
    """A Faust table's changelog ``topic`` read to its end: each key's last value.

    Keys and values as the app's tables write them (JSON); a deleted key is left out.
    """
    table: dict[str, Any] = {}
    for r in read_to_end(settings, topic, missing):
        key = json.loads(r.key)
        if r.value is None:
            table.pop(key, None)
        else:
            table[key] = json.loads(r.value)
    return table
