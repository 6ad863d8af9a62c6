"""The agents' batch loop, run on plain objects: no Faust, no Kafka."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from schemas.exceptions import CosellingError
from streams import outbox
from streams.batch_loop import Stage, run_batches
from streams.faults import Faults
from streams.faust_state import decode_value
from streams.outbox import Send


class Event:
    """What the loop reads of a Faust event (a plain class: Faust keeps weak references)."""

    def __init__(self, value: str, message: SimpleNamespace):
        self.value, self.message = value, message


def event(partition: int, offset: int, value: str = "v") -> Event:
    return Event(value, SimpleNamespace(topic="t", partition=partition, offset=offset,
                                        tp=("t", partition)))


async def batches_of(*batches: list) -> object:
    for batch in batches:
        yield batch


class Consumer:
    """Admits everything unless told where a gap is; records what was processed."""

    def __init__(self, log: list, gap_at: tuple[int, int] | None = None):
        self.log, self.gap_at, self.sought, self.held = log, gap_at, [], []

    def admit(self, events):
        if self.gap_at is None:
            return events, {}
        partition, offset = self.gap_at
        kept = [e for e in events
                if e.message.partition != partition or e.message.offset < offset]
        return kept, {("t", partition): offset}

    async def seek(self, tp, offset):
        self.sought.append((tp, offset))

    def hold(self, events):
        self.held.append([e.message.offset for e in events])

    def mark_processed(self, events):
        self.log.append(("processed", [e.message.offset for e in events]))


class IO:
    """Records every call in ``log``, in order; ``landed`` holds deliveries back."""

    def __init__(self, log: list):
        self.log, self.gen, self.landed = log, 1, None

    def generation(self):
        return self.gen

    def dead(self, event, error):
        return Send("dead", None, f"{event.message.offset}: {error}".encode())

    async def deliver(self, sends, what):
        if self.landed is not None:
            await self.landed.wait()
        self.log.append(("deliver", [s.value for s in sends]))

    async def complete_partition(self, table, partition, event, what):
        self.log.append(("complete", partition))
        return 0, False

    async def write_outboxes(self, state, seqs, sends, senders, what):
        changed = sorted(state.by_partition())
        for p in changed:
            seqs[p] += 1
        self.log.append(("outbox", changed, sorted(k for k, _, _ in state.entries())))
        return changed

    async def write_checkpoint(self, table, uncovered, partitions, seqs, checkpoints, what,
                               *, fault=None):
        self.log.append(("checkpoint", partitions))
        for key in [k for k, (_, e) in uncovered.items() if e.message.partition in partitions]:
            table[key] = decode_value(uncovered.pop(key)[0])
        for p in partitions:
            checkpoints[p] = seqs[p]


def counting_stage(table=None, **options) -> Stage:
    """Counts each event's value in the table (if any) and sends one message per event."""

    def decide(e, state):
        if e.value == "bad":
            raise CosellingError("a bad event")
        if state is not None:
            state[e.value] = (state.get(e.value) or 0) + 1
        return e.value

    def emit(e, decision):
        return [Send("out", None, decision.encode())]

    return Stage("counting", "counting: sends", decide, emit, table=table, **options)


def run(stage, *batches, consumer=None, io=None, checkpoint_keys=1000, log=None):
    log = log if log is not None else []
    consumer = consumer or Consumer(log)
    io = io or IO(log)
    asyncio.run(run_batches(stage, batches_of(*batches), consumer, io,
                            checkpoint_keys=checkpoint_keys, faults=Faults(None)))
    return log


def test_a_batch_writes_its_outbox_then_sends_then_counts_as_processed():
    table: dict = {}
    log = run(counting_stage(table), [event(0, 0, "a"), event(0, 1, "b"), event(0, 2, "a")])
    assert log == [("complete", 0), ("outbox", [0], ["a", "b"]),
                   ("deliver", [b"a", b"b", b"a"]), ("processed", [0, 1, 2])]


