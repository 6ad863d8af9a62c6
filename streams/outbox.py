"""Outboxes and checkpoints: a table's state written per batch in one place, keys later.

An agent's batch changes table keys and sends messages to other topics. Kafka makes
neither atomic with the other, so a crash between the two used to lose one half:
messages delivered with their table state lost left the per-key counters and the company
an account last went to behind what was delivered, and the events, read again in another
batch composition, then numbered newer content no higher than older content already
delivered, or left a company unretracted.

So a batch first writes, for every partition whose state it changes, an *outbox*: that
partition's table writes and the messages its events produced, in one or more chunks
under the partition's outbox keys of the same table (so in the same changelog
partition). Only once Kafka acknowledged the outbox are the messages sent. The keys'
values are not written one by one per batch: the outboxes hold them. A *checkpoint*
writes each key the batches since the last one changed, once, then the checkpoint key
(the batch sequence number it covers). It comes for every partition of a table with
uncovered keys once the agent holds more than ``COSELLING_CHECKPOINT_KEYS`` of them, and
for a partition before one of its outbox slots would be written again while the batch in
it is not covered (the outboxes go round ``SLOTS`` slots per partition; the slots may
grow in a later version, never shrink: an outbox is found in any slot). The more keys a
checkpoint waits for, the more changes of a key one write covers, and the more memory the
agent holds and the more the next owner of a partition applies.

Whoever takes a partition next (after a rebalance or a crash) completes it before
applying any event: it applies the outboxes after the checkpoint in sequence order (a
contiguous run; a torn outbox, whose chunks did not all land, ends it: that batch wrote
and sent nothing), writes their values as a checkpoint, and sends the last one's
messages again (the earlier ones' were acknowledged before the next batch began). So the
state a batch's delivered messages came from is never lost, and a batch whose outbox did
not land left no trace. Sending again only repeats at-least-once delivery.

Messages that follow from an event alone (dead letters) are not kept: the event read
again makes them again.

This module is the format and the rules (no I/O): :func:`pack` cuts an outbox into
chunks a table value can hold; :func:`to_complete` finds the run of outboxes after a
partition's checkpoint; :func:`current_state` reads a whole table (its changelog) as the
agents see it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas import source_time

#: Outbox and checkpoint keys start with this: never a key of the core's (whose keys are
#: tenant ids, company keys or other ``~`` names), skipped where a table is walked.
OUTBOX_PREFIX = "~outbox"
CHECKPOINT_PREFIX = "~checkpoint"
#: Outbox slots per partition: at most this many batches of a partition between two
#: checkpoints.
SLOTS = 128
#: Most bytes of table writes and messages one chunk carries (a Kafka message holds 1 MB
#: by default; a chunk's JSON adds a third for base64).
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Send:
    """One message as the producer takes it.

    ``source_ms``: the source time of the input that made it (see
    :mod:`schemas.source_time`), sent as a header; not kept in an outbox.
    """

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None
    source_ms: int | None = None

    def kafka_headers(self) -> list[tuple[str, bytes]] | None:
        """The headers to send: its own and its source time's."""
        if self.source_ms is None:
            return self.headers
        return [*(self.headers or ()), source_time.header(self.source_ms)]


@dataclass(slots=True)
class Outbox:
    """One partition's part of a batch: its table writes and its messages.

    ``seq`` numbers the partition's batches (1, 2, ...); it picks the outbox's slot.
    """

    batch: str
    seq: int
    writes: dict[str, Any] = field(default_factory=dict)
    sends: list[Send] = field(default_factory=list)


def new_batch_id() -> str:
    """An id no other batch has (chunks of two batches are told apart by it)."""
    return os.urandom(8).hex()


def outbox_key(partition: int, seq: int, chunk: int) -> str:
    """The table key of chunk ``chunk`` of the outbox of batch ``seq`` of ``partition``."""
    return f"{OUTBOX_PREFIX}:{partition}:{seq % SLOTS}:{chunk}"


def checkpoint_key(partition: int) -> str:
    """The table key holding the last batch sequence number a checkpoint covers."""
    return f"{CHECKPOINT_PREFIX}:{partition}"


def is_outbox_key(key: str) -> bool:
    """True for the key of an outbox chunk or a checkpoint."""
    return key.startswith((OUTBOX_PREFIX, CHECKPOINT_PREFIX))


