"""Internal messages in their versioned Avro schemas (schemas.internal), and the JSON before."""

import datetime as dt
import json
import logging

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import ValidationError

from schemas.exceptions import InternalMessageFormatError, UnknownEventTypeError
from schemas.internal import (
    INTERNAL_SCHEMA_DIR,
    MARKER,
    InternalCodec,
    internal_codec,
    is_internal,
)
from sinks.base import Message
from sinks.clickhouse import sink_message
from sinks.exceptions import SinkDataError
from sinks.rows import table_rows
from streams.core.accounts import SnapshotMessage
from streams.core.companies import ResultChange
from streams.core.homes import RecordPlacement
from streams.core.opportunities import (
    OpportunityLink,
    OpportunityTouches,
    internal_message_from_json,
    is_internal_payload,
)
from streams.core.resolver import Assignment, MatchInput
from streams.settings import Settings
from tests.internal_messages import core_messages, kind_of
from tests.scenario import scenario

CODEC = internal_codec()
SEP = "\u001f"  # the account key's separator
BIG = 2**63 - 1  # the largest Avro long


def read_back(message):
    """``message`` encoded and decoded again, as the stage that reads it makes it."""
    value = CODEC.encode(kind_of(message), message.to_json())
    data = CODEC.decode(value)
    if isinstance(message, SnapshotMessage):
        return value, SnapshotMessage.from_json(message.company_key, data)
    if isinstance(message, MatchInput):
        return value, MatchInput.from_json(message.key, data)
    if isinstance(message, ResultChange):
        return value, ResultChange.from_json(data)
    return value, internal_message_from_json(message.key, data)


def entry(version, data):
    return {"v": version, "t": version, "d": data}


OPPORTUNITY = {"record_id": "opp-ü", "name": "Ærø deal 🚀", "stage": None, "is_closed": False,
               "is_won": None, "amount": "12.5000", "currency": None, "close_date": "2026-12-01",
               "created_at": -1, "occurred_at": BIG}
TOUCH = {"record_id": "t1", "opportunity_record_id": None, "partner_tenant_id": "globex",
         "touch_type": "REFERRAL", "partner_sourced": True, "occurred_at": 0}
SNAPSHOT = {"tenant_id": "acme", "account_record_id": "A-1", "name": "日本の会社",
            "relationship": None, "match_method": "domain", "match_evidence": "",
            "opportunities": [OPPORTUNITY], "touches": [TOUCH], "contacts": 0,
            "last_activity": BIG}
OVERLAP_ROW = {"tenant_id": "acme", "partner_tenant_id": "globex", "company_key": "ex.com",
               "partnership_id": "p1", "match_method": "domain", "match_evidence": "é",
               "tenant_populations": ["CUSTOMER"], "partner_populations": [],
               "counted_partner_populations": ["PROSPECT", "CUSTOMER"], "visible": False,
               "partner_account_name": None, "partner_match_method": None,
               "partner_match_evidence": None, "occurred_at": 1_765_000_000_000}
INTRO_ROW = {"tenant_id": "acme", "partner_tenant_id": "globex", "partnership_id": "p1",
             "company_key": "ex.com", "opportunity_record_id": "o1", "account_record_id": "a1",
             "score": 0.5, "reasons": [], "partner_populations": ["CUSTOMER"], "stage": None,
             "amount": "0", "currency": "EUR", "occurred_at": 0}
ATTRIBUTION_ROW = {"tenant_id": "acme", "partner_tenant_id": "globex",
                   "opportunity_record_id": "o1", "company_key": "ex.com", "model": "linear",
                   "credit": "influenced", "weight": 1.0, "attributed_amount": "99999.9999",
                   "currency": "USD", "closed_at": 1_770_422_399_999, "touch_record_ids": ["t1", "t2"],
                   "occurred_at": 1}