def test_events_count_as_processed_only_once_their_messages_landed():
    log: list = []
    io = IO(log)

    async def scenario():
        io.landed = asyncio.Event()
        loop = asyncio.create_task(run_batches(
            counting_stage({}), batches_of([event(0, 0, "a")]), Consumer(log), io,
            checkpoint_keys=1000))
        for _ in range(20):
            await asyncio.sleep(0)
        assert ("processed", [0]) not in log  # the messages have not landed
        io.landed.set()
        await loop

    asyncio.run(scenario())
    assert log[-2:] == [("deliver", [b"a"]), ("processed", [0])]


def test_a_later_batch_reads_what_an_earlier_one_wrote_before_any_checkpoint():
    table: dict = {}
    log = run(counting_stage(table), [event(0, 0, "a")], [event(0, 1, "a")],
              [event(0, 2, "a")])
    assert not [entry for entry in log if entry[0] == "checkpoint"]
    assert table == {}  # still only in the outboxes ...
    table2: dict = {}
    run(counting_stage(table2), [event(0, 0, "a")], [event(0, 1, "a")], [event(0, 2, "a")],
        checkpoint_keys=0)
    assert table2 == {"a": 3}  # ... until a checkpoint writes the value the batches made


def test_a_checkpoint_comes_once_the_agent_holds_more_uncovered_keys_than_allowed():
    table: dict = {}
    log = run(counting_stage(table), [event(0, 0, "a"), event(1, 0, "b")], checkpoint_keys=1)
    assert ("checkpoint", [0, 1]) in log
    assert log.index(("checkpoint", [0, 1])) > log.index(("outbox", [0, 1], ["a", "b"]))
    assert log[-1] == ("processed", [0, 0])


def test_a_checkpoint_comes_before_an_outbox_slot_is_reused():
    batches = [[event(0, n, "a")] for n in range(outbox.SLOTS + 1)]
    log = run(counting_stage({}), *batches)
    checkpoints = [i for i, entry in enumerate(log) if entry[0] == "checkpoint"]
    outboxes = [i for i, entry in enumerate(log) if entry[0] == "outbox"]
    assert checkpoints  # the slots went round once: covered before the next outbox
    assert checkpoints[0] < outboxes[outbox.SLOTS]


def test_a_bad_event_is_dead_lettered_and_the_rest_of_its_batch_applied():
    table: dict = {}
    log = run(counting_stage(table, bad=(CosellingError,)),
              [event(0, 0, "a"), event(0, 1, "bad"), event(0, 2, "b")], checkpoint_keys=0)
    assert ("deliver", [b"1: a bad event", b"a", b"b"]) in log
    assert log[-1] == ("processed", [0, 1, 2]) and table == {"a": 1, "b": 1}


def test_a_partition_is_completed_from_its_outboxes_once_per_generation():
    log: list = []
    io = IO(log)

    async def batches():
        yield [event(0, 0, "a"), event(1, 0, "b")]
        yield [event(0, 1, "a")]
        io.gen = 2  # a rebalance
        yield [event(0, 2, "a")]

    asyncio.run(run_batches(counting_stage({}), batches(), Consumer(log), io,
                            checkpoint_keys=1000))
    assert [entry for entry in log if entry[0] == "complete"] == [
        ("complete", 0), ("complete", 1), ("complete", 0)]


def test_a_stage_without_a_table_sends_and_then_counts_as_processed():
    log = run(counting_stage(None), [event(0, 0, "a"), event(0, 1, "b")])
    assert log == [("deliver", [b"a", b"b"]), ("processed", [0, 1])]


def test_decisions_later_ones_supersede_are_dropped_before_anything_is_sent():
    def keep_last(decisions):
        return [d if d not in decisions[i + 1:] else "dropped" for i, d in enumerate(decisions)]

    log = run(counting_stage(None, coalesce=keep_last),
              [event(0, 0, "a"), event(0, 1, "b"), event(0, 2, "a")])
    assert log[0] == ("deliver", [b"dropped", b"b", b"a"])


def test_events_past_a_gap_are_set_aside_and_the_partition_read_again():
    log: list = []
    consumer = Consumer(log, gap_at=(0, 2))
    run(counting_stage({}), [event(0, 0, "a"), event(0, 2, "b"), event(1, 5, "c")],
        consumer=consumer, log=log)
    assert consumer.sought == [(("t", 0), 2)]
    assert log[-1] == ("processed", [0, 5])  # offset 2 of partition 0 is not processed


