"""The ClickHouse sink on chDB: idempotent batches, bad rows isolated and rejected."""

from __future__ import annotations

import json

from sinks.base import Message
from sinks.clickhouse import ClickHouseSink
from sinks.exceptions import SinkDataError
from streams.core.eventlog import event_log_entry
from tests.factories import account

DAY = 86_400_000


def overlap(n: int, *, version: int = 1, tenant="acme", active=True) -> dict:
    return {"kind": "overlap", "key": f"overlap|{tenant}|globex|c{n}.com", "version": version,
            "active": active, "change": "STARTED", "row": {
                "tenant_id": tenant, "partner_tenant_id": "globex", "company_key": f"c{n}.com",
                "partnership_id": "p1", "match_method": "domain",
                "tenant_populations": ["CUSTOMER"], "partner_populations": ["PROSPECT"],
                "counted_partner_populations": ["PROSPECT"], "visible": True,
                "partner_account_name": None, "occurred_at": n * DAY}}


def messages(values: list, partition: int = 0, start: int = 0) -> list[Message]:
    return [Message("rows", partition, start + i, None,
                    v if isinstance(v, bytes) else json.dumps(v).encode())
            for i, v in enumerate(values)]


def count(writer, table: str, final: bool = False) -> int:
    return writer.query(f"SELECT count() FROM {table}{' FINAL' if final else ''}")[0][0]


def test_a_batch_written_twice_is_deduplicated_by_its_token(migrated):
    migrated.command("SYSTEM STOP MERGES overlap_state")  # only the token can dedup now
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    batch = messages([overlap(i) for i in range(5)], partition=2, start=40)
    for _ in range(2):  # the same offsets again: a restart before the commit
        for m in batch:
            sink.add(m)
        result = sink.flush()
        assert result.offsets == {("rows", 2): 45} and not result.rejected
    assert count(migrated, "overlap_state") == 5  # not 10, even without FINAL
    for m in messages([overlap(i) for i in range(5)], partition=2, start=50):
        sink.add(m)
    sink.flush()  # other offsets: another token, so inserted (FINAL collapses them)
    assert count(migrated, "overlap_state") == 10
    assert count(migrated, "overlap_state", final=True) == 5


def test_partitions_flushed_together_are_one_insert_per_table_and_deduplicated(migrated):
    migrated.command("SYSTEM STOP MERGES overlap_state")  # only the token can dedup now
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    for _ in range(2):  # the same offsets again: a restart before the commit
        for m in (messages([overlap(i) for i in range(3)], partition=0, start=10)
                  + messages([overlap(i) for i in range(3, 5)], partition=1, start=20)):
            sink.add(m)
        result = sink.flush()
        assert result.offsets == {("rows", 0): 13, ("rows", 1): 22} and result.rows == 5
    assert count(migrated, "overlap_state") == 5
    parts = migrated.query("SELECT count() FROM system.parts "
                           "WHERE table = 'overlap_state' AND active")[0][0]
    assert parts == 1  # both partitions' rows went in one insert


def test_a_replayed_row_with_a_new_token_collapses_to_the_newest_version(migrated):
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    for m in messages([overlap(1, version=1), overlap(1, version=2, active=False)]):
        sink.add(m)
    sink.flush()
    for m in messages([overlap(1, version=1)], start=7):  # an old version, late
        sink.add(m)
    sink.flush()
    assert count(migrated, "overlap_state", final=True) == 1
    assert migrated.query("SELECT version, active FROM overlap_state FINAL") == [(2, 0)]
    assert migrated.query("SELECT count() FROM overlaps_current") == [(0,)]


def test_bad_messages_are_rejected_and_the_rest_is_written(migrated):
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    wrong_type = overlap(3)
    wrong_type["row"]["tenant_id"] = 12345  # passes decoding, ClickHouse's client refuses
    huge = {**overlap(4), "kind": "intro"}  # not an intro row at all
    values = [overlap(1), b"not json", overlap(2), wrong_type, huge, [1, 2], overlap(5)]
    for m in messages(values):
        sink.add(m)
    result = sink.flush()
    assert sorted(r.message.offset for r in result.rejected) == [1, 3, 4, 5]
    assert all(isinstance(r.error, SinkDataError) for r in result.rejected)
    assert result.offsets == {("rows", 0): 7}
    assert sorted(c for (c,) in migrated.query("SELECT company_key FROM overlap_state")) == [
        "c1.com", "c2.com", "c5.com"]


def test_amounts_that_do_not_fit_are_rejected_with_a_clear_error(migrated):
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    intro = {"kind": "intro", "key": "k", "version": 1, "active": True, "change": "RAISED",
             "row": {"tenant_id": "a", "partner_tenant_id": "b", "company_key": "c.com",
                     "opportunity_record_id": "o", "account_record_id": "x",
                     "partnership_id": "p", "score": 0.5, "reasons": [], "stage": "s",
                     "partner_populations": [], "amount": "1e30", "currency": "USD",
                     "occurred_at": 0}}
    for m in messages([intro]):
        sink.add(m)
    (rejected,) = sink.flush().rejected
    assert "intro_state.amount = '1e30' does not fit Decimal(18, 4)" in str(rejected.error)


def test_event_log_entries_land_in_crm_events(migrated):
    event_type, record = account("acme", "acc-1", version=3, day=2)
    entry = event_log_entry(event_type, record, ingested_at_ms=1_800_000_000_000)
    sink = ClickHouseSink(migrated, max_rows=100, max_age=1)
    for m in messages([entry, entry]):  # a redelivered event replaces itself
        sink.add(m)
    sink.flush()
    rows = migrated.query("SELECT tenant_id, event_type, record_id, record_version, op, "
                          "toString(event_time), JSONExtractString(record, 'name') "
                          "FROM crm_events FINAL")
    assert rows == [("acme", "account", "acc-1", 3, "UPSERT", "2026-06-03 00:00:00.000",
                     "Initrode Ltd")]
