"""Which inbound events the accounts stage applies where it reads them, without Kafka."""

import itertools

import pytest
from aiokafka.partitioner import DefaultPartitioner as FaustPartitioner
from kafka.partitioner.default import murmur2

from schemas.codec import Codec
from schemas.raw_message import RawMessage
from schemas.validation import EventValidator
from streams.app import Applied, latest_applied
from streams.core.accounts import SnapshotMessage
from streams.ingest import ApplyHere, DeadLetter, Forward, place, triage
from streams.routing import Destination, message_key, route
from tests import factories as f

CODEC = Codec()
VALIDATOR = EventValidator()
PARTITIONS = 4


def decide(event_type, record, *, partition, owner):
    message = RawMessage(topic="in", partition=partition, offset=7, key=b"k",
                         value=CODEC.encode(event_type, record))
    return place(triage(CODEC, VALIDATOR, message), partition, owner)


def publisher_partition(key: bytes, partitions: int = PARTITIONS) -> int:
    """Kafka's default partitioner (kafka-python's producer: ``coselling publish``)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def worker_partition(key: bytes, partitions: int = PARTITIONS) -> int:
    """The partitioner the worker's ``key_partition`` uses (aiokafka's, in Faust)."""
    return FaustPartitioner()(key, list(range(partitions)), list(range(partitions)))


EVENTS = [
    f.account("acme", "001"),
    f.opportunity("acme", "006", "001"),
    f.contact("acme", "c1", "001"),
    f.touch("acme", "t1", "globex", opp_id="006"),
    f.touch("acme", "t2", "globex", account_id="001"),
]


@pytest.mark.parametrize(("event_type", "record"), EVENTS)
def test_an_event_whose_key_this_partition_owns_is_applied_here(event_type, record):
    key = route(event_type, record).key
    decision = decide(event_type, record, partition=2, owner=lambda k: 2 if k == key else 0)
    assert isinstance(decision, ApplyHere)
    assert decision.decoded.event_type == event_type
    assert decision.decoded.record["record_id"] == record["record_id"]


@pytest.mark.parametrize(("event_type", "record"), EVENTS)
def test_an_event_another_partition_owns_is_forwarded_under_its_route_key(event_type, record):
    decision = decide(event_type, record, partition=1, owner=lambda k: 3)
    assert isinstance(decision, Forward)
    assert decision.route == route(event_type, record)
    assert decision.route.destination is Destination.BY_ACCOUNT


def test_unknown_ownership_forwards():
    # None: no metadata yet, or inbound and by-account have different partition counts.
    decision = decide(*f.account("acme", "001"), partition=0, owner=lambda k: None)
    assert isinstance(decision, Forward)


def test_partnerships_go_to_control_even_from_the_owning_partition():
    decision = decide(*f.partnership("p1", "acme", "globex", {}), partition=0, owner=lambda k: 0)
    assert isinstance(decision, Forward)
    assert decision.route.destination is Destination.CONTROL


def test_bad_messages_are_dead_lettered_wherever_they_land():
    message = RawMessage(topic="in", partition=0, offset=1, key=b"k", value=b"\x00junk")
    decision = place(triage(CODEC, VALIDATOR, message), 0, lambda k: 0)
    assert isinstance(decision, DeadLetter)
    unroutable = f.touch("acme", "t9", "globex")  # names neither deal nor account
    assert isinstance(decide(*unroutable, partition=0, owner=lambda k: 0),
                      DeadLetter)


@pytest.mark.parametrize(("event_type", "record"), EVENTS)
def test_the_published_key_is_the_route_key(event_type, record):
    assert message_key(event_type, record) == route(event_type, record).key


def test_an_unroutable_record_still_gets_a_key():
    assert message_key(*f.touch("acme", "t9", "globex")) == b"acme|t9"


@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 8, 12])
def test_published_under_its_route_key_an_event_is_applied_where_it_lands(partitions):
    """The publisher's partitioner and the worker's agree, so keying by route key saves
    the hop for every event; keyed by record id, only those that happen to hash alike."""
    keyed = {"route": 0, "record id": 0}
    records = [*EVENTS, *(f.account(f"t{i}", f"a{i}") for i in range(200)),
               *(f.opportunity(f"t{i}", f"o{i}", f"a{i}") for i in range(200))]
    for (event_type, record), (name, key_of) in itertools.product(
            records, [("route", message_key),
                      ("record id", lambda t, r: r["record_id"].encode())]):
        landed = publisher_partition(key_of(event_type, record), partitions)
        decision = decide(event_type, record, partition=landed,
                          owner=lambda k: worker_partition(k, partitions))
        keyed[name] += isinstance(decision, ApplyHere)
    assert keyed["route"] == len(records)
    if partitions > 1:
        assert keyed["record id"] < len(records)


def test_a_batch_keeps_forwards_and_dead_letters_and_only_the_last_snapshot():
    decoded = CODEC.decode(CODEC.encode(*f.account("acme", "001")))
    forward = Forward(route(*f.account("acme", "002")), b"v", decoded)
    dead = DeadLetter(b"k", b"v", [], ValueError("bad"))
    first = SnapshotMessage("initrode.co.uk", "acme\x1f001", 1, {"n": 1})
    second = SnapshotMessage("initrode.co.uk", "acme\x1f001", 2, {"n": 2})
    kept = latest_applied([Applied(decoded, [first]), forward, dead, Applied(None, [second])])
    assert kept == [Applied(decoded, []), forward, dead, Applied(None, [second])]


def test_key_partitions_memo_agrees_with_the_partitioner_and_forgets_on_a_new_count():
    from streams.routing import KeyPartitions

    calls = []

    def compute(key):
        calls.append(key)
        return publisher_partition(key, counts[-1])

    counts = [PARTITIONS]
    memo = KeyPartitions(compute, limit=3)
    keys = [f"t\x1facct-{i}".encode() for i in range(5)]
    assert [memo(k, PARTITIONS) for k in keys] == [publisher_partition(k) for k in keys]
    assert [memo(k, PARTITIONS) for k in keys[3:]] == [publisher_partition(k) for k in keys[3:]]
    assert len(calls) == 5  # the two kept keys were not hashed again
    counts.append(7)  # the topic grew: every key is hashed again with the new count
    assert [memo(k, 7) for k in keys[3:]] == [publisher_partition(k, 7) for k in keys[3:]]
    assert len(calls) == 7
    assert memo(b"x", None) == compute(b"x")  # metadata unknown: nothing is kept
    assert memo(b"x", None) == compute(b"x") and calls.count(b"x") == 4
