"""Tenant settings: a control event checked, routed, logged and kept like a partnership."""

import io
import json

import pytest
from fastavro import parse_schema, schemaless_writer

from schemas.catalog import CONTROL_TYPES, SCHEMA_DIR, default_catalog
from schemas.codec import SINGLE_OBJECT_MARKER, Codec
from schemas.exceptions import InvalidEventError
from schemas.raw_message import RawMessage
from schemas.textformat import parse_line
from schemas.validation import MAX_IGNORED_DOMAINS, EventValidator
from sinks.rows import table_rows
from sinks.tables import CRM_EVENTS
from streams.core.pipeline import Pipeline
from streams.deadletter import HEADER_ERROR_FIELD, HEADER_ERROR_TYPE
from streams.ingest import HEADER_FORWARDED_FROM, DeadLetter, Forward, control_event, triage
from streams.routing import Destination, route
from streams.settings import Settings
from streams.sink_inputs import SinkInputs
from tests.factories import account, partnership, tenant_settings

CODEC = Codec()
VALIDATOR = EventValidator()
SETTINGS = Settings()
STAMP = 1_800_000_000_123


def rejection(event):
    with pytest.raises(InvalidEventError) as caught:
        VALIDATOR.check(*event)
    return caught.value


def test_tenant_settings_are_a_control_event_with_its_own_schema():
    assert "tenant_settings" in CONTROL_TYPES
    fields = {f["name"]: f for f in default_catalog().current("tenant_settings").source["fields"]}
    assert fields["ignored_domains"]["default"] == []
    assert all(f.get("doc") for f in fields.values())


def test_plausible_host_names_are_accepted():
    VALIDATOR.check(*tenant_settings("acme", ["acme.com", "Shop.Acme.co.uk", "bücher.de",
                                              "acme-reseller.com."]))
    VALIDATOR.check(*tenant_settings("acme"))  # no domains: nothing ignored
    VALIDATOR.check(*tenant_settings("acme", version=2, op="DELETE"))


@pytest.mark.parametrize(("domain", "reason"), [
    ("acme", "at least two labels"),
    ("https://acme.com/", "without scheme, path"),
    ("sales@acme.com", "without scheme, path"),
    ("acme.com:8080", "without scheme, path"),
    (" acme.com", "without scheme, path"),
    ("10.0.0.1", "an IP address"),
    ("-acme.com", "inner hyphens"),
    ("acme_corp.com", "inner hyphens"),
    ("acme..com", "an empty label"),
    ("b\u2028cher.de", "not a valid internationalized"),
    ("", "non-empty host name"),
    ("a" * 64 + ".com", "1 to 63"),
])
def test_what_is_not_a_host_name_is_refused_naming_the_entry(domain, reason):
    error = rejection(tenant_settings("acme", ["acme.com", domain]))
    assert error.field == "ignored_domains[1]"
    assert reason in error.reason


def test_settings_belong_to_their_tenant_and_are_bounded():
    event_type, record = tenant_settings("acme", ["acme.com"])
    assert rejection((event_type, dict(record, record_id="globex"))).field == "record_id"
    assert rejection((event_type, dict(record, ignored_domains=[7]))).field == \
        "ignored_domains[0]"
    too_many = [f"d{i}.com" for i in range(MAX_IGNORED_DOMAINS + 1)]
    error = rejection(tenant_settings("acme", too_many))
    assert error.field == "ignored_domains" and str(MAX_IGNORED_DOMAINS) in error.reason


def test_a_bad_one_on_the_inbound_topic_is_dead_lettered_with_its_field():
    event_type, record = tenant_settings("acme", ["http://acme.com"])
    payload = CODEC.encode(event_type, record)  # valid Avro: only the contract refuses it
    decision = triage(CODEC, VALIDATOR, RawMessage("in", 0, 1, b"k", payload))
    assert isinstance(decision, DeadLetter)
    headers = dict(decision.headers)
    assert headers[HEADER_ERROR_TYPE] == b"InvalidEventError"
    assert headers[HEADER_ERROR_FIELD] == b"ignored_domains[0]"
    with pytest.raises(InvalidEventError):
        control_event(CODEC, VALIDATOR, payload)  # sent to the control topic directly


