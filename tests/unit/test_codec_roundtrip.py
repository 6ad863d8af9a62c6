"""Round-trip property tests: every schema, both framings."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import EVENT_TYPES, default_catalog
from schemas.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MARKER, Codec, Framing
from schemas.registry_client import SchemaRegistryClient
from tests.strategies import records

CATALOG = default_catalog()


def _strategy(event_type):
    return st.tuples(st.just(event_type), records(CATALOG.current(event_type)))


ANY_EVENT = st.one_of(*[_strategy(t) for t in EVENT_TYPES])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_single_object_round_trip(event_type, data):
    record = data.draw(records(CATALOG.current(event_type)))
    codec = Codec()
    payload = codec.encode(event_type, record)
    assert payload[:2] == SINGLE_OBJECT_MARKER
    assert payload[2:10] == CATALOG.current(event_type).fingerprint
    decoded = codec.decode(payload)
    assert decoded.event_type == event_type
    assert decoded.record == record


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_confluent_round_trip(event_type, registry_server):
    client = SchemaRegistryClient(registry_server.url)
    writer = Codec(framing=Framing.CONFLUENT, registry=client)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(record=records(CATALOG.current(event_type)))
    def check(record):
        payload = writer.encode(event_type, record)
        assert payload[0] == CONFLUENT_MAGIC
        # A separate codec with an empty cache must fetch the schema by id to decode.
        reader = Codec(registry=SchemaRegistryClient(registry_server.url))
        decoded = reader.decode(payload)
        assert (decoded.event_type, decoded.record) == (event_type, record)

    check()
    # One registration per schema, however many events were encoded.
    posts = [r for r in registry_server.requests if r[0] == "POST"]
    assert len(posts) == 1
    assert registry_server.subjects == {CATALOG.current(event_type).full_name: [1]}


def test_one_decoder_reads_both_framings(registry_server):
    # The decoder recognises the framing by its first byte; same record either way.
    registry = SchemaRegistryClient(registry_server.url)
    reader = Codec(registry=registry)

    @settings(max_examples=150, deadline=None)
    @given(event=ANY_EVENT)
    def check(event):
        event_type, record = event
        soe = Codec().encode(event_type, record)
        confluent = Codec(framing="confluent", registry=registry).encode(event_type, record)
        assert reader.decode(soe).record == reader.decode(confluent).record == record
        assert soe[10:] == confluent[5:]  # same Avro body behind different headers

    check()


@settings(max_examples=200, deadline=None)
@given(event=ANY_EVENT)
def test_fast_logical_conversion_matches_fastavro(event):
    # The codec reads plain values and converts logical types itself (schemas/logical.py);
    # the result must be exactly what fastavro's own logical-type reading gives.
    import io

    from fastavro import schemaless_reader

    event_type, record = event
    payload = Codec().encode(event_type, record)
    schema = CATALOG.current(event_type)
    reference = schemaless_reader(io.BytesIO(payload[10:]), schema.parsed, None)
    decoded = Codec().decode(payload).record
    assert decoded == reference
    assert {k: type(v) for k, v in decoded.items()} == {k: type(v) for k, v in reference.items()}
