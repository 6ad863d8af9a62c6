"""The compiled Avro writers (schemas.avro_writer) write fastavro's bytes, or refuse."""

from __future__ import annotations

import io
import json
import random
import re
from decimal import Decimal

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas.avro_writer import Unfit, UnsupportedSchema, compile_writer
from schemas.internal import INTERNAL_SCHEMA_DIR, InternalCodec, internal_codec
from tests.internal_messages import core_messages
from tests.scenario import scenario

from .test_internal_messages import EDGE_MESSAGES, kind_of

CODEC = internal_codec()
SCHEMAS = {path.name: parse_schema(json.loads(path.read_text()))
           for path in sorted(INTERNAL_SCHEMA_DIR.glob("*.avsc"))}


def fastavro_bytes(schema, data):
    out = io.BytesIO()
    schemaless_writer(out, schema, {k: v for k, v in data.items() if k != "kind"},
                      strict=True)
    return out.getvalue()


def ours(schema, data):
    out = bytearray()
    compile_writer(schema, ignore=("kind",))(data, out)
    return bytes(out)


def test_every_internal_schema_compiles():
    assert all(CODEC.current[kind].writer is not None for kind in CODEC.kinds)


def test_the_core_s_messages_and_the_edge_cases_are_fastavro_s_bytes():
    made = core_messages(scenario(companies=60, seed=5))
    for message in EDGE_MESSAGES.values():
        made.setdefault(kind_of(message), []).append(message)
    for kind, messages in made.items():
        schema = CODEC.current[kind].parsed
        for m in messages:
            data = m.to_json()
            assert ours(schema, data) == fastavro_bytes(schema, data), (kind, data)


def random_value(schema, named, rng, depth=0):
    """A random value ``schema`` holds exactly (what fastavro writes unchanged)."""
    if isinstance(schema, list):
        return random_value(rng.choice(schema), named, rng, depth)
    if isinstance(schema, str) and schema in named:
        return random_value(named[schema], named, rng, depth)
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        return {f["name"]: random_value(f["type"], named, rng, depth + 1)
                for f in schema["fields"]}
    if kind in ("map", "array"):
        size = 0 if depth > 4 else rng.choice([0, 1, 2, 70])
        inner = schema["values" if kind == "map" else "items"]
        items = [random_value(inner, named, rng, depth + 1) for _ in range(size)]
        if kind == "array":
            return items
        return {f"k{i}-{rng.random()}": v for i, v in enumerate(items)}
    return {
        "null": lambda: None,
        "boolean": lambda: rng.random() < 0.5,
        "long": lambda: rng.choice([0, 1, -1, 63, 64, -64, -65, 2**31, -(2**63),
                                    2**63 - 1, rng.randrange(-(2**63), 2**63)]),
        "double": lambda: rng.choice([0.0, -1.5, 1e300, float("inf"), rng.random()]),
        "string": lambda: rng.choice(["", "a", "é日本🚀", "x" * 63, "y" * 64, "z" * 300]),
    }[kind]()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_random_values_are_fastavro_s_bytes_and_read_back_equal(name):
    schema = SCHEMAS[name]
    rng = random.Random(name)
    for _ in range(300):
        data = random_value(schema, {}, rng)
        written = ours(schema, data)
        assert written == fastavro_bytes(schema, data)
        back = schemaless_reader(io.BytesIO(written), schema, None)
        assert back == data


SNAPSHOT = EDGE_MESSAGES["snapshot"].to_json()
PLACED = EDGE_MESSAGES["placement"].to_json()


@pytest.mark.parametrize(("kind", "data", "reason"), [
    ("snapshot", dict(SNAPSHOT, seq=2**63), "beyond a long"),
    ("snapshot", dict(SNAPSHOT, seq=True), "bool value for long"),
    ("snapshot", dict(SNAPSHOT, seq="7"), "str value for long"),
    ("snapshot", dict(SNAPSHOT, extra=1), "fields not in the schema ['extra']"),
    ("snapshot", {k: v for k, v in SNAPSHOT.items() if k != "seq"}, "seq"),
    ("snapshot", dict(SNAPSHOT, snapshot=dict(SNAPSHOT["snapshot"], contacts=None)),
     "NoneType value for long"),
    ("placed", dict(PLACED, entry=dict(PLACED["entry"], d={"n": 2**64})), "beyond a long"),
    ("placed", dict(PLACED, entry=dict(PLACED["entry"], d={"n": Decimal(1)})), "Decimal"),
    ("placed", dict(PLACED, entry=dict(PLACED["entry"], d={1: "x"})), "int value for string"),
    ("placed", dict(PLACED, entry=dict(PLACED["entry"], d=["x"])), "list value for map"),
])
def test_what_a_schema_cannot_hold_exactly_is_refused(kind, data, reason):
    with pytest.raises((Unfit, KeyError), match=re.escape(reason)):
        ours(CODEC.current[kind].parsed, data)


def test_a_schema_it_does_not_compile_is_written_with_fastavro(tmp_path):
    source = {"type": "record", "name": "Colour", "namespace": "coselling.internal",
              "coselling.id": 200, "coselling.kind": "colour", "coselling.version": 1,
              "fields": [{"name": "c", "type": {"type": "enum", "name": "C",
                                                "symbols": ["RED", "BLUE"]}}]}
    with pytest.raises(UnsupportedSchema, match="enum"):
        compile_writer(parse_schema(source))
    (tmp_path / "colour.v1.avsc").write_text(json.dumps(source))
    codec = InternalCodec(tmp_path)
    assert codec.current["colour"].writer is None
    value = codec.encode("colour", {"c": "BLUE"})
    assert value == codec.current["colour"].prefix + b"\x02"
    assert codec.decode(value) == {"kind": "colour", "c": "BLUE"}
