"""The local broker restarts on its existing log folder: same address, same messages."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.localkafka.broker import LocalKafka

pytestmark = pytest.mark.integration


def read_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="restart-check",
                             auto_offset_reset="earliest", consumer_timeout_ms=15_000)
    try:
        values = []
        for message in consumer:
            values.append(message.value)
            if len(values) == expected:
                break
        consumer.commit()
        return values
    finally:
        consumer.close()


def send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, value)
    producer.flush()
    producer.close()


def test_a_restarted_broker_keeps_its_topics_messages_and_committed_offsets(tmp_path):
    broker = LocalKafka(data_dir=tmp_path / "kafka", heap="256m").start()
    try:
        address = broker.bootstrap_servers
        admin = KafkaAdminClient(bootstrap_servers=address)
        admin.create_topics([NewTopic("kept", num_partitions=2, replication_factor=1)])
        admin.close()
        first = [f"before-{i}".encode() for i in range(20)]
        send(address, "kept", first)
        assert sorted(read_all(address, "kept", 20)) == sorted(first)

        broker.restart(down_seconds=1)
        assert broker.bootstrap_servers == address and broker.formatted

        later = [f"after-{i}".encode() for i in range(5)]
        send(address, "kept", later)
        # The group's committed offsets survived: it reads only what came after.
        assert sorted(read_all(address, "kept", 5)) == sorted(later)
        # A second object on the same folder finds the same ports again.
        assert LocalKafka(data_dir=tmp_path / "kafka").port == broker.port
    finally:
        broker.stop()
