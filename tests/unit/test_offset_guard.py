"""The offset guard: only processed events are acknowledged; gaps are never filled."""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
from types import SimpleNamespace

import faust
import pytest
from faust.types import TP, Message

from streams import offset_guard
from streams.app import create_app
from streams.exceptions import StreamConfigError
from streams.offset_guard import GuardedConsumer
from streams.settings import Settings

TOPIC = "t"
PARTITION = TP(TOPIC, 0)


def new_consumer() -> GuardedConsumer:
    """The consumer of a freshly built app (not started: no broker is needed)."""
    app = create_app(Settings(store="memory"))
    app.topics._acking_topics.add(TOPIC)  # as subscribing to the topic on start does
    return offset_guard.guarded_consumer(app)


@pytest.fixture
def consumer() -> GuardedConsumer:
    return new_consumer()


def message(offset: int) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None, tp=PARTITION)


def processed(*messages: Message) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=m) for m in messages]


def test_only_messages_an_agent_processed_are_acknowledged(consumer):
    done, skipped = message(5), message(6)
    for m in (done, skipped):
        consumer.track_message(m)
    consumer.mark_processed(processed(done))
    assert consumer.ack(skipped) is False and skipped.acked  # refused, never counted
    assert skipped not in consumer.unacked  # and no longer tracked as in flight
    assert consumer.ack(done) is True
    assert consumer._acked[PARTITION] == [5]
    again = message(5)  # the same offset read again later: not marked this time
    consumer.track_message(again)
    assert consumer.ack(again) is False and consumer._acked[PARTITION] == [5]


def test_a_held_event_acknowledged_before_it_is_processed_counts_once_it_is(consumer):
    held, skipped = message(5), message(6)
    for m in (held, skipped):
        consumer.track_message(m)
    consumer.hold(processed(held))  # applied; its batch is landing
    assert consumer.ack(held) is False and not held.acked  # the stream acknowledged it
    assert held in consumer.unacked  # still in flight: a revocation waits for it
    assert not consumer._acked.get(PARTITION)  # and its offset is not committable
    assert consumer.ack(skipped) is False and skipped.acked  # never held: refused
    done: list[int] = []

    class Sensor(faust.Sensor):
        def on_message_out(self, tp, offset, message):
            done.append(offset)

    consumer.app.sensors.add(Sensor())
    consumer.mark_processed(processed(held))  # the batch landed
    assert held.acked and consumer._acked[PARTITION] == [5]
    assert done == [5]  # the sensors are told it is done, as for any acknowledgement
    assert held not in consumer.unacked


def test_a_held_event_processed_before_the_stream_acknowledges_it_counts_then(consumer):
    m = message(5)
    consumer.track_message(m)
    consumer.hold(processed(m))
    consumer.mark_processed(processed(m))
    assert not consumer._acked.get(PARTITION)
    assert consumer.ack(m) is True and consumer._acked[PARTITION] == [5]


def test_a_revoked_partitions_held_events_are_forgotten(consumer):
    m = message(5)
    consumer.track_message(m)
    consumer.hold(processed(m))
    consumer.ack(m)
    consumer.forget_partitions({PARTITION})
    assert not consumer._held and not consumer._parked


def test_what_one_consumer_was_told_is_processed_does_not_count_for_another(consumer):
    other = new_consumer()
    other.mark_processed(processed(message(5)))
    assert consumer.ack(message(5)) is False
    assert other.ack(message(5)) is True


def test_a_gap_in_fetched_offsets_is_not_recorded(consumer):
    asyncio.run(consumer._add_gap(PARTITION, 7, 113))
    assert not consumer._gap.get(PARTITION)


def test_a_commit_starts_at_the_committed_offset_not_one_past_it(consumer):
    consumer._committed_offset[PARTITION] = 129
    consumer._acked[PARTITION] = [130, 131, 132]
    assert consumer._new_offset(PARTITION) is None  # 129 itself was never processed
    consumer._acked[PARTITION].insert(0, 129)
    assert consumer._new_offset(PARTITION) == 133


def test_without_a_committed_offset_a_commit_starts_at_the_log_start(consumer):
    consumer._acked[PARTITION] = [1, 2]
    assert consumer._new_offset(PARTITION) == 3  # no log start known: Faust's rule
    consumer._acked[PARTITION] = [1, 2]
    consumer._log_start[PARTITION] = 0  # read after the rebalance's seek
    assert consumer._new_offset(PARTITION) is None  # offset 0 was never processed
    consumer._acked[PARTITION].insert(0, 0)
    assert consumer._new_offset(PARTITION) == 3


