"""The event contract's validator: each rule, its limits from the settings, its users."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from schemas.codec import Codec
from schemas.exceptions import InvalidEventError
from schemas.raw_message import RawMessage
from schemas.textformat import parse_line
from schemas.validation import EventLimits, EventValidator
from streams.deadletter import HEADER_ERROR_FIELD, HEADER_ERROR_MESSAGE, HEADER_ERROR_TYPE
from streams.demo_data import generate
from streams.ingest import DeadLetter, Forward, triage
from streams.settings import Settings

VALIDATOR = EventValidator()
ACCOUNT = {"type": "account", "event_id": "e1", "tenant_id": "acme", "source": "sf",
           "record_id": "a1", "version": 3, "occurred_at": "2026-10-02T10:00:00Z",
           "op": "UPSERT", "name": "Initrode", "relationship": "CUSTOMER"}
TOUCH = {"type": "partner_touch", "event_id": "e2", "tenant_id": "acme", "source": "sf",
         "record_id": "t1", "version": 1, "occurred_at": "2026-10-02T10:00:00Z",
         "op": "UPSERT", "partner_tenant_id": "globex", "touch_type": "REFERRAL"}


def parsed(base: dict, **changes) -> tuple[str, dict]:
    return parse_line(json.dumps({**base, **changes}))


def rejection(event: tuple[str, dict], validator: EventValidator = VALIDATOR
              ) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as caught:
        validator.check(*event)
    return caught.value


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"version": -1}, "version", "must be an integer of 0 or more, got -1"),
    ({"tenant_id": ""}, "tenant_id", "must not be empty"),
    ({"record_id": "   "}, "record_id", "must not be empty"),
    ({"event_id": " e1"}, "event_id", "starts or ends with blanks"),
    ({"record_id": "a\x1fb"}, "record_id", "contains control or invisible characters"),
    ({"tenant_id": "t" * 257}, "tenant_id", "is 257 characters long; ids are at most 256"),
    ({"name": "n" * 2001}, "name", "is 2001 characters long; text is at most 2000"),
    ({"website": "caf\udce9"}, "website", "is not valid UTF-8 text"),
    ({"occurred_at": "9999-01-01T00:00:00Z"}, "occurred_at",
     "9999-01-01T00:00:00Z is outside the accepted time window 1970-01-01T00:00:00Z to "
     "2100-01-01T00:00:00Z"),
    ({"occurred_at": -1}, "occurred_at", "1969-12-31T23:59:59.999000Z is outside"),
])
def test_each_limit_rejects_with_the_field_and_reason(changes, field, reason):
    error = rejection(parsed(ACCOUNT, **changes))
    assert error.field == field and reason in error.reason
    assert str(error).startswith(f"field {field!r}: ")


def test_the_window_edges_and_zero_version_are_accepted():
    VALIDATOR.check(*parsed(ACCOUNT, occurred_at=0, version=0))
    VALIDATOR.check(*parsed(ACCOUNT, occurred_at="2099-12-31T23:59:59.999Z"))
    VALIDATOR.check(*parsed(ACCOUNT, name="n" * 2000, tenant_id="t" * 256))
    assert "outside" in rejection(parsed(ACCOUNT, occurred_at="2100-01-01T00:00:00Z")).reason


def test_dates_and_other_timestamps_are_in_the_window_too():
    opp = {**ACCOUNT, "type": "opportunity", "account_record_id": "a1", "stage": "Won",
           "is_closed": True, "is_won": True, "amount": 10, "currency": "USD"}
    del opp["relationship"]
    VALIDATOR.check(*parsed(opp, close_date="2026-12-01", created_at="1999-01-01T00:00:00Z"))
    error = rejection(parsed(opp, close_date="2200-01-01"))
    assert error.field == "close_date" and "2200-01-01 is outside the accepted dates" in error.reason
    assert rejection(parsed(opp, created_at="1900-01-01T00:00:00Z")).field == "created_at"


def test_results_are_not_input():
    record = {"event_id": "x", "tenant_id": "acme"}
    for event_type in ("overlap", "intro", "attribution"):
        error = rejection((event_type, record))
        assert error.field == "type" and "pipeline output, not input" in error.reason


def test_references_contacts_and_touches_need():
    contact = {**ACCOUNT, "type": "contact", "title": "CTO"}
    del contact["name"], contact["relationship"]
    error = rejection(parsed(contact))
    assert error.field == "account_record_id" and "a contact must name its account" in error.reason
    VALIDATOR.check(*parsed(contact, account_record_id="a1"))
    error = rejection(parsed(TOUCH))
    assert error.field == "account_record_id"
    assert "opportunity_record_id, its account_record_id or both" in error.reason
    VALIDATOR.check(*parsed(TOUCH, account_record_id="a1"))
    VALIDATOR.check(*parsed(TOUCH, opportunity_record_id="o1"))  # routed by its opportunity
    assert rejection(parsed(TOUCH, opportunity_record_id="")).field == "opportunity_record_id"


def test_partnership_rules_name_tenants():
    partnership = {**ACCOUNT, "type": "partnership", "partnership_id": "p", "tenant_a": "acme",
                   "tenant_b": "globex", "status": "ACTIVE",
                   "sharing": [{"from_tenant": "acme", "population": "CUSTOMER",
                                "level": "FULL"}]}
    del partnership["name"], partnership["relationship"]
    VALIDATOR.check(*parsed(partnership))
    assert rejection(parsed(partnership, tenant_b="")).field == "tenant_b"
    bad_rule = [{"from_tenant": "", "population": "CUSTOMER", "level": "FULL"}]
    assert rejection(parsed(partnership, sharing=bad_rule)).field == "sharing[0].from_tenant"


def test_a_delete_with_only_its_envelope_is_accepted():
    envelope = {k: ACCOUNT[k] for k in ("type", "event_id", "tenant_id", "source",
                                        "record_id", "version", "occurred_at")}
    VALIDATOR.check(*parsed(envelope, op="DELETE"))


def test_limits_come_from_the_settings(monkeypatch):
    monkeypatch.setenv("COSELLING_MAX_ID_LENGTH", "4")
    monkeypatch.setenv("COSELLING_MAX_TEXT_LENGTH", "5")
    monkeypatch.setenv("COSELLING_EARLIEST_EVENT_TIME", "2000-01-01T00:00:00Z")
    monkeypatch.setenv("COSELLING_LATEST_EVENT_TIME", "2300-01-01T00:00:00+00:00")
    settings = Settings.load()
    assert settings.event_limits() == EventLimits(
        4, 5, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2300, 1, 1, tzinfo=dt.UTC))
    validator = settings.event_validator
    assert rejection(parsed(ACCOUNT, record_id="abcde"), validator).field == "record_id"
    assert rejection(parsed(ACCOUNT, name="Initrode"), validator).field == "name"
    assert rejection(parsed(ACCOUNT, name="I", occurred_at="1999-12-31T00:00:00Z"),
                     validator).field == "occurred_at"
    validator.check(*parsed(ACCOUNT, name="I", occurred_at="2250-01-01T00:00:00Z"))


def test_a_window_that_ends_before_it_starts_is_a_settings_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="COSELLING_EARLIEST_EVENT_TIME .* must be before COSELLING_LATEST_EVENT_TIME"):
        Settings(earliest_event_time="2030-01-01T00:00:00Z",
                 latest_event_time="2020-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match="time zone"):
        Settings(earliest_event_time="2030-01-01T00:00:00")


def test_demo_data_passes_the_validator():
    events = generate(companies=200, seed=7)
    for event_type, record in events:
        VALIDATOR.check(event_type, record)


def test_the_worker_dead_letters_what_files_reject_with_the_same_field_and_reason():
    codec = Codec()
    event = parsed(ACCOUNT, version=-5)
    payload = codec.encode(*event)  # valid Avro: only the contract refuses it
    decision = triage(codec, VALIDATOR, RawMessage("in", 2, 40, b"k", payload))
    assert isinstance(decision, DeadLetter) and decision.value == payload
    headers = dict(decision.headers)
    expected = rejection(event)
    assert headers[HEADER_ERROR_TYPE] == b"InvalidEventError"
    assert headers[HEADER_ERROR_FIELD] == b"version"
    assert headers[HEADER_ERROR_MESSAGE].decode() == str(expected)
    assert isinstance(triage(codec, VALIDATOR, RawMessage("in", 2, 41, b"k",
                                                          codec.encode(*parsed(ACCOUNT)))),
                      Forward)


def test_the_readme_documents_the_limits_with_their_defaults():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in ("max_id_length", "max_text_length", "earliest_event_time",
                 "latest_event_time"):
        default = Settings.model_fields[name].default
        shown = default.isoformat().replace("+00:00", "Z") if isinstance(
            default, dt.datetime) else str(default)
        assert f"| `COSELLING_{name.upper()}` | `{shown}` |" in readme, name


def test_a_partnership_the_cli_would_send_is_checked_before_kafka_is_contacted():
    from streams.commands.partnership import _event, _send

    record = _event("acme\x1fglobex", "acme", "globex", "ACTIVE", [], None)
    with pytest.raises(InvalidEventError, match="field 'record_id': contains control"):
        _send(Settings(kafka_bootstrap_servers="127.0.0.1:1"), record)


ENVELOPE = {"event_id": "d1", "tenant_id": "acme", "source": "sf", "record_id": "r1",
            "version": 2, "occurred_at": "2026-10-02T10:00:00Z", "op": "DELETE"}


@pytest.mark.parametrize(("event_type", "routing"), [
    ("account", {}),
    ("partnership", {}),
    ("opportunity", {"account_record_id": "a1"}),
    ("contact", {"account_record_id": "a1"}),
    ("partner_touch", {"opportunity_record_id": "o1"}),
    ("partner_touch", {"account_record_id": "a1"}),
])
def test_a_delete_needs_only_its_envelope_and_the_ids_it_is_routed_by(event_type, routing):
    event = parse_line(json.dumps({"type": event_type, **ENVELOPE, **routing}))
    VALIDATOR.check(*event)  # the neutral values of the other fields are not checked


@pytest.mark.parametrize(("event_type", "field", "reason"), [
    ("opportunity", "account_record_id", "a DELETE (opportunity) must still name its "
     "account_record_id"),
    ("partner_touch", "account_record_id", "must name its opportunity_record_id, its "
     "account_record_id or both"),
])
def test_a_delete_without_the_id_it_is_routed_by_is_rejected(event_type, field, reason):
    error = rejection(parse_line(json.dumps({"type": event_type, **ENVELOPE})))
    assert error.field == field and reason in str(error)


def test_a_delete_envelope_is_still_checked():
    event = parse_line(json.dumps({"type": "account", **ENVELOPE, "tenant_id": "",
                                   "version": 2}))
    assert rejection(event).field == "tenant_id"
    event = parse_line(json.dumps({"type": "account", **ENVELOPE,
                                   "occurred_at": "1969-12-31T23:59:59Z"}))
    assert rejection(event).field == "occurred_at"
