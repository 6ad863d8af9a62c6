"""A batch's outbox (streams/outbox.py): chunks that hold it whole, and torn ones told apart."""

from __future__ import annotations

import json

from streams.faults import Faults
from streams.outbox import Outbox, Send, is_outbox_key, outbox_key, pack, unpack


def sample(batch: str = "b1", writes: int = 3, sends: int = 2, size: int = 10) -> Outbox:
    return Outbox(batch,
                  {f"t\x1fa{i}": {"n": i, "name": "x" * size, "deals": [1, 2]}
                   for i in range(writes)},
                  [Send("by-company", f"k{i}".encode(), bytes([i]) * size, None,
                        [("coselling.forwarded-from", b"crm-events")] if i % 2 else None)
                   for i in range(sends)] + [Send("control", None, b"", 3)])


def stored(chunks, partition: int = 0) -> dict:
    """Chunks as a JSON table holds them, under their keys."""
    return {outbox_key(partition, c["chunk"]): json.loads(json.dumps(c)) for c in chunks}


def test_an_outbox_reads_back_whole_from_its_chunks():
    box = sample()
    table = stored(pack(box))
    assert unpack(lambda i: table.get(outbox_key(0, i))) == box


def test_a_large_outbox_is_cut_into_chunks_no_value_split():
    box = sample(writes=40, sends=40, size=1000)
    chunks = pack(box, chunk_bytes=8_000)
    assert len(chunks) > 5
    assert [c["chunk"] for c in chunks] == list(range(len(chunks)))
    assert {c["of"] for c in chunks} == {len(chunks)}
    assert all(len(json.dumps(c)) < 3 * 8_000 for c in chunks)
    table = stored(chunks)
    assert unpack(lambda i: table.get(outbox_key(0, i))) == box


def test_a_torn_outbox_is_none():
    """Chunk 0 of a new batch over the chunks of an earlier one: that batch did nothing."""
    table = stored(pack(sample("old", writes=40, size=1000), chunk_bytes=8_000))
    new = pack(sample("new", writes=40, size=1000), chunk_bytes=8_000)
    table[outbox_key(0, 0)] = json.loads(json.dumps(new[0]))
    assert unpack(lambda i: table.get(outbox_key(0, i))) is None
    del table[outbox_key(0, 1)]
    table[outbox_key(0, 0)] = json.loads(json.dumps(new[0]))
    assert unpack(lambda i: table.get(outbox_key(0, i))) is None


def test_no_outbox_is_none():
    assert unpack(lambda i: None) is None
    assert unpack(lambda i: {"something": "else"}) is None


def test_outbox_keys_are_per_partition_and_outside_the_cores_keys():
    assert outbox_key(0, 0) != outbox_key(1, 0) != outbox_key(0, 1)
    assert is_outbox_key(outbox_key(7, 2)) and outbox_key(7, 2).startswith("~")
    assert not is_outbox_key("acme\x1fa1")


def test_a_fault_point_fires_in_its_stage_and_batch_only():
    faults = Faults("accounts:mid-state:2")
    assert not faults.at("accounts", "mid-state")
    faults.batch_done("companies")
    assert not faults.at("accounts", "mid-state")
    faults.batch_done("accounts")
    assert faults.at("accounts", "mid-state")
    assert not faults.at("accounts", "after-sends") and not faults.at("companies", "mid-state")
    faults.batch_done("accounts")
    assert not faults.at("accounts", "mid-state")
    assert not Faults(None).at("accounts", "mid-state")
