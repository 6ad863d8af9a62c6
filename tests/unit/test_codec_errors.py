"""Bad input gets the codec's own typed errors, never a bare exception from deep inside."""

import datetime as dt
import random
import struct
from decimal import Decimal

import pytest

from schemas.catalog import EVENT_TYPES, default_catalog
from schemas.codec import Codec
from schemas.exceptions import (
    CodecError,
    FramingError,
    MissingFieldError,
    PermanentError,
    SchemaMismatchError,
    TruncatedPayloadError,
    UnknownSchemaError,
)
from schemas.registry_client import SchemaRegistryClient
from schemas.textformat import read_jsonl
from tests.unit.test_textformat import SAMPLE


def _opportunity(**changes):
    record = {
        "event_id": "e1",
        "tenant_id": "acme",
        "source": "salesforce",
        "record_id": "006",
        "version": 3,
        "occurred_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        "op": "UPSERT",
        "account_record_id": "001",
        "name": "Deal",
        "stage": "Proposal",
        "is_closed": False,
        "is_won": False,
        "amount": Decimal("1200.50"),
        "currency": "EUR",
        "close_date": None,
        "created_at": None,
    }
    record.update(changes)
    return record


def test_codec_errors_are_permanent_errors():
    assert issubclass(CodecError, PermanentError)


def test_wrong_magic_byte():
    payload = Codec().encode("opportunity", _opportunity())
    with pytest.raises(FramingError, match="unknown magic byte 0x07"):
        Codec().decode(b"\x07" + payload[1:])
    with pytest.raises(FramingError, match="second marker byte"):
        Codec().decode(b"\xc3\x02" + payload[2:])


def test_unknown_fingerprint():
    payload = Codec().encode("opportunity", _opportunity())
    with pytest.raises(UnknownSchemaError, match="unknown schema fingerprint 0000000000000000"):
        Codec().decode(payload[:2] + bytes(8) + payload[10:])


def test_unknown_schema_id(registry_server):
    codec = Codec(registry=SchemaRegistryClient(registry_server.url))
    with pytest.raises(UnknownSchemaError, match="schema id 42 is not in the registry"):
        codec.decode(b"\x00" + struct.pack(">I", 42) + b"\x02")
    with pytest.raises(UnknownSchemaError, match="no schema registry is configured"):
        Codec().decode(b"\x00" + struct.pack(">I", 42) + b"\x02")


def test_truncated_payloads():
    payload = Codec().encode("opportunity", _opportunity())
    with pytest.raises(TruncatedPayloadError, match="empty payload"):
        Codec().decode(b"")
    with pytest.raises(TruncatedPayloadError, match="header needs 10 bytes"):
        Codec().decode(payload[:6])
    with pytest.raises(TruncatedPayloadError, match="Confluent header needs 5 bytes"):
        Codec().decode(b"\x00\x00\x01")
    for cut in (11, 20, len(payload) - 1):
        with pytest.raises(CodecError):
            Codec().decode(payload[:cut])


def test_trailing_bytes_are_rejected():
    payload = Codec().encode("opportunity", _opportunity())
    with pytest.raises(SchemaMismatchError, match="bytes left over"):
        Codec().decode(payload + b"\x00\x00")


def test_field_type_mismatch_names_the_field():
    with pytest.raises(SchemaMismatchError, match="is_closed"):
        Codec().encode("opportunity", _opportunity(is_closed="no"))
    with pytest.raises(SchemaMismatchError, match="version"):
        Codec().encode("opportunity", _opportunity(version="3"))
    with pytest.raises(SchemaMismatchError, match="unknown field.*colour"):
        Codec().encode("opportunity", _opportunity(colour="red"))
    with pytest.raises(SchemaMismatchError):
        Codec().encode("opportunity", _opportunity(amount=Decimal("1.00001")))


def test_missing_required_field_is_named():
    record = _opportunity()
    del record["is_won"]
    with pytest.raises(MissingFieldError, match="missing required field 'is_won'"):
        Codec().encode("opportunity", record)


def test_confluent_framing_needs_a_registry():
    with pytest.raises(CodecError, match="needs a schema registry"):
        Codec(framing="confluent")


def _valid_payloads():
    codec = Codec()
    with SAMPLE.open() as lines:
        return [codec.encode(t, r) for _, t, r in read_jsonl(lines)]


def test_random_bytes_raise_only_codec_errors():
    rng = random.Random(20261122)
    codec = Codec()
    headers = [b"", b"\xc3\x01", b"\x00"] + [
        b"\xc3\x01" + default_catalog().current(t).fingerprint for t in EVENT_TYPES
    ]
    outcomes = {"error": 0, "decoded": 0}
    for i in range(1000):
        body = rng.randbytes(rng.randint(0, 300))
        data = headers[i % len(headers)] + body
        try:
            codec.decode(data)
            outcomes["decoded"] += 1
        except CodecError:
            outcomes["error"] += 1
    assert outcomes["error"] > 900, outcomes


def test_corrupted_valid_payloads_raise_only_codec_errors():
    rng = random.Random(7)
    codec = Codec()
    payloads = _valid_payloads()
    outcomes = {"error": 0, "decoded": 0}
    for i in range(1000):
        data = bytearray(payloads[i % len(payloads)])
        mutation = i % 4
        if mutation == 0:  # flip a few bytes anywhere
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        elif mutation == 1:  # truncate
            data = data[: rng.randrange(len(data))]
        elif mutation == 2:  # insert junk inside the body
            at = rng.randrange(10, len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        else:  # corrupt a byte of the body only (header intact)
            data[rng.randrange(10, len(data))] = rng.randint(0, 255)
        try:
            codec.decode(bytes(data))
            outcomes["decoded"] += 1
        except CodecError:
            outcomes["error"] += 1
    # Some corruptions still decode (a changed character in a string is valid Avro);
    # most must be caught.
    assert outcomes["error"] > 500, outcomes
