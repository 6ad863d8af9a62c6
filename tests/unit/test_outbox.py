"""Outboxes and checkpoints (streams/outbox.py): chunks that hold a batch whole, torn ones
told apart, the run of outboxes a partition's next owner applies, and crash points."""

from __future__ import annotations

import json

from streams.faults import Faults
from streams.outbox import (
    SLOTS,
    Outbox,
    Send,
    checkpoint_due,
    checkpoint_key,
    current_state,
    folded,
    is_outbox_key,
    outbox_key,
    pack,
    read_outbox,
    to_complete,
)


def sample(batch: str = "b1", seq: int = 1, writes: int = 3, sends: int = 2,
           size: int = 10, start: int = 0) -> Outbox:
    return Outbox(batch, seq,
                  {f"t\x1fa{i}": {"n": i, "seq": seq, "name": "x" * size}
                   for i in range(start, start + writes)},
                  [Send("by-company", f"k{i}".encode(), bytes([i]) * size, None,
                        [("coselling.forwarded-from", b"crm-events")] if i % 2 else None)
                   for i in range(sends)] + [Send("control", None, b"", 3)])


def store(table: dict, box: Outbox, partition: int = 0, **kw) -> dict:
    """Write ``box``'s chunks as a JSON table holds them."""
    for c in pack(box, **kw):
        table[outbox_key(partition, box.seq, c["chunk"])] = json.loads(json.dumps(c))
    return table


def test_an_outbox_reads_back_whole_from_its_chunks():
    box = sample(seq=3)
    table = store({}, box)
    assert read_outbox(table.get, 0, 3 % SLOTS) == box
    assert read_outbox(table.get, 1, 3 % SLOTS) is None  # another partition's


def test_a_large_outbox_is_cut_into_chunks_no_value_split():
    box = sample(writes=40, sends=40, size=1000)
    chunks = pack(box, chunk_bytes=8_000)
    assert len(chunks) > 5
    assert [c["chunk"] for c in chunks] == list(range(len(chunks)))
    assert {c["of"] for c in chunks} == {len(chunks)}
    assert all(len(json.dumps(c)) < 3 * 8_000 for c in chunks)
    assert read_outbox(store({}, box, chunk_bytes=8_000).get, 0, 1) == box


def test_known_sizes_of_the_values_cut_the_chunks_without_encoding_them_again():
    box = sample(writes=10, sends=0, size=10)
    assert len(pack(box, chunk_bytes=1_000)) == 1  # the values are small ...
    sizes = {key: 600 for key in box.writes}  # ... but they are said to be large
    chunks = pack(box, chunk_bytes=1_000, sizes=sizes)
    assert len(chunks) == 10 and [len(c["writes"]) for c in chunks] == [1] * 10
    assert read_outbox(store({}, box, chunk_bytes=1_000, sizes=sizes).get, 0, 1) == box


def test_a_torn_outbox_is_none():
    """Chunk 0 of a new batch over the chunks of an earlier one: that batch did nothing."""
    table = store({}, sample("old", seq=1, writes=40, size=1000), chunk_bytes=8_000)
    new = pack(sample("new", seq=1 + SLOTS, writes=40, size=1000), chunk_bytes=8_000)
    table[outbox_key(0, 1, 0)] = json.loads(json.dumps(new[0]))
    assert read_outbox(table.get, 0, 1) is None
    del table[outbox_key(0, 1, 1)]
    assert read_outbox(table.get, 0, 1) is None


def test_nothing_is_no_outbox():
    assert read_outbox(lambda key: None, 0, 0) is None
    assert read_outbox(lambda key: {"something": "else"}, 0, 0) is None
    assert to_complete(lambda key: None, 0) == (0, [])


def test_the_run_after_a_checkpoint_is_applied_in_order_and_stops_at_a_gap():
    table: dict = {checkpoint_key(0): 2}
    for seq in range(1, 6):  # 1 and 2 are covered; 3, 4, 5 are not
        store(table, sample(f"b{seq}", seq, writes=2, start=seq))  # keys a{seq}, a{seq+1}
    checkpoint, run = to_complete(table.get, 0)
    assert checkpoint == 2 and [b.seq for b in run] == [3, 4, 5]
    values = folded(run)
    assert values["t\x1fa4"]["seq"] == 4  # batch 4 wrote a4 after batch 3 did
    assert values["t\x1fa6"]["seq"] == 5 and "t\x1fa2" not in values
    # Batch 4's outbox torn: batch 5 cannot have begun before 4 was whole, so stop at 3.
    table[outbox_key(0, 4, 0)] = {**table[outbox_key(0, 4, 0)], "of": 2}
    assert [b.seq for b in to_complete(table.get, 0)[1]] == [3]


