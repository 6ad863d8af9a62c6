"""The crm_events messages are those of their JSON definition, byte for byte.

``event_log_entry`` writes the record with orjson where that gives ``json``'s bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.eventlog import KIND, event_log_entry, record_json
from streams.core.records import to_plain
from streams.demo_data import generate
from tests.scenario import scenario


def defined_entry(event_type, record, ingested_at_ms):
    """The message as defined: every field of the record made plain, the record as JSON."""
    plain = to_plain(record)
    return {"kind": KIND, "row": {
        "tenant_id": plain["tenant_id"], "event_type": event_type,
        "source": plain.get("source") or "", "record_id": plain["record_id"],
        "record_version": plain["version"], "op": plain.get("op") or "",
        "event_id": plain["event_id"], "event_time": plain["occurred_at"],
        "ingest_time": ingested_at_ms, "record": canonical(record)}}


def test_every_demo_and_scenario_event_gives_the_defined_message():
    events = generate(companies=60) + scenario(companies=8, seed=3)
    assert {t for t, _ in events} >= {"account", "opportunity", "contact", "partner_touch",
                                      "partnership"}
    for event_type, record in events:
        assert event_log_entry(event_type, record, 1234) == defined_entry(event_type, record,
                                                                           1234)


def canonical(value) -> str:
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(dt.UTC)) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=8)))
def test_record_json_writes_what_json_writes(record):
    assert record_json(record) == canonical(record)


@pytest.mark.parametrize("value", [
    "Société", "\x7f", "\x00\x1f\n\t\"\\", "\ud800", 1.5, 1e16, (1, "x"), {1: "a"}, 2**70,
    Decimal("1.50"), dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC),
])
def test_values_orjson_writes_otherwise_are_written_by_json(value):
    assert record_json({"b": 1, "a": value}) == canonical({"b": 1, "a": value})


def test_a_value_json_cannot_write_is_refused_as_json_refuses_it():
    with pytest.raises(TypeError):
        canonical({"a": b"bytes"})
    with pytest.raises(TypeError):
        record_json({"a": b"bytes"})
