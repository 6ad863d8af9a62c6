import json

import avro.schema
import pytest

from schemas.catalog import (
    ATTRIBUTION_MODELS,
    CONTROL_TYPES,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    INBOUND_TYPES,
    SCHEMA_DIR,
    Catalog,
    default_catalog,
)
from schemas.exceptions import UnknownEventTypeError, UnknownSchemaError


def test_every_event_type_has_a_schema_file():
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc")) == sorted(EVENT_TYPES)
    assert default_catalog().event_types == tuple(sorted(EVENT_TYPES))


@pytest.mark.parametrize("event_type", INBOUND_TYPES + CONTROL_TYPES)
def test_inbound_and_control_events_carry_the_envelope(event_type):
    fields = {f["name"]: f["type"] for f in default_catalog().current(event_type).source["fields"]}
    assert tuple(fields)[: len(ENVELOPE_FIELDS)] == ENVELOPE_FIELDS
    assert fields["version"] == "long"
    assert fields["occurred_at"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert fields["op"]["symbols"] == ["UPSERT", "DELETE"]


def test_attribution_models_are_the_schema_enum_symbols():
    fields = {f["name"]: f["type"] for f in default_catalog().current("attribution").source["fields"]}
    assert fields["model"]["name"] == "AttributionModel"
    assert list(ATTRIBUTION_MODELS) == fields["model"]["symbols"]


def test_contract_fields_named_by_the_issue_exist():
    cat = default_catalog()
    expected = {
        "account": {"name", "website", "domain", "country", "relationship"},
        "opportunity": {
            "account_record_id",
            "name",
            "stage",
            "is_closed",
            "is_won",
            "amount",
            "currency",
            "close_date",
        },
        "partner_touch": {
            "opportunity_record_id",
            "account_record_id",
            "partner_tenant_id",
            "touch_type",
        },
        "partnership": {"partnership_id", "tenant_a", "tenant_b", "status", "sharing"},
    }
    for event_type, names in expected.items():
        assert names <= cat.current(event_type).field_names, event_type
    sharing = next(f for f in cat.current("partnership").source["fields"] if f["name"] == "sharing")
    rule = {f["name"]: f["type"] for f in sharing["type"]["items"]["fields"]}
    assert rule["population"]["symbols"] == [
        "CUSTOMER",
        "PROSPECT",
        "FORMER_CUSTOMER",
        "OPEN_OPPORTUNITY",
    ]
    assert rule["level"]["symbols"] == ["HIDDEN", "COUNTS", "ACCOUNTS", "FULL"]


def crc64_avro(data: bytes) -> bytes:
    """CRC-64-AVRO exactly as the Avro specification writes it, little-endian bytes."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def test_crc64_reference_matches_the_spec_vector():
    # From the Avro repository's schema test vectors: "null" -> 7195948357588979594.
    assert crc64_avro(b'"null"') == (7195948357588979594).to_bytes(8, "little")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_fingerprint_follows_the_spec(event_type):
    version = default_catalog().current(event_type)
    # Parsing Canonical Form drops doc, defaults and logical types and uses full names.
    # The Apache avro package keeps {"type": "long"} for logical types where the spec (and
    # the Java implementation) write the primitive's simple form; normalise that one step.
    reference = avro.schema.parse(json.dumps(version.source)).canonical_form
    for primitive in ("long", "int", "bytes"):
        reference = reference.replace(f'{{"type":"{primitive}"}}', f'"{primitive}"')
    assert version.canonical == reference
    assert "logicalType" not in version.canonical and "doc" not in version.canonical
    assert version.fingerprint == crc64_avro(version.canonical.encode())
    assert default_catalog().by_fingerprint(version.fingerprint) is version


def test_unknown_lookups_raise_typed_errors():
    cat = default_catalog()
    with pytest.raises(UnknownEventTypeError, match="unknown event type 'lead'"):
        cat.current("lead")
    with pytest.raises(UnknownSchemaError, match="0102030405060708"):
        cat.by_fingerprint(bytes(range(1, 9)))
    with pytest.raises(UnknownSchemaError):
        cat.event_type_of("com.example.Lead")


def test_archived_versions_are_decodable(tmp_path):
    # An archived (older) version is known by fingerprint and maps to its event type.
    (tmp_path / "archive").mkdir()
    current = json.loads((SCHEMA_DIR / "account.avsc").read_text())
    (tmp_path / "account.avsc").write_text(json.dumps(current))
    older = dict(current, fields=[f for f in current["fields"] if f["name"] != "industry"])
    (tmp_path / "archive" / "account.1.avsc").write_text(json.dumps(older))
    cat = Catalog(tmp_path)
    old_versions = [
        v for v in cat.versions() if v.fingerprint != cat.current("account").fingerprint
    ]
    assert len(old_versions) == 1 and old_versions[0].event_type == "account"
