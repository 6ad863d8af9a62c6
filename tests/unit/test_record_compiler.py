"""The compiled converters give what the schema walker gives, and leave it every bad row."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.catalog import default_catalog
from schemas.exceptions import TextFormatError
from schemas.record_compiler import Fallback
from schemas.textformat import _compiled, _Converter, parse_line, parse_plain_line, to_json
from streams.demo_data import generate

SAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "samples"


def walked(event_type: str, obj: dict) -> dict:
    schema = default_catalog().current(event_type)
    return _Converter(schema.named, None).record(schema.parsed, obj, "")


def lines() -> list[str]:
    found = [line for name in ("events.jsonl", "scenario.jsonl")
             for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return found + [to_json(t, r) for t, r in generate(companies=40)]


def test_every_sample_and_demo_row_converts_as_the_walker_converts_it():
    compared = 0
    for line in lines():
        obj = json.loads(line, parse_float=Decimal)
        event_type = obj.pop("type")
        if obj.get("op") == "DELETE":
            continue  # DELETEs are always walked (neutral values for missing fields)
        fast = _compiled(default_catalog().current(event_type))(dict(obj))
        assert fast == walked(event_type, dict(obj))
        assert [type(v) for v in fast.values()] == \
            [type(v) for v in walked(event_type, dict(obj)).values()]
        compared += 1
    assert compared > 500


BAD = [
    {"version": "7"}, {"version": True}, {"version": 2**63}, {"occurred_at": "2026-11-02"},
    {"occurred_at": "2026-11-02T10:00:00"}, {"occurred_at": True}, {"occurred_at": 10**20},
    {"colour": "red"}, {"op": "MERGE"}, {"op": 1}, {"name": 5}, {"amount": 0.123456},
    {"amount": 1e20}, {"amount": "NaN"}, {"amount": "abc"}, {"amount": True},
    {"close_date": "12/01/2026"}, {"close_date": 20261201}, {"is_won": "yes"},
    {"is_closed": 1}, {"created_at": "yesterday"}, {"currency": None},
]


@pytest.mark.parametrize("change", BAD, ids=[next(iter(c)) + "=" + repr(c[next(iter(c))])
                                             for c in BAD])
def test_a_bad_value_is_left_to_the_walker_and_rejected_as_before(change):
    opportunity = next(json.loads(line) for line in lines()
                       if '"type": "opportunity"' in line and '"DELETE"' not in line)
    line = json.dumps({**opportunity, **change})
    obj = json.loads(line, parse_float=Decimal)
    event_type = obj.pop("type")
    with pytest.raises(Fallback):
        _compiled(default_catalog().current(event_type))(dict(obj))
    with pytest.raises(TextFormatError) as walker:
        walked(event_type, dict(obj))
    with pytest.raises(TextFormatError) as parsed:
        parse_line(line, lineno=3)
    assert parsed.value.field == walker.value.field
    assert str(parsed.value).endswith(str(walker.value))


def test_a_missing_field_is_left_to_the_walker():
    account = next(json.loads(line) for line in lines() if '"type": "account"' in line)
    del account["name"]
    with pytest.raises(TextFormatError, match="missing required field 'name'"):
        parse_line(json.dumps(account))


ODD_LINES = [
    b"", b"   ", b"not json", b"[1, 2]", b'{"type": 5}', b'{"type": "nope"}',
    b'\xef\xbb\xbf{"type": "account"}', b'{"type": "account", "name": "\xff"}',
    b'{"amount": NaN}', b'{"type": "account", "version": 18446744073709551616}',
]


def test_lines_read_by_orjson_give_what_parse_line_gives_and_the_rest_are_left_to_it():
    """parse_plain_line is parse_line, or None: floats, DELETEs and bad rows go the slow way."""
    opportunity = next(json.loads(line) for line in lines()
                       if json.loads(line)["type"] == "opportunity")
    variants = [dict(opportunity, amount=amount) for amount in
                (7, "7.5", 0.30000000000000001, 12345678901234.5678, 5200.0, -0.0, 1e3)]
    variants += [dict(opportunity, name=name) for name in ("Société", "\u2028", '"\\', "\x7f")]
    variants.append(dict(opportunity, op="DELETE"))
    raw = [line.encode() for line in lines()] + ODD_LINES + [
        json.dumps(v, ensure_ascii=ascii).encode() for v in variants for ascii in (True, False)]
    fast = 0
    for line in raw:
        plain = parse_plain_line(line)
        try:
            expected = parse_line(line.decode())
        except (TextFormatError, UnicodeDecodeError):
            assert plain is None, line
            continue
        if plain is None:
            continue
        fast += 1
        assert plain == expected, line
        assert [type(v) for v in plain[1].values()] == [type(v) for v in expected[1].values()]
    assert fast > 300
    # A number with a fraction is a float to orjson: never the fast way (exact decimals).
    assert all(parse_plain_line(json.dumps(v).encode()) is None for v in variants
               if isinstance(v["amount"], float))
