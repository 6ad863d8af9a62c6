"""A batch's outbox: its table writes and its messages, written to its table before either.

An agent's batch changes table keys (each key's changelog message) and sends messages
to other topics. Kafka makes neither atomic with the other, so a crash between the two
used to lose one half: messages delivered with their table state lost left the per-key
counters and the company an account last went to behind what was delivered, and the
events, read again in another batch composition, then numbered newer content no higher
than older content already delivered, or left a company unretracted.

So a batch first writes, for every partition whose state it changes, an *outbox*: that
partition's table writes and the messages its events produced, in one or more chunks
under the partition's outbox keys of the same table (so in the same changelog
partition, before the writes themselves). Only once Kafka acknowledged the outbox are
the writes and the messages sent. Whoever takes the partition next (after a rebalance
or a crash) completes the last batch from its outbox before applying any event: it
writes its values again and sends its messages again. Then the state a batch's
delivered messages came from is never lost, and a batch whose outbox did not land sent
nothing and wrote nothing. Sending again only repeats at-least-once delivery; the
values written again are the keys' current ones (a later write of a key comes with a
later outbox).

Messages that follow from an event alone (dead letters) are not kept: the event read
again makes them again.

This module is the format (no I/O): :func:`pack` cuts an outbox into chunks a table
value can hold, :func:`unpack` reads them back, and tells a complete outbox from chunks
of two batches (a crash while its chunks were written: nothing else of that batch was).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Outbox keys start with this: never a key of the core's (whose keys are tenant ids,
#: company keys or other ``~`` names), skipped where a table is walked.
OUTBOX_PREFIX = "~outbox"
#: Most bytes of table writes and messages one chunk carries (a Kafka message holds 1 MB
#: by default; a chunk's JSON adds a third for base64).
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Send:
    """One message as the producer takes it."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


@dataclass(slots=True)
class Outbox:
    """One partition's part of a batch: its table writes and its messages."""

    batch: str
    writes: dict[str, Any] = field(default_factory=dict)
    sends: list[Send] = field(default_factory=list)


def new_batch_id() -> str:
    """An id no other batch has (chunks of two batches are told apart by it)."""
    return os.urandom(8).hex()


def outbox_key(partition: int, chunk: int) -> str:
    """The table key of chunk ``chunk`` of partition ``partition``'s outbox."""
    return f"{OUTBOX_PREFIX}:{partition}:{chunk}"


def is_outbox_key(key: str) -> bool:
    """True for the key of an outbox chunk."""
    return key.startswith(OUTBOX_PREFIX)


def pack(outbox: Outbox, *, chunk_bytes: int = CHUNK_BYTES) -> list[dict[str, Any]]:
    """The chunks of ``outbox``, in key order (chunk ``i`` goes under ``outbox_key(p, i)``).

    Each is a JSON-able dict: ``batch``, ``chunk``, ``of`` (the number of chunks),
    ``writes`` (key -> value) and ``sends``. One table value or message is never split.
    """
    chunks: list[dict[str, Any]] = []
    current: dict[str, Any] = {"writes": {}, "sends": []}
    size = 0

    def add(n: int, put: Callable[[], None]) -> None:
        nonlocal current, size
        if size and size + n > chunk_bytes:
            chunks.append(current)
            current, size = {"writes": {}, "sends": []}, 0
        put()
        size += n

    for key, value in outbox.writes.items():
        text = json.dumps(value, separators=(",", ":"), default=str)  # a size, roughly
        add(len(key) + len(text), lambda k=key, v=value: current["writes"].__setitem__(k, v))
    for send in outbox.sends:
        packed = _pack_send(send)
        add(len(send.value) + len(send.key or b"") + 64,
            lambda s=packed: current["sends"].append(s))
    chunks.append(current)
    return [{"batch": outbox.batch, "chunk": i, "of": len(chunks), **c}
            for i, c in enumerate(chunks)]


def unpack(read: Callable[[int], Any]) -> Outbox | None:
    """The outbox whose chunks ``read(i)`` returns; None if there is none or it is torn.

    Torn: chunk 0 of a batch whose other chunks did not all land (they belong to an
    earlier batch or are missing). That batch wrote and sent nothing else.
    """
    first = read(0)
    if not isinstance(first, dict) or "batch" not in first:
        return None
    chunks = [first]
    for i in range(1, int(first["of"])):
        chunk = read(i)
        if not isinstance(chunk, dict) or chunk.get("batch") != first["batch"]:
            return None
        chunks.append(chunk)
    outbox = Outbox(first["batch"])
    for chunk in chunks:
        outbox.writes.update(chunk["writes"])
        outbox.sends.extend(_unpack_send(s) for s in chunk["sends"])
    return outbox


def _pack_send(send: Send) -> list[Any]:
    return [send.topic, _b64(send.key), _b64(send.value), send.partition,
            [[name, _b64(value)] for name, value in send.headers or ()]]


def _unpack_send(data: list[Any]) -> Send:
    topic, key, value, partition, headers = data
    return Send(topic, _unb64(key), _unb64(value) or b"", partition,
                [(name, _unb64(v) or b"") for name, v in headers] or None)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
