"""The sink on a real broker: bad rows go to the dead-letter topic, the rest to ClickHouse."""

from __future__ import annotations

import json

import pytest

from sinks.clickhouse import ClickHouseWriter
from streams.deadletter import (
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_TYPE,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_TOPIC,
)
from tests.integration.conftest import consume_until, wait_for_no_lag

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