def checkpoint_due(seq: int, checkpoint: int) -> bool:
    """True if a checkpoint must follow batch ``seq``, before the next batch's outbox.

    It must when the next one's slot still holds a batch no checkpoint covers.
    """
    return seq + 1 - SLOTS >= checkpoint + 1


def pack(outbox: Outbox, *, chunk_bytes: int = CHUNK_BYTES,
         sizes: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The chunks of ``outbox`` (chunk ``i`` goes under ``outbox_key(p, seq, i)``).

    Each is a JSON-able dict: ``batch``, ``seq``, ``chunk``, ``of`` (the number of
    chunks), ``writes`` (key -> value) and ``sends``. One value or message is never split.
    A value may be an ``orjson.Fragment`` (its JSON, encoded before): orjson writes it
    as it is, so the chunk must be encoded with orjson.
    ``sizes`` (key -> bytes of its value encoded), where known, spares encoding a value
    to size it.
    """
    sizes = sizes or {}
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
        size_of = sizes.get(key)
        add(len(key) + (_json_size(value) if size_of is None else size_of),
            lambda k=key, v=value: current["writes"].__setitem__(k, v))
    for send in outbox.sends:
        packed = _pack_send(send)
        add(len(send.value) + len(send.key or b"") + 64,
            lambda s=packed: current["sends"].append(s))
    chunks.append(current)
    return [{"batch": outbox.batch, "seq": outbox.seq, "chunk": i, "of": len(chunks), **c}
            for i, c in enumerate(chunks)]


def read_outbox(read: Callable[[str], Any], partition: int, slot: int) -> Outbox | None:
    """The outbox in ``slot`` of ``partition`` (``read``: key -> value or None).

    None if there is none or it is torn: chunk 0 of a batch whose other chunks did not
    all land (they belong to an earlier batch or are missing).
    """
    first = read(outbox_key(partition, slot, 0))
    if not isinstance(first, dict) or "batch" not in first:
        return None
    chunks = [first]
    for i in range(1, int(first["of"])):
        chunk = read(outbox_key(partition, slot, i))
        if not isinstance(chunk, dict) or chunk.get("batch") != first["batch"]:
            return None
        chunks.append(chunk)
    outbox = Outbox(first["batch"], int(first["seq"]))
    for chunk in chunks:
        outbox.writes.update(chunk["writes"])
        outbox.sends.extend(_unpack_send(s) for s in chunk["sends"])
    return outbox


def to_complete(read: Callable[[str], Any], partition: int) -> tuple[int, list[Outbox]]:
    """``partition``'s checkpoint and the outboxes after it, in order, to apply on it.

    The run stops before the first sequence number no complete outbox holds.
    """
    checkpoint = int(read(checkpoint_key(partition)) or 0)
    found = {}
    for slot in range(SLOTS):
        box = read_outbox(read, partition, slot)
        if box is not None and box.seq > checkpoint:
            found[box.seq] = box
    run = []
    while checkpoint + len(run) + 1 in found:
        run.append(found[checkpoint + len(run) + 1])
    return checkpoint, run


def folded(run: list[Outbox]) -> dict[str, Any]:
    """The values the outboxes of ``run`` leave, applied in order."""
    values: dict[str, Any] = {}
    for box in run:
        values.update(box.writes)
    return values


def uncovered_runs(table: Mapping[str, Any]) -> dict[int, list[Outbox]]:
    """Each partition's run of outboxes after its checkpoint (:func:`to_complete`).

    ``table``: a whole table's keys and values, e.g. read off its changelog.
    """
    partitions = {int(k.split(":")[1]) for k in table if is_outbox_key(k)}
    return {p: to_complete(table.get, p)[1] for p in sorted(partitions)}


def current_state(table: Mapping[str, Any]) -> dict[str, Any]:
    """A whole table's keys and values as its agent sees them (e.g. read off its changelog).

    The outboxes after each partition's checkpoint applied; outbox and checkpoint keys
    left out.
    """
    state = {k: v for k, v in table.items() if not is_outbox_key(k)}
    for run in uncovered_runs(table).values():
        state.update(folded(run))
    return state


def _json_size(value: Any) -> int:
    """About the bytes of ``value`` as JSON (orjson; json for what orjson refuses)."""
    try:
        return len(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # e.g. an integer beyond 64 bits
        return len(json.dumps(value, separators=(",", ":"), default=str))


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