def test_the_log_start_is_read_for_partitions_without_a_commit(consumer):
    a, b = TP("t", 0), TP("t", 1)
    asked = []

    async def seek_to_committed():
        return {a: 17, b: 0}  # Faust keeps a committed 0 as "none"

    async def earliest_offsets(*tps):
        asked.extend(tps)
        return {tp: 0 for tp in tps}

    # Stand-ins for the broker, on this one object only.
    consumer.seek_to_committed = seek_to_committed
    consumer.assignment = lambda: {a, b}
    consumer.earliest_offsets = earliest_offsets
    asyncio.run(consumer.perform_seek())
    assert asked == [b] and consumer._log_start == {b: 0}
    assert consumer._committed_offset[a] == 17 and consumer._read_offset[a] == 17


def test_a_revoked_partition_is_forgotten_only_after_its_final_commit(consumer):
    consumer._committed_offset[PARTITION] = 40
    consumer._acked[PARTITION] = [41, 42]  # 40 is not processed yet
    consumer._log_start[PARTITION] = 0
    consumer.mark_processed(processed(message(43)))
    final_commit = []

    async def app_revoke_handler(revoked):  # the app waits for its agents, then commits
        consumer._acked[PARTITION].append(43)
        final_commit.append(consumer._new_offset(PARTITION))

    consumer._on_partitions_revoked = app_revoke_handler
    asyncio.run(consumer.on_partitions_revoked({PARTITION}))
    assert final_commit == [None]  # still held back at 40
    assert PARTITION not in consumer._acked and PARTITION not in consumer._committed_offset
    assert PARTITION not in consumer._log_start and not consumer._processed


def test_a_seek_runs_on_the_thread_of_the_kafka_client(consumer):
    seen = []

    class ClientThread:  # stands in for Faust's thread that runs the aiokafka client
        def seek(self, tp, offset):
            seen.append(("seek", tp, offset, self.inside))

        async def call_thread(self, fun, *args):
            self.inside = True  # what call_thread runs, runs on that thread
            try:
                return fun(*args)
            finally:
                self.inside = False

    consumer._thread = ClientThread()
    asyncio.run(consumer.seek(PARTITION, 38))
    assert seen == [("seek", PARTITION, 38, True)]
    assert consumer._read_offset[PARTITION] == 38  # read again from there


def faust_class_attributes() -> dict[tuple[str, str], dict[str, object]]:
    return {(name, cls.__qualname__): dict(vars(cls))
            for name, module in list(sys.modules.items())
            if name == "faust" or name.startswith("faust.")
            for cls in vars(module).values()
            if inspect.isclass(cls) and cls.__module__ == name}


def test_building_an_app_changes_no_faust_class():
    before = faust_class_attributes()
    create_app(Settings(store="memory"))
    after = faust_class_attributes()
    changed = [(key, attr) for key, attrs in before.items()
               for attr, value in attrs.items() if after[key].get(attr) is not value]
    added = [(key, attr) for key, attrs in after.items() for attr in attrs
             if attr not in before.get(key, {})]
    assert len(before) > 100 and changed == [] and added == []


def test_the_apps_consumer_is_the_guarded_one():
    app = create_app(Settings(store="memory"))
    assert isinstance(app.consumer, GuardedConsumer)
    plain = faust.App("plain", broker="kafka://localhost:9092")
    with pytest.raises(StreamConfigError, match="must use the coselling:// scheme"):
        offset_guard.guarded_consumer(plain)


def test_a_faust_release_the_guard_was_not_tested_with_is_refused():
    from streams.offset_guard import TESTED_FAUST_VERSIONS, check_faust_version

    assert faust.__version__ in TESTED_FAUST_VERSIONS  # what the package pins
    check_faust_version(faust.__version__)
    with pytest.raises(StreamConfigError, match=r"faust-streaming 0\.16\.0 is installed, but "
                       r"the worker's offset handling was tested with 0\.15\.3 only"):
        check_faust_version("0.16.0")


