"""The sink on a real broker: bad rows go to the dead-letter topic, the rest to ClickHouse.

Also what the sink reads besides its own topic: the raw event log from the inbound and
control topics, decided as the worker decides.
"""

from __future__ import annotations

import json
import time

import pytest

from schemas.codec import Codec
from sinks.clickhouse import ClickHouseWriter
from streams.deadletter import (
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_TYPE,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_TOPIC,
)
from tests.factories import account, partnership
from tests.integration.conftest import consume_until, topic_size, wait_for_no_lag

pytestmark = pytest.mark.integration


def overlap(n: int, amount_ok: bool = True) -> dict:
    return {"kind": "overlap", "key": f"overlap|acme|globex|c{n}.com", "version": 1,
            "active": True, "change": "STARTED", "row": {
                "tenant_id": "acme" if amount_ok else 7, "partner_tenant_id": "globex",
                "company_key": f"c{n}.com", "partnership_id": "p", "match_method": "domain",
                "tenant_populations": ["CUSTOMER"], "partner_populations": ["CUSTOMER"],
                "counted_partner_populations": ["CUSTOMER"], "visible": True,
                "partner_account_name": None, "occurred_at": 0}}


def test_rejected_rows_are_dead_lettered_with_the_error_and_committed(
        pipeline_settings, start_worker, producer):
    settings = pipeline_settings
    values = [overlap(1), b"{broken", overlap(2), overlap(3, amount_ok=False), overlap(4)]
    for v in values:  # one partition, so the offsets are 0..4 in this order
        producer.send(settings.topic_sink, partition=0, key=b"k",
                      value=v if isinstance(v, bytes) else json.dumps(v).encode())
    producer.flush()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_for_no_lag(settings, [sink])

    dead = consume_until(settings.kafka_bootstrap_servers, [settings.topic_dead_letter],
                         lambda msgs: len(msgs) >= 2, timeout=30)
    assert sorted(m.value for m in dead) == sorted([b"{broken", json.dumps(values[3]).encode()])
    for m in dead:
        headers = {k: v.decode() for k, v in m.headers}
        assert headers[HEADER_ERROR_TYPE] == "SinkDataError"
        assert headers[HEADER_SOURCE_TOPIC] == settings.topic_sink
        assert headers[HEADER_SOURCE_OFFSET] in {"1", "3"}
        assert headers[HEADER_ERROR_MESSAGE]
    sink.stop()
    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    try:
        keys = writer.query("SELECT company_key FROM overlap_state FINAL ORDER BY 1")
    finally:
        writer.close()
    assert keys == [("c1.com",), ("c2.com",), ("c4.com",)]


def test_the_sink_logs_inbound_events_as_the_worker_decides_them(
        pipeline_settings, start_worker, producer):
    """A bad inbound message: no crm_events row and one dead letter (the worker's). A
    partnership published to inbound is forwarded to the control topic: still one row."""
    settings = pipeline_settings
    codec = Codec()
    stamp = int(time.time() * 1000) - 86_400_123  # becomes the rows' ingest time
    good = account("acme", "001", domain="initech.com")
    deal = partnership("p1", "acme", "globex", {})
    for value in (codec.encode(*good), b"\x09garbage", codec.encode(*deal)):
        producer.send(settings.topic_inbound, partition=0, key=b"k", value=value,
                      timestamp_ms=stamp)
    producer.flush()
    worker = start_worker()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_for_no_lag(settings, [worker, sink], timeout=120)
    assert topic_size(settings.kafka_bootstrap_servers, settings.topic_control) == 1

    dead = consume_until(settings.kafka_bootstrap_servers, [settings.topic_dead_letter],
                         lambda msgs: len(msgs) >= 2, timeout=10)
    assert [m.value for m in dead] == [b"\x09garbage"]
    assert dict(dead[0].headers)[HEADER_SOURCE_TOPIC] == settings.topic_inbound.encode()
    sink.stop()  # chDB opens in one process at a time
    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    try:
        rows = writer.query("SELECT event_type, record_id, toUnixTimestamp64Milli(ingest_time)"
                            " FROM crm_events ORDER BY 1")  # no FINAL: every row written
    finally:
        writer.close()
    assert rows == [("account", "001", stamp), ("partnership", "p1", stamp)]