EDGE_MESSAGES = {
    "snapshot": SnapshotMessage("ex.com", f"acme{SEP}A-1", 7, SNAPSHOT),
    "snapshot retracted": SnapshotMessage("ex.com", f"acme{SEP}A-1", BIG, None),
    "snapshot of a bare account": SnapshotMessage("ex.com", "k", 1, dict(
        SNAPSHOT, opportunities=[], touches=[], name=None)),
    "match input": MatchInput(f"acme{SEP}A-1", "acme", [["ex.com", "domain"],
                                                        ["ex.org", "website", "https://ex.org/ü"]],
                              "日本", "JP", 3),
    "match input of a deleted account": MatchInput("k", "acme", [], None, "", 1),
    "assignment": Assignment(f"acme{SEP}A-1", "name:ærø|DK", "name", "name ærø", BIG),
    "no assignment": Assignment("k", None, None, None, 0),
    "link": OpportunityLink("opp-key", "opp-ü", BIG, f"acme{SEP}A-1", False),
    "touches": OpportunityTouches("k", "opp", 2, 5, {"t1": entry(3, dict(TOUCH, extra=1.5)),
                                                     "t2": entry(4, None)}),
    "touches retracted": OpportunityTouches("k", "opp", 3, 6, None),
    "no touches": OpportunityTouches("k", "opp", 3, 6, {}),
    "placement": RecordPlacement("k", "contact", "c-ü", entry(-5, {"tenant_id": "acme", "n": 0,
                                                                  "ok": True, "none": None})),
    "tombstone placement": RecordPlacement("k", "partner_touch", "t1", entry(1, None)),
    "overlap row": ResultChange("overlap", "overlap|acme|globex|ex.com", 3, True, OVERLAP_ROW,
                                None),
    "intro row": ResultChange("intro", "intro|k", 1, False, INTRO_ROW, "WITHDRAWN"),
    "attribution row": ResultChange("attribution", "attribution|k", BIG, True,
                                    ATTRIBUTION_ROW, "RECORDED"),
}


@pytest.mark.parametrize("name", sorted(EDGE_MESSAGES))
def test_every_kind_reads_back_equal_in_its_avro_schema(name):
    message = EDGE_MESSAGES[name]
    value, back = read_back(message)
    assert value[0] == MARKER, "written in its schema, not as JSON"
    assert value[1] == CODEC.current[kind_of(message)].schema_id
    assert back == message
    assert len(value) < len(json.dumps(message.to_json()).encode())


@pytest.mark.parametrize("name", sorted(EDGE_MESSAGES))
def test_the_json_an_earlier_worker_wrote_reads_the_same(name):
    message = EDGE_MESSAGES[name]
    old = json.dumps(message.to_json()).encode()
    assert is_internal(old) and is_internal_payload(old)
    assert CODEC.decode(old) == CODEC.decode(CODEC.encode(kind_of(message), message.to_json()))


@pytest.mark.parametrize("data", [
    dict(EDGE_MESSAGES["snapshot"].to_json(), seq=2**64 + 1),  # beyond Avro's long
    dict(EDGE_MESSAGES["snapshot"].to_json(), snapshot=dict(SNAPSHOT, region="EU")),
    dict(EDGE_MESSAGES["snapshot"].to_json(), snapshot={k: v for k, v in SNAPSHOT.items()
                                                        if k != "relationship"}),
    dict(EDGE_MESSAGES["placement"].to_json(), entry=entry(1, {"tags": ["a", "b"]})),
    dict(EDGE_MESSAGES["overlap row"].to_json(), version=-(2**70)),
])
def test_what_a_schema_cannot_hold_exactly_goes_as_json_unchanged(data, caplog):
    codec = InternalCodec()
    kind = data.get("kind", "snapshot")
    with caplog.at_level(logging.WARNING, logger="schemas.internal"):
        value = codec.encode(kind, data)
        assert codec.encode(kind, data) == value
    assert value[:1] == b"{"
    assert codec.decode(value) == data
    assert codec.json_fallbacks == 2
    # Visible, once per kind.
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"internal {kind} message written as JSON"]


def test_every_message_the_core_makes_fits_its_schema():
    made = core_messages(scenario(companies=30))
    assert set(made) == CODEC.kinds, "the scenario makes every kind"
    for kind, messages in made.items():
        for m in messages:
            value, back = read_back(m)
            assert value[0] == MARKER, f"{kind} written as JSON: {m}"
            assert back == m


