"""An agent's events in batches, taken from its stream's channel many per event loop turn.

Faust's ``Stream.take_events`` moves events into its batch one per turn of the event loop
(its stream iterator awaits ``asyncio.sleep(0)`` before each event, and a turn lasts as
long as the longest task that runs in it), and only while the agent is not working on a
batch. Under a steady 1,000 events/s the accounts stage took batches of about 300 events
while its channel's queue held 2,000-4,096 more: the events had been fetched, and waited
on the event loop, not on Kafka or on the core.

:func:`take_batches` reads the queue Faust's conductor puts the agent's events in (the
stream's channel, ``ChannelT.queue``) itself: it waits for one event, then takes every
event already queued at once, and what else arrives within ``within`` seconds of the
first, up to ``max_events``. Per event it does what Faust's stream iterator does: an event
fetched in an earlier consumer generation, or while the flow is suspended for a
rebalance, is skipped (acknowledged unprocessed, which the offset guard refuses: see
:mod:`streams.offset_guard`, fault 2); every other one is tracked as in flight and shown
to the app's sensors; and when the agent asks for the next batch, the events of the batch
before are acknowledged (the offset guard lets that through once the batch loop marked
them processed, and holds it until then).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


async def take_batches(stream: Any, max_events: int, within: float
                       ) -> AsyncIterator[list[Any]]:
    """Batches of ``stream``'s events: what is queued, and what arrives within ``within``.

    A batch holds at most ``max_events`` events; it is handed over once the queue is empty
    and ``within`` seconds passed since its first event was taken, or once it is full.
    The batches end when Faust stops the channel (it throws ``StopAsyncIteration`` into
    the queue, which ends its own stream iterator too).
    """
    app = stream.app
    queue = stream.channel.queue
    loop = asyncio.get_running_loop()
    while True:
        try:
            taken = [await queue.get()]
        except StopAsyncIteration:  # the channel stopped (the worker stops): no more
            return
        deadline = loop.time() + within
        stopped = False
        while len(taken) < max_events:
            try:
                if not queue.empty():
                    taken.append(queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                taken.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                break
            except StopAsyncIteration:
                stopped = True
                break
        events, states = _admitted(stream, app, taken)
        if events:
            try:
                yield events
            finally:
                for event, state in zip(events, states, strict=True):
                    _ack(app, stream, event, state)
        if stopped:
            return


def _admitted(stream: Any, app: Any, taken: list[Any]) -> tuple[list[Any], list[Any]]:
    """The events of ``taken`` the agent may see, with their sensor states; skips the rest."""
    consumer = app.consumer
    sensors = app.sensors
    acking = app.topics.acking_topics
    generation = app.consumer_generation_id
    active = app.flow_control.is_active()
    events: list[Any] = []
    states: list[Any] = []
    for event in taken:
        message = event.message
        if not active or message.generation_id != generation:
            _ack(app, stream, event, None)  # as Faust's stream skips it
            continue
        if message.topic in acking and not message.tracked:
            message.tracked = True
            consumer.track_message(message)
        states.append(sensors.on_stream_event_in(message.tp, message.offset, stream, event))
        events.append(event)
    return events, states


def _ack(app: Any, stream: Any, event: Any, state: Any) -> None:
    """Faust's acknowledgement of ``event`` by ``stream`` (``Stream.ack``, without a turn)."""
    message = event.message
    last = event.ack()
    app.sensors.on_stream_event_out(message.tp, message.offset, stream, event, state)
    if last:
        app.sensors.on_message_out(message.tp, message.offset, message)
