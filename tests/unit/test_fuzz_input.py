"""No input crashes the file reader, the validator, the ingest decision or the core.

Thousands of generated rows: random bytes, random JSON and mutated valid events. Each must
end as an accepted event or a typed rejection (a CosellingError), never anything else.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import SCHEMA_DIR, default_catalog
from schemas.codec import Codec
from schemas.exceptions import CosellingError, TextFormatError
from schemas.raw_message import RawMessage
from schemas.textformat import parse_line
from schemas.validation import EventValidator
from streams.core.eventlog import event_log_entry
from streams.core.pipeline import Pipeline
from streams.event_files import EventFile
from streams.exceptions import StreamConfigError
from streams.ingest import DeadLetter, Forward, triage
from tests.strategies import records

SAMPLES = SCHEMA_DIR.parent / "samples"
BASES = [json.loads(line) for name in ("events.jsonl", "results.jsonl")
         for line in (SAMPLES / name).read_text().splitlines()]
VALIDATOR = EventValidator()
CODEC = Codec()

def fuzz(examples: int):
    """Hypothesis settings for ``examples`` generated inputs, without time limits."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Values that sit on or past an edge somewhere in the pipeline.
NASTY = ["", " ", "\x1f", "a\x00b", "\ud800", "x" * 3000, -1, 0, 2**63, -(2**63) - 1,
         10**30, 1.5, float("inf"), True, None, [], {}, "9999-12-31T23:59:59-05:00",
         "0001-01-01T00:00:00+01:00", "2026-10-02T10:00:00", 253402300800000,
         -62135596800001, "1e999", "NaN", "DELETE", "overlap"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


@st.composite
def mutated_events(draw) -> dict[str, Any]:
    """A valid sample event with one to three fields removed, replaced or added."""
    event = dict(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(event)) | st.text(max_size=6))
        action = draw(st.integers(0, 2))
        if action == 0:
            event.pop(key, None)
        else:
            event[key] = draw(st.sampled_from(NASTY) if action == 1 else json_values)
    return event


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


DEEP = [b"[" * 100_000, b'{"a":' * 50_000, b'{"type": "account", "name": ' + b"[" * 5000]

rows = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\x00", b"")),
    st.sampled_from(DEEP),
    json_values.map(_line),
    mutated_events().map(_line),
    mutated_events().map(_line),
)


def _accepted_stays_accepted(event_type: str, record: dict[str, Any]) -> None:
    """What passes the validator goes through the core and the event log without a crash."""
    VALIDATOR.check(event_type, record)
    event_log_entry(event_type, record, 0)
    try:
        Pipeline().apply(event_type, record)
    except CosellingError:
        pass


@fuzz(150)  # about 4,500 rows
@given(st.lists(rows, min_size=1, max_size=60))
def test_the_file_reader_gives_events_or_rejections_by_line(lines):
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(data)
        try:
            items = list(EventFile(path).read())
        except StreamConfigError as exc:  # refused as a whole, in one line
            assert ("not a text file" in str(exc)
                    or (data.startswith(b"Obj\x01")
                        and "not a readable Avro container file" in str(exc)))
            return
    assert len(items) <= len(lines)
    for item in items:
        if isinstance(item, TextFormatError):
            assert 1 <= item.line <= len(lines) and item.reason
        else:
            lineno, event_type, record = item
            assert 1 <= lineno <= len(lines)
            _accepted_stays_accepted(event_type, record)


NASTY_CSV = [b'001,"' + b"x" * 140_000, b'001,"a"b,2026-10-01', b"001,,", b'"', b",,,,,,,,",
             b"001,Caf\xe9,2026-10-01T10:00:00Z", b"001,Initrode,2026-10-01T10:00:00Z",
             b"001,Initrode,1969-10-01T10:00:00Z,https://x\xff"]


@fuzz(80)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b""))
                | st.sampled_from(NASTY_CSV), max_size=40))
def test_the_csv_reader_gives_events_or_rejections_by_line(lines):
    data = b"Id,Name,SystemModstamp,Website\n" + b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        try:
            items = list(EventFile(path, tenant="acme").read())
        except StreamConfigError:
            return
    for item in items:
        if not isinstance(item, TextFormatError):
            _accepted_stays_accepted(item[1], item[2])


@fuzz(2000)
@given(st.one_of(mutated_events(), st.dictionaries(st.text(max_size=12), json_values)))
def test_the_validator_only_raises_typed_rejections(event):
    try:
        event_type, record = parse_line(json.dumps(event))
    except TextFormatError:
        event_type, record = str(event.pop("type", "account")), event
    try:
        VALIDATOR.check(event_type, record)
    except CosellingError:
        return


event_types = st.sampled_from(default_catalog().event_types)


@st.composite
def encoded_events(draw) -> bytes:
    """Any Avro-encodable event (values the validator may refuse), sometimes cut or bent."""
    event_type = draw(event_types)
    payload = CODEC.encode(event_type, draw(records(default_catalog().current(event_type))))
    cut = draw(st.integers(0, 2))
    if cut == 1:
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif cut == 2:
        i = draw(st.integers(0, len(payload) - 1))
        payload = payload[:i] + bytes([draw(st.integers(0, 255))]) + payload[i + 1:]
    return payload


@fuzz(2000)
@given(st.one_of(st.binary(max_size=120), st.none(), encoded_events(), encoded_events()))
def test_the_ingest_decision_forwards_or_dead_letters_with_a_typed_error(value):
    decision = triage(CODEC, VALIDATOR, RawMessage("in", 0, 7, b"k", value))
    if isinstance(decision, DeadLetter):
        assert isinstance(decision.error, CosellingError), repr(decision.error)
        assert dict(decision.headers)["coselling.source.offset"] == b"7"
    else:
        assert isinstance(decision, Forward)
        _accepted_stays_accepted(decision.decoded.event_type, decision.decoded.record)