@pytest.mark.parametrize(("value", "error"), [
    (b"", "starts with nothing"),
    (b"\x00\x00\x00\x00\x01", "neither a JSON object"),
    (b"[1]", "neither a JSON object"),
    (b"{oops", "not JSON"),
    (bytes([MARKER]), "unknown schema id none"),
    (bytes([MARKER, 0xFF]), "unknown schema id ff"),
    (bytes([MARKER, 6]) + b"\x02", "does not decode as coselling.internal.Assignment v1"),
    (CODEC.encode("link", EDGE_MESSAGES["link"].to_json()) + b"\x00", "1 bytes after"),
])
def test_a_message_in_neither_format_is_a_typed_error(value, error):
    with pytest.raises(InternalMessageFormatError, match=error):
        CODEC.decode(value)


def test_unknown_kind_is_refused_on_encode():
    with pytest.raises(UnknownEventTypeError):
        CODEC.encode("gossip", {"kind": "gossip"})


def test_schema_ids_are_unique_bytes_and_every_kind_has_a_current_version():
    ids = [s.schema_id for s in CODEC.by_id.values()]
    assert len(ids) == len(set(ids)) and all(0 < i < 256 for i in ids)
    assert {s.full_name.split(".")[1] for s in CODEC.by_id.values()} == {"internal"}
    assert internal_codec() is CODEC, "parsed once per process"


@pytest.mark.parametrize("kind", ["overlap row", "intro row", "attribution row"])
def test_the_sink_makes_the_same_rows_from_either_format(kind):
    change = EDGE_MESSAGES[kind]
    avro = Message("sink", 0, 1, None, CODEC.encode(change.kind, change.to_json()))
    old = Message("sink", 0, 2, None, json.dumps(change.to_json()).encode())
    (from_avro,), (from_json,) = sink_message(avro), sink_message(old)
    assert from_avro == from_json == change.to_json()
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert table_rows(from_avro, now=now) == table_rows(from_json, now=now)


def test_the_sink_rejects_a_sink_message_in_neither_format():
    with pytest.raises(SinkDataError, match="unknown schema id"):
        sink_message(Message("sink", 0, 1, None, bytes([MARKER, 200])))


def test_an_upgrade_can_write_what_earlier_workers_read_until_none_is_left():
    message = EDGE_MESSAGES["snapshot"]
    value = InternalCodec(write="json").encode("snapshot", message.to_json())
    assert json.loads(value) == message.to_json(), "what an earlier worker reads"
    assert CODEC.decode(value) == message.to_json()
    assert internal_codec("json").write_json and not internal_codec().write_json
    with pytest.raises(ValueError, match="internal format 'xml'"):
        InternalCodec(write="xml")


def test_the_internal_format_setting_is_checked():
    assert Settings().internal_format == "avro"
    assert Settings(internal_format="json").internal_format == "json"
    with pytest.raises(ValidationError, match="internal_format must be avro or json"):
        Settings(internal_format="xml")


#: Every released internal schema: what its id names must never change, since messages
#: written with it stay in the topics. A change is a new version with a new id.
RELEASED = {  # id: (kind, version, CRC-64-AVRO of the parsing canonical form)
    1: ("overlap", 1, "cf8447b574d80e28"),
    2: ("intro", 1, "b690a9cc0bd208d2"),
    3: ("attribution", 1, "0d5bf59afa0b7d2d"),
    4: ("snapshot", 1, "3315819c0896acd4"),
    5: ("match_input", 1, "4b27f792567a2f87"),
    6: ("assigned", 1, "bc79501a61d6e8a2"),
    7: ("link", 1, "4f7525236e053d02"),
    8: ("touches", 1, "ed6958c013e7e6b1"),
    9: ("placed", 1, "89b885f8f500ec95"),
}


def test_a_released_schema_is_never_changed_in_place():
    for path in sorted(INTERNAL_SCHEMA_DIR.glob("*.avsc")):
        source = json.loads(path.read_text())
        schema_id = source["coselling.id"]
        if schema_id not in RELEASED:
            continue  # new: pin it here once released
        kind, version, pinned = RELEASED[schema_id]
        assert (source["coselling.kind"], source["coselling.version"]) == (kind, version)
        assert fingerprint(to_parsing_canonical_form(source), "CRC-64-AVRO") == pinned, \
            f"{path.name} changed: add {kind}.v{version + 1}.avsc with a new id instead"
    assert set(RELEASED) <= set(CODEC.by_id), "a released schema is gone"
