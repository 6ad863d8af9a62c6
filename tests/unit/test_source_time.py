"""Source times: when the CRM change a message carries was published (schemas.source_time)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from prometheus_client import REGISTRY

from schemas import source_time
from sinks.base import Batch, Message
from sinks.clickhouse import ClickHouseSink
from streams import outbox
from streams.batch_loop import Stage, run_batches
from streams.faults import Faults
from streams.outbox import Send
from tests.unit.test_batch_loop import IO, Consumer, Event, batches_of


def test_the_header_carries_epoch_milliseconds_and_reads_back():
    name, value = source_time.header(1_733_000_000_123)
    assert (name, value) == ("coselling.source-time", b"1733000000123")
    assert source_time.from_headers([("other", b"x"), (name, value)]) == 1_733_000_000_123
    assert source_time.from_headers({name: value}) == 1_733_000_000_123


def test_a_missing_or_unreadable_header_is_no_source_time():
    assert source_time.from_headers(None) is None
    assert source_time.from_headers([]) is None
    assert source_time.from_headers([("coselling.source-time", b"soon")]) is None


def test_a_published_message_without_the_header_has_its_own_timestamp():
    assert source_time.of_message((), 1_000) == 1_000
    assert source_time.of_message([source_time.header(500)], 1_000) == 500
    assert source_time.of_message((), None) is None
    assert source_time.of_message((), -1) is None  # Kafka's "no timestamp"


def test_a_send_carries_its_source_time_as_a_header_but_its_outbox_copy_does_not():
    send = Send("out", b"k", b"v", None, [("coselling.forwarded-from", b"in")], 42)
    assert send.kafka_headers() == [("coselling.forwarded-from", b"in"),
                                    ("coselling.source-time", b"42")]
    assert Send("out", b"k", b"v").kafka_headers() is None
    (chunk,) = outbox.pack(outbox.Outbox("b", 1, {}, [send]))
    stored = {outbox.outbox_key(0, 1, 0): chunk}
    (unpacked,) = outbox.read_outbox(stored.get, 0, 1).sends
    assert unpacked.headers == [("coselling.forwarded-from", b"in")]
    assert unpacked.source_ms is None and unpacked.kafka_headers() == unpacked.headers


def _event(offset: int, stamp: int) -> Event:
    return Event("v", SimpleNamespace(topic="t", partition=0, offset=offset, tp=("t", 0),
                                      stamp=stamp))


def test_a_stage_stamps_the_messages_of_each_event_and_counts_its_age_when_it_lands():
    delivered: list[list[Send]] = []

    class Recording(IO):
        async def deliver(self, sends, what):
            delivered.append(list(sends))

    stage = Stage("unit-source", "unit: sends", lambda e, state: e.message.offset,
                  lambda e, d: [Send("out", None, b"%d" % d), Send("out2", None, b"x")],
                  source_time=lambda e: e.message.stamp)
    now_ms = int(time.time() * 1000)
    count = "coselling_stage_source_age_seconds_count"
    total = "coselling_stage_source_age_seconds_sum"
    before = (REGISTRY.get_sample_value(count, {"stage": "unit-source"}) or 0,
              REGISTRY.get_sample_value(total, {"stage": "unit-source"}) or 0)
    log: list = []
    asyncio.run(run_batches(stage, batches_of([_event(0, now_ms - 5_000),
                                               _event(1, now_ms - 1_000)]),
                            Consumer(log), Recording(log), checkpoint_keys=10,
                            faults=Faults(None)))
    (sends,) = delivered
    assert [(s.value, s.source_ms) for s in sends] == [
        (b"0", now_ms - 5_000), (b"x", now_ms - 5_000),
        (b"1", now_ms - 1_000), (b"x", now_ms - 1_000)]
    counted = REGISTRY.get_sample_value(count, {"stage": "unit-source"}) - before[0]
    ages = REGISTRY.get_sample_value(total, {"stage": "unit-source"}) - before[1]
    assert counted == 2
    assert 6.0 <= ages < 6.0 + 2 * 5  # 5 s and 1 s old, plus the time the test took


def test_the_sink_reports_the_source_time_of_result_rows_it_wrote():
    class Writer:
        def insert(self, table, rows, token=None):
            pass

    sink = ClickHouseSink(Writer(), max_rows=10, max_age=1.0, read=lambda m: [{
        "kind": "overlap", "active": True, "version": 1,
        "row": {"tenant_id": "a", "partner_tenant_id": "b", "company_key": "c.com",
                "partnership_id": "p", "match_method": "domain", "tenant_populations": [],
                "partner_populations": [], "counted_partner_populations": [],
                "visible": True, "partner_account_name": None,
                "occurred_at": 1_000}}])
    with_header = Message("rows", 0, 0, b"k", b"v", 5, (source_time.header(777),))
    without = Message("rows", 0, 1, b"k", b"v", 6, ())
    rows, rejected = sink.write(Batch("rows", 0, [with_header, without]))
    assert rejected == [] and rows == 2
    assert sink.take_written_times() == [(1_000, None, 777), (1_000, None, None)]
