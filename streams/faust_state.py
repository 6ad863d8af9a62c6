"""Faust tables as plain mappings for the core, with writes held back until outputs land.

Faust decides a table key's partition (its RocksDB bucket and changelog partition) from
the *current event*. Agents here process batches, so :class:`BatchState` sets the current
event before every read and write, and keeps writes in an overlay until the batch's
outbox landed (see :mod:`streams.outbox`); then they move to the agent's *uncovered*
writes, read before the table, until a checkpoint writes them to the table. A crash
before the outbox landed leaves the table untouched, the offsets uncommitted, and the
batch is simply processed again; a crash after it is completed from the outboxes by the
partition's next owner.

Values read from the table may be mutated by the core before the overlay is written; that
is harmless because outputs are retried, never recomputed, until they succeed.

A table write reaches the changelog through Faust's producer buffer, and Faust gives the
writer nothing to wait on. :class:`ChangelogTable` (the app's table class, Faust's ``Table``
setting) keeps the future of every changelog message it sends, so that
:func:`write_entries` waits for exactly its own changelog messages rather than
flushing the whole producer (which also waits for every other agent's sends). It also
reads a key with one store lookup (:meth:`ChangelogTable.get`; Faust's ``Table`` looks a key
up twice) and encodes a written key and value once for the changelog message and the
store (:meth:`ChangelogTable.put`), straight with orjson where that gives the bytes
Faust's serializer registry gives (checked on probes when the store is first used).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, NamedTuple

import faust
import orjson
from faust.stores.base import SerializedStore
from faust.streams import _current_event  # the context variable behind current_event()
from faust.types import FutureMessage
from faust.utils import json as faust_json

_MISSING = object()
_NOT_HERE = (_MISSING, None)
#: Keys and values on which a store's codec is compared with orjson (see ChangelogTable).
_PROBE_KEYS = ("acme\x1facc-1", "é ✓ \"q\" \\ \n", "")
_PROBE_VALUES = ({"a": [1, 2.5, None, "x", True], "b": {"c": {"d": "é"}}, "n": -3}, [1, "x"])
#: The key by which Faust's JSON values name a model to decode into.
_FAUST_MODEL_KEY = "__faust"


def set_current_event(event: Any) -> None:
    """Make ``event`` the current event for Faust table operations in this context."""
    _current_event.set(weakref.ref(event))


def encode_value(value: Any) -> bytes:
    """A table value in the tables' own encoding (Faust's JSON, as the stores hold it)."""
    return faust_json.dumps(value)


def decode_value(raw: bytes) -> Any:
    """The value :func:`encode_value` encoded."""
    return orjson.loads(raw)


class _StoreCodec(NamedTuple):
    encode_key: Callable[[Any], bytes]
    encode_value: Callable[[Any], bytes]
    decode_value: Callable[[bytes], Any]


class ChangelogTable(faust.Table):
    """A Faust table that hands out the futures of the changelog messages it sent.

    Use it as the app's ``Table`` setting. Each future resolves once Kafka acknowledged
    the message (or fails with the send's error).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changelog_sends: list[FutureMessage] = []

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        """Faust's changelog send, its future kept for :meth:`take_changelog_sends`."""
        fut = super().send_changelog(*args, **kwargs)
        self._changelog_sends.append(fut)
        return fut

    def get(self, key: Any, default: Any = None) -> Any:
        """The key's value (in the current event's partition), else ``default``: one read.

        Faust's ``Table`` reads a key twice (``in``, then the value), a missing key raises
        ``KeyError`` inside ``Mapping.get``, and its serializer registry costs more than
        the JSON itself; the batch stages read every key they touch, most once per batch.
        """
        self.on_key_get(key)
        store = self.data
        if not isinstance(store, SerializedStore):  # the memory store: a dict of values
            value = store.data.get(key, _MISSING)
            return default if value is _MISSING else value
        codec = self._codec or self._codec_of(store)
        raw = store._get(codec.encode_key(key))
        return default if raw is None else codec.decode_value(raw)

    def put(self, key: Any, value: Any) -> None:
        """``self[key] = value``, the key and value encoded once for changelog and store.

        Faust encodes them for the changelog message and again for the store, through
        its serializer registry; here the changelog message is sent with the store's
        bytes (Faust passes bytes through unencoded), then the store is written. A
        ``bytes`` value is one already encoded (:func:`encode_value`; a batch's
        uncovered value): no table value is bytes itself.
        """
        store = self.data
        encoded = isinstance(value, bytes)
        if not isinstance(store, SerializedStore):
            self[key] = decode_value(value) if encoded else value
            return
        codec = self._codec or self._codec_of(store)
        if not encoded:
            value_bytes = codec.encode_value(value)
        elif codec.encode_value is encode_value:
            value_bytes = value  # the store's own encoding already
        else:
            value_bytes = codec.encode_value(decode_value(value))
        key_bytes = codec.encode_key(key)
        fut = self.send_changelog(self.partition_for_key(key), key_bytes, value_bytes)
        self._maybe_set_key_ttl(key, fut.message.partition)  # as Faust's on_key_set
        self._sensor_on_set(self, key, value)
        store._set(key_bytes, value_bytes)

    _codec: _StoreCodec | None = None

    def _codec_of(self, store: SerializedStore) -> _StoreCodec:
        """The store's encoding, done straight where that gives the store's own bytes.

        With JSON keys and values (the app's tables), a key is ``orjson.dumps(key)`` and
        a value :func:`encode_value` (Faust's own JSON function, which its JSON codec calls
        after its registry and codec lookups), so an encoded value is the store's bytes
        already; checked on probes, else the store's own functions are used.
        """
        codec = _StoreCodec(store._encode_key, store._encode_value, store._decode_value)
        if (self.key_serializer, self.value_serializer) == ("json", "json") \
                and all(store._encode_key(k) == orjson.dumps(k) for k in _PROBE_KEYS) \
                and all(store._encode_value(v) == encode_value(v)
                        and decode_value(encode_value(v)) == store._decode_value(
                            store._encode_value(v)) for v in _PROBE_VALUES):

            def decode_unless_model(raw: bytes) -> Any:
                value = decode_value(raw)
                if isinstance(value, dict) and _FAUST_MODEL_KEY in value:
                    return store._decode_value(raw)  # a Faust model: its own decoding
                return value

            codec = _StoreCodec(orjson.dumps, encode_value, decode_unless_model)
        self._codec = codec
        return codec

    def take_changelog_sends(self) -> list[FutureMessage]:
        """The changelog sends since the last call."""
        sends, self._changelog_sends = self._changelog_sends, []
        return sends


class BatchState(MutableMapping[str, Any]):
    """One batch's view of a Faust table: reads through, writes buffered until written.

    ``uncovered`` (key -> (encoded value, event)), if given, holds writes of earlier
    batches that no checkpoint has put in the table yet (they are in outboxes, see
    :mod:`streams.outbox`): reads see them before the table's values. They are kept
    encoded (:func:`encode_value`, about a quarter of the memory of the objects), so an
    agent can hold many more of them between checkpoints, and a read decodes a fresh
    value, as a read from the table does.

    ``staged`` (key -> (encoded value, event)), if given, holds the writes of the batch
    before, sealed (:meth:`seal`) while its outboxes are still being written: reads see
    them before ``uncovered``.
    """

    def __init__(self, table: MutableMapping[str, Any],
                 uncovered: dict[str, tuple[Any, Any]] | None = None,
                 staged: dict[str, tuple[Any, Any]] | None = None):
        self.table = table
        self._uncovered = uncovered if uncovered is not None else {}
        self._staged = staged or {}
        self._writes: dict[str, tuple[Any, Any]] = {}
        self._sealed: dict[str, tuple[Any, Any]] | None = None
        self._event: Any = None

    def use_event(self, event: Any) -> None:
        """Table reads from now on happen in the context of ``event``."""
        self._event = event
        set_current_event(event)

    def _buffered(self, key: str) -> Any:
        hit = self._writes.get(key, _NOT_HERE)[0]
        if hit is _MISSING:
            raw = self._staged.get(key, _NOT_HERE)[0]
            if raw is _MISSING:
                raw = self._uncovered.get(key, _NOT_HERE)[0]
            if raw is not _MISSING:
                return decode_value(raw)
        return hit

    def __getitem__(self, key: str) -> Any:
        hit = self._buffered(key)
        return self.table[key] if hit is _MISSING else hit

    def get(self, key: str, default: Any = None) -> Any:
        """The buffered value, else the uncovered one, else the table's, else ``default``."""
        hit = self._buffered(key)
        if hit is not _MISSING:
            return hit
        value = self.table.get(key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        if self._sealed is not None:
            raise RuntimeError("a sealed batch state takes no more writes")
        self._writes[key] = (value, self._event)

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("the core never deletes state keys")

    def __iter__(self) -> Iterator[str]:
        yield from (key for key, _ in self.items())

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """Every (key, value): buffered first, then uncovered, then the table's partitions.

        Read straight from the table's items: a key lookup in Faust's RocksDB store only
        searches the current event's partition, so iterating keys and looking each up (the
        Mapping default) fails for keys of the worker's other partitions.
        """
        yield from ((key, value) for key, (value, _) in self._writes.items())
        yield from ((key, decode_value(raw)) for key, (raw, _) in self._staged.items()
                    if key not in self._writes)
        yield from ((key, decode_value(raw)) for key, (raw, _) in self._uncovered.items()
                    if key not in self._writes and key not in self._staged)
        for key, value in list(self.table.items()):
            if key not in self._writes and key not in self._staged \
                    and key not in self._uncovered:
                yield key, value

    def __len__(self) -> int:
        return len(set(self.table.keys()) | set(self._uncovered) | set(self._staged)
                   | set(self._writes))

    @property
    def pending(self) -> int:
        """Keys written in this batch and not yet in the table."""
        return len(self._writes)

    def seal(self) -> dict[str, tuple[Any, Any]]:
        """The batch's writes, encoded, as the next batch's ``staged``; no more writes.

        The next batch then reads fresh values, never the objects this batch's outboxes
        are being made from.
        """
        if self._sealed is None:
            self._sealed = {key: (encode_value(value), event)
                            for key, (value, event) in self._writes.items()}
        return self._sealed

    def keep(self) -> None:
        """Move the batch's writes to ``uncovered``, encoded (its outboxes landed)."""
        self._uncovered.update(self.seal())
        self._writes.clear()

    def entries(self) -> list[tuple[str, Any, Any]]:
        """The buffered writes as (key, value, event), in the order they were made."""
        return [(key, value, event) for key, (value, event) in self._writes.items()]

    def by_partition(self) -> dict[int, dict[str, Any]]:
        """The buffered writes by their event's partition: partition -> key -> value."""
        found: dict[int, dict[str, Any]] = {}
        for key, (value, event) in self._writes.items():
            found.setdefault(event.message.partition, {})[key] = value
        return found


async def write_entries(table: Any, entries: list[tuple[str, Any, Any]], *,
                        yield_every: int = 0) -> float:
    """Write each (key, value, event) to ``table`` in its event's context.

    A ``bytes`` value is one kept encoded (:func:`encode_value`), written as it is.

    Then wait until Kafka acknowledged their changelog messages (``table``: a
    :class:`ChangelogTable`). Returns the seconds that wait took.
    """
    table.take_changelog_sends()  # an earlier, failed attempt's: not waited for
    for n, (key, value, event) in enumerate(entries, 1):
        set_current_event(event)
        table.put(key, value)
        if yield_every and n % yield_every == 0:
            await asyncio.sleep(0)
    written = time.monotonic()
    await asyncio.gather(*table.take_changelog_sends())
    return time.monotonic() - written
