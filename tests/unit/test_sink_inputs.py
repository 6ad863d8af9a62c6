"""What the sink makes of each topic it reads, without Kafka or ClickHouse."""

import datetime as dt

import pytest

from schemas.codec import Codec
from schemas.raw_message import RawMessage
from schemas.validation import EventValidator
from sinks.exceptions import SinkDataError
from sinks.rows import table_rows
from streams.core.outbound import ROW_CARRYING_KINDS, outbound_event
from streams.core.pipeline import Pipeline
from streams.ingest import HEADER_FORWARDED_FROM, Forward, triage
from streams.settings import Settings
from streams.sink_inputs import SinkInputs
from tests.factories import account, partnership
from tests.scenario import scenario

CODEC = Codec()
VALIDATOR = EventValidator()
SETTINGS = Settings()
INPUTS = SinkInputs(CODEC, VALIDATOR, SETTINGS)
STAMP = 1_800_000_000_123
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def message(topic: str, value: bytes | None, *, offset: int = 0,
            timestamp: int | None = STAMP) -> RawMessage:
    return RawMessage(topic, 0, offset, b"k", value, timestamp)


def test_an_accepted_inbound_event_is_logged_with_its_kafka_timestamp_every_time():
    event_type, record = account("acme", "001", domain="initech.com")
    m = message(SETTINGS.topic_inbound, CODEC.encode(event_type, record))
    first, again = INPUTS(m), INPUTS(m)
    assert first == again  # a re-read after a crash gives the same row
    (entry,) = first
    assert entry["kind"] == "crm_event"
    assert entry["row"]["ingest_time"] == STAMP
    assert (entry["row"]["tenant_id"], entry["row"]["record_id"]) == ("acme", "001")


def test_what_the_worker_dead_letters_is_neither_logged_nor_rejected_by_the_sink():
    event_type, record = account("acme", "001")
    invalid = CODEC.encode(event_type, dict(record, version=-1))
    for value in (b"\x09garbage", None, invalid):
        m = message(SETTINGS.topic_inbound, value)
        assert not isinstance(triage(CODEC, VALIDATOR, m), Forward)  # the worker's decision
        assert INPUTS(m) == []  # no row, and no SinkDataError: not dead-lettered twice


def test_a_partnership_is_logged_once_whichever_topic_it_was_published_to():
    event_type, record = partnership("p1", "acme", "globex", {})
    value = CODEC.encode(event_type, record)
    (entry,) = INPUTS(message(SETTINGS.topic_inbound, value))
    assert entry["row"]["event_type"] == "partnership"
    assert entry["row"]["ingest_time"] == STAMP
    forwarded = RawMessage(SETTINGS.topic_control, 0, 0, b"k", value, STAMP + 5,
                           ((HEADER_FORWARDED_FROM, SETTINGS.topic_inbound.encode()),))
    assert INPUTS(forwarded) == []  # the worker's copy: logged from the inbound topic
    assert INPUTS(message(SETTINGS.topic_control, value)) == [entry]  # published there


def test_the_control_topic_logs_only_what_the_control_stage_accepts():
    event_type, record = account("acme", "001")
    p_type, p_record = partnership("p1", "acme", "globex", {})
    for value in (CODEC.encode(event_type, record), b"\x09garbage", None,
                  CODEC.encode(p_type, dict(p_record, version=-1))):
        assert INPUTS(message(SETTINGS.topic_control, value)) == []


def test_the_sink_topic_is_read_as_before():
    (data,) = INPUTS(message(SETTINGS.topic_sink, b'{"kind": "overlap"}'))
    assert data == {"kind": "overlap"}
    with pytest.raises(SinkDataError, match="not JSON"):
        INPUTS(message(SETTINGS.topic_sink, b"{"))
    with pytest.raises(SinkDataError, match="JSON object"):
        INPUTS(message(SETTINGS.topic_sink, b"[1]"))


def test_intro_and_attribution_events_give_exactly_the_rows_the_sink_topic_gave():
    changes = [c for c in Pipeline().run(scenario(companies=40, seed=7))
               if c.kind in ROW_CARRYING_KINDS]
    seen = {(c.kind, c.active) for c in changes}
    assert seen == {("intro", True), ("intro", False), ("attribution", True),
                    ("attribution", False)}
    for change in changes:
        event_type, record = outbound_event(change)
        topic = SETTINGS.topic_intros if event_type == "intro" else SETTINGS.topic_attributions
        (data,) = INPUTS(message(topic, CODEC.encode(event_type, record)))
        assert table_rows(data, now=NOW) == table_rows(change.to_json(), now=NOW)


def test_an_unreadable_outbound_event_is_rejected():
    with pytest.raises(SinkDataError, match="not an intro or attribution event"):
        INPUTS(message(SETTINGS.topic_intros, b"\x09garbage"))
    event_type, record = account("acme", "001")
    with pytest.raises(SinkDataError, match="not an intro or attribution event"):
        INPUTS(message(SETTINGS.topic_attributions, CODEC.encode(event_type, record)))