def test_a_worker_on_an_untested_faust_refuses_to_start_in_one_line(monkeypatch, capsys):
    from streams.cli import main

    monkeypatch.setattr(faust, "__version__", "0.16.0")  # as if that release were installed
    monkeypatch.setenv("COSELLING_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # nothing there
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coselling: error: faust-streaming 0.16.0 is installed, but")
    assert err.count("\n") == 1


def offsets(events) -> list[int]:
    return [e.message.offset for e in events]


def test_nothing_past_a_gap_is_applied_and_the_partition_is_read_again(consumer, monkeypatch):
    # Seen in the chaos test: after a rebalance a worker applied 351-489, then 588-829
    # (fetched before the recovery's seek), and only later 490-587.
    consumer._committed_offset[PARTITION] = 351
    admitted, seeks = consumer.admit(processed(*map(message, range(351, 490))))
    assert offsets(admitted) == list(range(351, 490)) and seeks == {}
    admitted, seeks = consumer.admit(processed(*map(message, range(588, 600))))
    assert admitted == [] and seeks == {PARTITION: 490}
    # More of what was fetched before the seek: set aside, not sought again at once...
    admitted, seeks = consumer.admit(processed(message(600)))
    assert admitted == [] and seeks == {}
    # ...but again once SEEK_AGAIN_SECONDS passed without the gap being read.
    later = offset_guard.time.monotonic() + offset_guard.SEEK_AGAIN_SECONDS
    monkeypatch.setattr(offset_guard.time, "monotonic", lambda: later)
    assert consumer.admit(processed(message(601)))[1] == {PARTITION: 490}
    admitted, seeks = consumer.admit(processed(*map(message, [490, 491, 492, 494])))
    assert offsets(admitted) == [490, 491, 492] and seeks == {PARTITION: 493}


def test_events_read_again_are_admitted_and_other_partitions_are_not_held(consumer):
    other = TP(TOPIC, 1)
    consumer._committed_offset[PARTITION] = 10
    consumer.admit(processed(*map(message, range(10, 20))))
    again = Message(TOPIC, 1, 7, 0.0, 0, None, b"k", b"v", None, tp=other)
    batch = processed(message(12), message(13), message(25), message(20), again)
    admitted, seeks = consumer.admit(batch)
    # re-reads below the next offset pass (applying them again changes nothing); the
    # partition without a known start is not held; after 25 the partition is set aside.
    assert offsets(admitted) == [12, 13, 7] and seeks == {PARTITION: 20}


def test_processing_starts_at_the_committed_offset_after_an_assignment(consumer):
    consumer._committed_offset[PARTITION] = 100
    admitted, seeks = consumer.admit(processed(message(101)))
    assert admitted == [] and seeks == {PARTITION: 100}
    consumer.forget_partitions({PARTITION})
    assert consumer.admit(processed(message(101)))[0] != []  # nothing known: not held


class _Fetcher:
    """What the fetch loop needs of Faust's Fetcher: its stop flag."""

    def __init__(self):
        self._stopped = asyncio.Event()


def _drain(messages: list[Message], deliver, suspended: bool = False
           ) -> tuple[GuardedConsumer, int, int]:
    """Run a new consumer's fetch loop over ``messages`` (one fetch) with ``deliver`` as
    the streams' callback (``suspended``: with Faust's flow control suspended, as in a
    rebalance). Returns the consumer, the turns of the event loop the loop took and how
    many messages were delivered (in order)."""
    fetcher = _Fetcher()
    delivered: list[int] = []

    async def fetched(timeout: float):
        for m in messages:
            yield m.tp, m
        fetcher._stopped.set()  # one fetch, then the loop ends

    async def callback(m: Message) -> None:
        await deliver(m)
        delivered.append(m.offset)

    async def run() -> tuple[GuardedConsumer, int]:
        consumer = new_consumer()  # made in this event loop: its events belong to it
        consumer.getmany = fetched  # the instance's, not Faust's class
        consumer.callback = callback
        if suspended:
            consumer.suspend_flow.set()
        turns = 0
        drain = asyncio.create_task(consumer._drain_messages(fetcher))
        while not drain.done():
            turns += 1
            if turns > 100_000:
                drain.cancel()
                raise AssertionError("the fetch loop is stuck on one delivery")
            await asyncio.sleep(0)
        await drain
        return consumer, turns

    consumer, turns = asyncio.run(run())
    assert delivered == [m.offset for m in messages][:len(delivered)]
    return consumer, turns, len(delivered)


def test_one_poll_cannot_fill_a_stream_buffer_past_the_point_where_faust_pauses_it():
    # Faust stops fetching a stream's partitions once its buffer passes the pressure mark,
    # but delivers all a poll returned: a poll larger than the room left would fill the
    # buffer and hold the fetch loop, and every other stage's partitions with it.
    app = create_app(Settings(store="memory"))
    maxsize = app.conf.stream_buffer_maxsize
    room = maxsize - math.floor(maxsize / 1.25)  # mode's FlowControlQueue pressure mark
    assert app.conf.broker_max_poll_records is not None
    assert 0 < app.conf.broker_max_poll_records < room


def test_the_fetch_loop_delivers_many_messages_per_turn_of_the_event_loop():
    async def room(m: Message) -> None:  # a stream with room in its buffer: no wait
        return None

    consumer, turns, delivered = _drain([message(n) for n in range(1000)], room)
    assert delivered == 1000
    assert consumer._read_offset[PARTITION] == 999
    # Faust's loop needed a turn per message (a wait on four new tasks each); this one
    # lets other tasks run once per DRAIN_YIELD_EVERY messages.
    assert turns <= 1000 // offset_guard.DRAIN_YIELD_EVERY + 5


def test_while_the_flow_is_suspended_a_delivery_that_waits_does_not_hold_the_loop():
    held = asyncio.Event()  # never set: a stream whose buffer stays full

    async def full(m: Message) -> None:
        await held.wait()

    consumer, turns, delivered = _drain([message(5), message(6)], full, suspended=True)
    assert delivered == 0  # neither could be delivered, and the loop still went on
    assert consumer._read_offset[PARTITION] == 6
