"""The worker's partitioner gives the Kafka client's partitions, key for key."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as client_murmur2

from streams.partitioner import Partitioner, murmur2


def test_murmur2_equals_the_clients_for_every_length_and_byte():
    rng = random.Random(7)
    keys = [b"", b"\x00", b"\xff", b"\xff" * 3, b"\x80\x7f\x01"]
    keys += [rng.randbytes(n) for n in range(0, 67) for _ in range(40)]
    keys += [f"acme\x1facc-{i}".encode() for i in range(2000)]
    for key in keys:
        assert murmur2(key) == client_murmur2(key), key


def test_known_hashes_of_the_java_client():
    # Values from Kafka's own tests (UtilsTest.testMurmur2), as unsigned 32-bit ints.
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string":
             -985981536, b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             b"abc": 479470107}
    for key, signed in cases.items():
        assert murmur2(key) == signed & 0xFFFFFFFF, key


def test_partitions_equal_the_default_partitioners():
    ours, theirs = Partitioner(), DefaultPartitioner()
    rng = random.Random(3)
    for count in (1, 3, 4, 8, 12, 100):
        partitions = list(range(count))
        for _ in range(500):
            key = rng.randbytes(rng.randrange(1, 50))
            assert ours(key, partitions, partitions) == theirs(key, partitions, partitions)


def test_a_message_without_key_goes_to_an_available_partition():
    ours = Partitioner()
    assert {ours(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {ours(None, [0, 1], []) for _ in range(50)} <= {0, 1}