def test_a_checkpoint_comes_before_an_uncovered_slot_is_written_again():
    checkpoint, seq, slots_in_use = 0, 0, {}
    for _ in range(5 * SLOTS):
        seq += 1
        assert slots_in_use.get(seq % SLOTS, 0) <= checkpoint, "an uncovered slot reused"
        slots_in_use[seq % SLOTS] = seq
        if checkpoint_due(seq, checkpoint):
            checkpoint = seq
    assert not checkpoint_due(SLOTS - 1, 0) and checkpoint_due(SLOTS, 0)  # SLOTS in use


def test_a_tables_current_state_applies_the_outboxes_after_each_checkpoint():
    table = {"t\x1fa1": {"n": 1, "seq": 0}, "other": 5, checkpoint_key(1): 1}
    store(table, sample("b1", 1, writes=1, start=1), partition=1)  # covered: not applied
    table["t\x1fa1"] = {"n": 1, "seq": 1}  # ... its checkpoint wrote it
    store(table, sample("b2", 2, writes=1, start=1), partition=1)
    store(table, sample("c1", 1, writes=1, start=7), partition=3)
    state = current_state(table)
    assert state == {"t\x1fa1": {"n": 1, "seq": 2, "name": "x" * 10}, "other": 5,
                     "t\x1fa7": {"n": 7, "seq": 1, "name": "x" * 10}}


def test_outbox_keys_are_per_partition_and_outside_the_cores_keys():
    assert outbox_key(0, 0, 0) != outbox_key(1, 0, 0) != outbox_key(0, 1, 0)
    assert outbox_key(0, 1, 0) == outbox_key(0, 1 + SLOTS, 0)
    assert is_outbox_key(outbox_key(7, 2, 0)) and outbox_key(7, 2, 0).startswith("~")
    assert is_outbox_key(checkpoint_key(3)) and checkpoint_key(3).startswith("~")
    assert not is_outbox_key("acme\x1fa1")


def test_a_fault_point_fires_in_its_stage_and_batch_only():
    faults = Faults("accounts:after-sends:2")
    assert not faults.at("accounts", "after-sends")
    faults.done("companies", checkpoint=False)
    assert not faults.at("accounts", "after-sends")
    faults.done("accounts", checkpoint=False)
    assert faults.at("accounts", "after-sends")
    assert not faults.at("accounts", "after-outbox") and not faults.at("companies", "after-sends")
    faults.done("accounts", checkpoint=True)
    assert not faults.at("accounts", "after-sends")
    assert not Faults(None).at("accounts", "after-sends")


def test_a_checkpoint_fault_counts_checkpoints():
    faults = Faults("resolver:mid-checkpoint:2")
    faults.done("resolver", checkpoint=False)
    faults.done("resolver", checkpoint=True)
    faults.done("resolver", checkpoint=False)
    assert faults.at("resolver", "mid-checkpoint")
    faults.done("resolver", checkpoint=True)
    assert not faults.at("resolver", "mid-checkpoint")


def test_outboxes_of_an_earlier_smaller_ring_of_slots_are_completed_and_go_on():
    """A table an earlier version wrote with 32 slots per partition (seq % 32), torn last
    outbox included, is completed by this version, whose later outboxes go round more
    slots: each time, the run is the outboxes after the checkpoint, none stale."""
    earlier = 32
    assert SLOTS > earlier
    table: dict = {checkpoint_key(0): 40}
    for seq in range(9, 45):  # slots of the earlier ring, seqs 13-44 still there
        for c in pack(sample(f"b{seq}", seq=seq, writes=2, start=seq)):
            table[f"~outbox:0:{seq % earlier}:{c['chunk']}"] = json.loads(json.dumps(c))
    torn = pack(sample("b45", seq=45, writes=40, size=1000), chunk_bytes=8_000)
    table[f"~outbox:0:{45 % earlier}:0"] = json.loads(json.dumps(torn[0]))  # chunk 0 only
    checkpoint, run = to_complete(table.get, 0)
    assert (checkpoint, [b.seq for b in run]) == (40, [41, 42, 43, 44])
    table[checkpoint_key(0)] = 44  # completion writes them as a checkpoint
    for seq in range(45, 45 + SLOTS):  # the new ring, batch 45 done again
        store(table, sample(f"n{seq}", seq=seq, writes=2, start=seq))
        if checkpoint_due(seq, table[checkpoint_key(0)]):
            table[checkpoint_key(0)] = seq
        checkpoint, run = to_complete(table.get, 0)
        assert [b.seq for b in run] == list(range(checkpoint + 1, seq + 1))
        assert all(b.batch == f"n{b.seq}" for b in run)