def test_a_good_one_goes_to_the_control_topic_keyed_by_its_tenant():
    event_type, record = tenant_settings("acme", ["acme.com"])
    assert route(event_type, record).destination is Destination.CONTROL
    assert route(event_type, record).key == b"acme"
    decision = triage(CODEC, VALIDATOR, RawMessage("in", 0, 1, b"k",
                                                   CODEC.encode(event_type, record)))
    assert isinstance(decision, Forward) and decision.route.key == b"acme"
    decoded = control_event(CODEC, VALIDATOR, CODEC.encode(event_type, record))
    assert decoded.event_type == "tenant_settings"
    assert decoded.record["ignored_domains"] == ["acme.com"]


def test_the_raw_event_log_gets_one_row_whichever_topic_it_was_published_to():
    inputs = SinkInputs(CODEC, VALIDATOR, SETTINGS)
    event_type, record = tenant_settings("acme", ["acme.com", "reseller.co.uk"], version=4)
    value = CODEC.encode(event_type, record)
    (entry,) = inputs(RawMessage(SETTINGS.topic_inbound, 0, 0, b"k", value, STAMP))
    forwarded = RawMessage(SETTINGS.topic_control, 0, 0, b"k", value, STAMP + 5,
                           ((HEADER_FORWARDED_FROM, SETTINGS.topic_inbound.encode()),))
    assert inputs(forwarded) == []
    assert inputs(RawMessage(SETTINGS.topic_control, 0, 0, b"k", value, STAMP)) == [entry]
    ((table, values),) = table_rows(entry)
    row = dict(zip(table.column_names, values, strict=True))
    assert table is CRM_EVENTS
    assert (row["tenant_id"], row["event_type"], row["record_id"], row["record_version"],
            row["op"]) == ("acme", "tenant_settings", "acme", 4, "UPSERT")
    assert json.loads(row["record"])["ignored_domains"] == ["acme.com", "reseller.co.uk"]


def test_the_pipeline_keeps_the_latest_version_per_tenant_and_derives_nothing():
    p = Pipeline()
    p.run([partnership("p1", "acme", "globex", {("globex", "CUSTOMER"): "FULL"}),
           account("acme", "a1", domain="initrode.co.uk"),
           account("globex", "g1", domain="initrode.co.uk")])
    before = p.current()
    newer = tenant_settings("acme", ["acme.com", "reseller.com"], version=3)
    assert p.apply(*newer) == []
    assert p.apply(*tenant_settings("acme", ["old.com"], version=2)) == []  # older: no-op
    assert p.apply(*tenant_settings("globex", ["globex.com"])) == []
    assert p.settings_state["acme"]["d"]["ignored_domains"] == ["acme.com", "reseller.com"]
    assert p.settings_state["globex"]["d"]["ignored_domains"] == ["globex.com"]
    assert p.holds(*newer) and not p.holds(*tenant_settings("acme", version=4))
    p.apply(*tenant_settings("acme", version=5, op="DELETE"))
    assert p.settings_state["acme"]["d"] is None and p.settings_state["acme"]["v"] == 5
    assert p.current() == before


def test_the_sample_event_is_a_valid_tenant_settings_event():
    lines = (SCHEMA_DIR.parent / "samples" / "events.jsonl").read_text().splitlines()
    (sample,) = [parse_line(line) for line in lines if '"tenant_settings"' in line]
    VALIDATOR.check(*sample)
    assert CODEC.decode(CODEC.encode(*sample)).record == sample[1]


def test_overlap_events_written_with_the_previous_schema_decode_with_the_new_fields():
    old = json.loads((SCHEMA_DIR / "archive" / "overlap.1.avsc").read_text())
    version = next(v for v in default_catalog().versions()
                   if v.event_type == "overlap" and v.source == old)
    record = {"event_id": "e1", "tenant_id": "acme", "partner_tenant_id": "globex",
              "partnership_id": "p1", "company_key": "initrode.co.uk",
              "match_method": "domain", "change": "STARTED",
              "tenant_populations": ["CUSTOMER"], "partner_populations": ["CUSTOMER"],
              "partner_account_name": "Initrode", "version": 1, "occurred_at": 0}
    out = io.BytesIO(SINGLE_OBJECT_MARKER + version.fingerprint)
    out.seek(0, io.SEEK_END)
    schemaless_writer(out, parse_schema(old), record)
    decoded = CODEC.decode(out.getvalue()).record
    assert decoded["partner_account_name"] == "Initrode"
    assert (decoded["match_evidence"], decoded["partner_match_method"],
            decoded["partner_match_evidence"]) == ("", None, None)
