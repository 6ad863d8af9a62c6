import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas.catalog import CONTROL_TYPES, INBOUND_TYPES, OUTBOUND_TYPES, SCHEMA_DIR
from schemas.exceptions import TextFormatError
from schemas.textformat import parse_line, read_jsonl, to_json

SAMPLE = SCHEMA_DIR.parent / "samples" / "events.jsonl"
RESULTS_SAMPLE = SCHEMA_DIR.parent / "samples" / "results.jsonl"

ACCOUNT = {
    "type": "account",
    "event_id": "e1",
    "tenant_id": "acme",
    "source": "hubspot",
    "record_id": "a1",
    "version": 7,
    "occurred_at": "2026-11-02T10:00:00+01:00",
    "op": "UPSERT",
    "name": "Initrode",
    "relationship": "CUSTOMER",
}


def line(**changes):
    obj = dict(ACCOUNT, **changes)
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


def test_sample_files_parse_and_cover_every_event_type():
    with SAMPLE.open() as f:
        inputs = {t for _, t, _ in read_jsonl(f)}
    with RESULTS_SAMPLE.open() as f:
        results = {t for _, t, _ in read_jsonl(f)}
    assert inputs == set(INBOUND_TYPES + CONTROL_TYPES)
    assert results == set(OUTBOUND_TYPES)
    assert inputs | results == {p.stem for p in SCHEMA_DIR.glob("*.avsc")}


def test_timestamps_offsets_and_epoch_millis():
    _, rec = parse_line(line())
    assert rec["occurred_at"] == dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    _, rec = parse_line(line(occurred_at=1793610000123))
    assert rec["occurred_at"] == dt.datetime(2026, 11, 2, 9, 0, 0, 123000, tzinfo=dt.UTC)
    with pytest.raises(TextFormatError, match="UTC offset") as err:
        parse_line(line(occurred_at="2026-11-02T10:00:00"), lineno=4)
    assert err.value.line == 4 and err.value.field == "occurred_at"


def test_defaults_fill_optional_fields():
    _, rec = parse_line(line())
    assert rec["website"] is None and rec["domain"] is None and rec["industry"] is None


def test_unknown_field_is_rejected_with_line_and_field():
    with pytest.raises(TextFormatError) as err:
        parse_line(line(colour="red"), lineno=12)
    assert str(err.value) == "line 12: unknown field 'colour'"
    assert err.value.field == "colour"


def test_missing_required_field_is_rejected_with_line_and_field():
    with pytest.raises(TextFormatError) as err:
        parse_line(line(name=...), lineno=3)
    assert str(err.value) == "line 3: missing required field 'name'"


def test_wrong_types_and_enums():
    with pytest.raises(TextFormatError, match="'version': expected an integer, got the string"):
        parse_line(line(version="7"))
    with pytest.raises(TextFormatError, match="'relationship': expected one of CUSTOMER"):
        parse_line(line(relationship="FRIEND"))
    with pytest.raises(TextFormatError, match='missing "type"'):
        parse_line(json.dumps({"event_id": "x"}))
    with pytest.raises(TextFormatError, match="unknown event type 'lead'"):
        parse_line(line(type="lead"))
    with pytest.raises(TextFormatError, match="not valid JSON"):
        parse_line("{nope")


def test_nested_fields_are_named_with_their_path():
    base = {
        "type": "partnership",
        "event_id": "e",
        "tenant_id": "a",
        "source": "cli",
        "record_id": "p",
        "version": 1,
        "occurred_at": 0,
        "op": "UPSERT",
        "partnership_id": "p",
        "tenant_a": "a",
        "tenant_b": "b",
        "status": "ACTIVE",
        "sharing": [{"from_tenant": "a", "population": "CUSTOMER", "level": "LOUD"}],
    }
    with pytest.raises(TextFormatError) as err:
        parse_line(json.dumps(base))
    assert err.value.field == "sharing[0].level"


def test_amounts_are_exact_decimals():
    opp = {
        "type": "opportunity",
        "event_id": "e",
        "tenant_id": "a",
        "source": "s",
        "record_id": "o",
        "version": 1,
        "occurred_at": 0,
        "op": "UPSERT",
        "account_record_id": "a1",
        "name": "n",
        "stage": "s",
        "is_closed": False,
        "is_won": False,
        "amount": 0.1,
        "currency": "USD",
        "close_date": "2026-12-01",
    }
    _, rec = parse_line(json.dumps(opp))
    assert rec["amount"] == Decimal("0.1") and rec["close_date"] == dt.date(2026, 12, 1)
    with pytest.raises(TextFormatError, match="at most 4 decimal places"):
        parse_line(json.dumps(dict(opp, amount=0.123456)))
    with pytest.raises(TextFormatError, match="below 10"):
        parse_line(json.dumps(dict(opp, amount=1e20)))
    with pytest.raises(TextFormatError, match="YYYY-MM-DD"):
        parse_line(json.dumps(dict(opp, close_date="12/01/2026")))


def test_delete_needs_only_the_envelope():
    obj = {
        "type": "opportunity",
        "event_id": "e",
        "tenant_id": "a",
        "source": "s",
        "record_id": "o",
        "version": 9,
        "occurred_at": 0,
        "op": "DELETE",
    }
    _, rec = parse_line(json.dumps(obj))
    assert rec["op"] == "DELETE" and rec["version"] == 9 and rec["amount"] == 0
    with pytest.raises(TextFormatError, match="missing required field 'version'"):
        parse_line(json.dumps({k: v for k, v in obj.items() if k != "version"}))


def test_to_json_is_the_inverse_of_parse_line():
    with SAMPLE.open() as f:
        for _, event_type, record in read_jsonl(f):
            assert parse_line(to_json(event_type, record)) == (event_type, record)


def test_read_jsonl_skips_blank_lines_and_reports_the_right_line():
    lines = [line(), "", line(version="x")]
    with pytest.raises(TextFormatError, match="^line 3: "):
        list(read_jsonl(lines))