def test_the_next_batch_is_decided_while_the_one_before_lands_and_lands_after_it():
    log: list = []
    io = IO(log)
    table: dict = {}
    consumer = Consumer(log)
    seen: list = []

    def decide(e, state):
        seen.append((e.value, state.get(e.value), ("deliver", [b"a"]) in log))
        state[e.value] = (state.get(e.value) or 0) + 1
        return e.value

    stage = Stage("counting", "counting: sends", decide,
                  lambda e, d: [Send("out", None, d.encode())], table=table)

    async def scenario():
        io.landed = asyncio.Event()
        loop = asyncio.create_task(run_batches(
            stage, batches_of([event(0, 0, "a")], [event(0, 1, "a")]), consumer, io,
            checkpoint_keys=1000))
        for _ in range(20):
            await asyncio.sleep(0)
        # The second batch was decided on the first one's writes, which have not landed.
        assert seen == [("a", None, False), ("a", 1, False)]
        assert consumer.held == [[0]]  # the second is held once the first landed
        assert ("processed", [0]) not in log
        assert [entry[0] for entry in log] == ["complete", "outbox"]  # only the first's
        io.landed.set()
        await loop

    asyncio.run(scenario())
    assert consumer.held == [[0], [1]]
    assert log == [("complete", 0), ("outbox", [0], ["a"]), ("deliver", [b"a"]),
                   ("processed", [0]), ("outbox", [0], ["a"]), ("deliver", [b"a"]),
                   ("processed", [1])]


def test_a_partition_met_for_the_first_time_is_completed_after_the_batch_before_landed():
    log = run(counting_stage({}), [event(0, 0, "a")], [event(1, 0, "b")])
    assert log == [("complete", 0), ("outbox", [0], ["a"]), ("deliver", [b"a"]),
                    ("processed", [0]), ("complete", 1), ("outbox", [1], ["b"]),
                    ("deliver", [b"b"]), ("processed", [0])]


def test_a_batch_that_fails_to_land_stops_the_loop():
    class Failing(IO):
        async def deliver(self, sends, what):
            raise OSError("the broker is gone")

    log: list = []
    with pytest.raises(OSError):
        run(counting_stage({}), [event(0, 0, "a")], [event(0, 1, "a")], io=Failing(log),
            log=log)
    assert ("processed", [0]) not in log and ("processed", [1]) not in log


def test_a_landing_that_fails_while_the_loop_waits_for_a_batch_stops_the_loop():
    class Failing(IO):
        async def deliver(self, sends, what):
            raise OSError("the broker is gone")

    async def quiet_after_one():
        yield [event(0, 0, "a")]
        await asyncio.Event().wait()  # no more events, ever

    log: list = []
    with pytest.raises(OSError):
        asyncio.run(asyncio.wait_for(run_batches(
            counting_stage({}), quiet_after_one(), Consumer(log), Failing(log),
            checkpoint_keys=1000), timeout=5))
    assert ("processed", [0]) not in log


def test_a_long_emit_lets_the_other_tasks_of_the_event_loop_run():
    import time

    ticks = [0]
    seen_at_last_emit: list[int] = []

    def decide(e, state):
        return e.value

    def emit(e, decision):
        time.sleep(0.003)  # 20 events: 60 ms of work in one batch
        if e.message.offset == 19:
            seen_at_last_emit.append(ticks[0])
        return [Send("out", None, decision.encode())]

    async def scenario():
        done = asyncio.Event()

        async def ticker():
            while not done.is_set():
                await asyncio.sleep(0)
                ticks[0] += 1

        ticking = asyncio.ensure_future(ticker())
        await run_batches(Stage("slow", "slow: sends", decide, emit),
                          batches_of([event(0, n) for n in range(20)]), Consumer([]),
                          IO([]), checkpoint_keys=1000)
        done.set()
        await ticking

    asyncio.run(scenario())
    assert seen_at_last_emit[0] >= 3  # the ticker ran while the batch's messages were made
