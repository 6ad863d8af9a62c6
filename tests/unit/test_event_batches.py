"""Batches taken straight from an agent's channel queue (streams.event_batches), no Kafka."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from mode.utils.queues import FlowControlEvent, ThrowableQueue

from streams.event_batches import take_batches


class Event:
    """What the taker reads of a Faust event, and its acknowledgement."""

    def __init__(self, offset: int, generation: int = 1, topic: str = "t"):
        self.message = SimpleNamespace(topic=topic, tp=(topic, 0), offset=offset,
                                       generation_id=generation, tracked=False)
        self.acked = 0

    def ack(self) -> bool:
        self.acked += 1
        return True


class Sensors:
    def __init__(self, log: list):
        self.log = log

    def on_stream_event_in(self, tp, offset, stream, event):
        self.log.append(("in", offset))
        return {"offset": offset}

    def on_stream_event_out(self, tp, offset, stream, event, state):
        self.log.append(("out", offset, state))

    def on_message_out(self, tp, offset, message):
        self.log.append(("done", offset))


def stream(log: list, *, generation: int = 1, active: bool = True) -> SimpleNamespace:
    consumer = SimpleNamespace(tracked=[])
    consumer.track_message = lambda m: consumer.tracked.append(m.offset)
    app = SimpleNamespace(consumer=consumer, sensors=Sensors(log),
                          topics=SimpleNamespace(acking_topics={"t"}),
                          consumer_generation_id=generation,
                          flow_control=SimpleNamespace(is_active=lambda: active))
    return SimpleNamespace(app=app, channel=SimpleNamespace(queue=asyncio.Queue()))


def test_everything_queued_is_taken_at_once_up_to_the_most_a_batch_holds():
    async def scenario(size: int, within: float):
        s = stream([])
        for n in range(5):
            s.channel.queue.put_nowait(Event(n))
        batch = await asyncio.wait_for(take_batches(s, size, within).__anext__(), 1)
        return [e.message.offset for e in batch], s.app.consumer.tracked

    # A full batch does not wait for its window; one that is not waits for it.
    assert asyncio.run(scenario(3, within=10.0)) == ([0, 1, 2], [0, 1, 2])
    assert asyncio.run(scenario(1000, within=0.05)) == ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4])


def test_what_arrives_within_the_window_joins_the_batch_and_later_events_the_next():
    async def scenario():
        s = stream([])
        queue = s.channel.queue
        batches = take_batches(s, 1000, within=0.2)
        taking = asyncio.ensure_future(batches.__anext__())
        queue.put_nowait(Event(0))
        await asyncio.sleep(0.05)
        queue.put_nowait(Event(1))  # within 0.2 s of the first
        first = await taking
        queue.put_nowait(Event(2))
        second = await batches.__anext__()
        return first, second

    first, second = asyncio.run(scenario())
    assert [e.message.offset for e in first] == [0, 1]
    assert [e.message.offset for e in second] == [2]


def test_a_batch_is_acknowledged_when_the_next_one_is_asked_for():
    log: list = []

    async def scenario():
        s = stream(log)
        events = [Event(0), Event(1)]
        for e in events:
            s.channel.queue.put_nowait(e)
        batches = take_batches(s, 1000, within=0.0)
        await batches.__anext__()
        acked_while_held = [e.acked for e in events]
        s.channel.queue.put_nowait(Event(2))
        await batches.__anext__()
        return acked_while_held, [e.acked for e in events]

    while_held, after = asyncio.run(scenario())
    assert while_held == [0, 0] and after == [1, 1]
    assert log[:4] == [("in", 0), ("in", 1), ("out", 0, {"offset": 0}), ("done", 0)]


def test_events_of_an_earlier_generation_or_a_suspended_flow_are_skipped_unprocessed():
    log: list = []

    async def scenario(**options):
        s = stream(log, **options)
        old, current = Event(0, generation=1), Event(1, generation=2)
        for e in (old, current):
            s.channel.queue.put_nowait(e)
        batches = take_batches(s, 1000, within=0.0)
        try:
            batch = await asyncio.wait_for(batches.__anext__(), 0.2)
        except TimeoutError:
            batch = []
        return batch, old.acked, current.acked

    batch, old_acked, current_acked = asyncio.run(scenario(generation=2))
    assert [e.message.offset for e in batch] == [1] and (old_acked, current_acked) == (1, 0)
    assert ("out", 0, None) in log and ("in", 0) not in log
    batch, old_acked, current_acked = asyncio.run(scenario(generation=2, active=False))
    assert batch == [] and (old_acked, current_acked) == (1, 1)  # nothing handed over


def test_the_batches_end_when_faust_stops_the_channel():
    async def scenario():
        s = stream([])
        s.channel.queue = ThrowableQueue(flow_control=FlowControlEvent())  # Faust's
        got = []

        async def take():
            async for batch in take_batches(s, 1000, within=5.0):
                got.append([e.message.offset for e in batch])

        taking = asyncio.ensure_future(take())
        s.channel.queue.put_nowait(Event(0))
        await asyncio.sleep(0.05)  # the batch waits for its window ...
        await s.channel.queue.throw(StopAsyncIteration())  # ... as Faust stops the channel
        await asyncio.wait_for(taking, 1)  # it is handed over, then the batches end
        return got

    assert asyncio.run(scenario()) == [[0]]
