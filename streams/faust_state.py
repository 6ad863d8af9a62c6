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
flushing the whole producer (which also waits for every other agent's sends).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust
from faust.streams import _current_event  # the context variable behind current_event()
from faust.types import FutureMessage

_MISSING = object()


def set_current_event(event: Any) -> None:
    """Make ``event`` the current event for Faust table operations in this context."""
    _current_event.set(weakref.ref(event))


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

    def take_changelog_sends(self) -> list[FutureMessage]:
        """The changelog sends since the last call."""
        sends, self._changelog_sends = self._changelog_sends, []
        return sends


class BatchState(MutableMapping[str, Any]):
    """One batch's view of a Faust table: reads through, writes buffered until written.

    ``uncovered`` (key -> (value, event)), if given, holds writes of earlier batches that
    no checkpoint has put in the table yet (they are in outboxes, see
    :mod:`streams.outbox`): reads see them before the table's values.
    """

    def __init__(self, table: MutableMapping[str, Any],
                 uncovered: dict[str, tuple[Any, Any]] | None = None):
        self.table = table
        self._uncovered = uncovered if uncovered is not None else {}
        self._writes: dict[str, tuple[Any, Any]] = {}
        self._event: Any = None

    def use_event(self, event: Any) -> None:
        """Table reads from now on happen in the context of ``event``."""
        self._event = event
        set_current_event(event)

    def _buffered(self, key: str) -> Any:
        hit = self._writes.get(key, (_MISSING, None))[0]
        if hit is _MISSING:
            hit = self._uncovered.get(key, (_MISSING, None))[0]
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
        yield from ((key, value) for key, (value, _) in self._uncovered.items()
                    if key not in self._writes)
        for key, value in list(self.table.items()):
            if key not in self._writes and key not in self._uncovered:
                yield key, value

    def __len__(self) -> int:
        return len(set(self.table.keys()) | set(self._uncovered) | set(self._writes))

    @property
    def pending(self) -> int:
        """Keys written in this batch and not yet in the table."""
        return len(self._writes)

    def keep(self) -> None:
        """Move the batch's writes to ``uncovered`` (its outboxes landed)."""
        self._uncovered.update(self._writes)
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
                        yield_every: int = 0) -> None:
    """Write each (key, value, event) to ``table`` in its event's context.

    Then wait until Kafka acknowledged their changelog messages (``table``: a
    :class:`ChangelogTable`).
    """
    table.take_changelog_sends()  # an earlier, failed attempt's: not waited for
    for n, (key, value, event) in enumerate(entries, 1):
        set_current_event(event)
        table[key] = value
        if yield_every and n % yield_every == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*table.take_changelog_sends())
