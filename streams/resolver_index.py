"""The resolver's indexes in a worker: derived from the resolver table, not logged.

The resolver's indexes (:mod:`streams.core.resolver`: a domain's accounts, listers and
company, a label's domains, a name's accounts, and the typo index: every name one deletion
of a letter away from a name some account holds) are a function of the table's account
records (``a:`` keys, :func:`~streams.core.resolver.derived_index`). Kept in the table,
an account's change wrote its record and two to three index keys, each a changelog
message (and the typo index a key per letter of a new name). :class:`ResolverIndexStore`
keeps them in a scratch store of the worker instead (RocksDB in the worker's table
folder, or a dict with the memory store), and the table holds only account records and
tenant settings. The store is built again from the table whenever the table may have
changed without it: at the first batch, after every rebalance (the table's recovery, or
a new consumer generation), after a partition was completed from its outboxes, and after
the agent failed in the middle of a batch (its index changes then have no table writes).
Index keys that tables of earlier versions hold are left there and never read.

A resolver decision that raises part way (the worker dead-letters the event) leaves
nothing behind: the worker applies each event through :class:`EventWrites`, which keeps
its writes, records and index keys alike, until the decision completes. Otherwise the
index could be ahead of the records (an account listed under a domain while its record
says otherwise) until the next build.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from .core.resolver import DERIVED_PREFIXES, IndexBuilder, typo_entries
from .packed_state import PackedState

log = logging.getLogger(__name__)

_MISSING = object()

#: Table items read, or index keys written, between two turns of the event loop while
#: building.
_YIELD_EVERY = 2000


class SplitState(MutableMapping[str, Any]):
    """The resolver's state as one mapping: index keys in ``index``, the rest in ``table``.

    Keys with a prefix of :data:`~streams.core.resolver.DERIVED_PREFIXES` are read from
    and written to ``index``; every other key (account records, tenant settings) to
    ``table``.
    """

    def __init__(self, table: MutableMapping[str, Any], index: MutableMapping[str, Any]):
        self.table = table
        self.index = index

    def _side(self, key: str) -> MutableMapping[str, Any]:
        return self.index if key.startswith(DERIVED_PREFIXES) else self.table

    def __getitem__(self, key: str) -> Any:
        return self._side(key)[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` on its side, or ``default``."""
        return self._side(key).get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._side(key)[key] = value

    def __delitem__(self, key: str) -> None:
        del self._side(key)[key]

    def __iter__(self) -> Iterator[str]:
        yield from (k for k in self.table if not k.startswith(DERIVED_PREFIXES))
        yield from self.index

    def __len__(self) -> int:
        return sum(1 for _ in self)


class EventWrites(MutableMapping[str, Any]):
    """One event's view of ``state``: its writes kept apart until :meth:`commit`.

    The resolver replaces values rather than changing them in place, so discarding the
    writes (not committing) leaves ``state`` as it was before the event.
    """

    def __init__(self, state: MutableMapping[str, Any]):
        self.state = state
        self._writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        hit = self._writes.get(key, _MISSING)
        return self.state[key] if hit is _MISSING else hit

    def get(self, key: str, default: Any = None) -> Any:
        """The value written in this event, else the state's, else ``default``."""
        hit = self._writes.get(key, _MISSING)
        return self.state.get(key, default) if hit is _MISSING else hit

    def __setitem__(self, key: str, value: Any) -> None:
        self._writes[key] = value

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("the resolver never deletes state keys")

    def __iter__(self) -> Iterator[str]:
        yield from self._writes
        yield from (k for k in self.state if k not in self._writes)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def commit(self) -> None:
        """Write the event's values to ``state``, in the order they were made."""
        for key, value in self._writes.items():
            self.state[key] = value
        self._writes.clear()


class ResolverIndexStore:
    """The indexes of one worker's resolver table, built again when they may be stale.

    :param path: a folder for the RocksDB store (deleted and made again at each build);
        None keeps the indexes in a dict.
    :param leftovers: folders of earlier versions' stores, deleted at each build.
    """

    def __init__(self, path: str | None = None, leftovers: Iterable[str] = ()):
        self._path = path
        self._leftovers = list(leftovers)
        self._index: MutableMapping[str, Any] | None = None
        self._generation: Any = None
        self._marks = 0  # times marked stale
        self._built_at_mark = -1

    def mark_stale(self) -> None:
        """The table may have changed without the index: build it again before its use."""
        self._marks += 1

    def current(self, generation: Any) -> MutableMapping[str, Any] | None:
        """The index if it was built for ``generation`` and not marked stale since."""
        if self._index is None or self._built_at_mark != self._marks \
                or generation != self._generation:
            return None
        return self._index

    async def ready(self, items: Callable[[], Iterable[tuple[str, Any]]],
                    generation: Any) -> MutableMapping[str, Any]:
        """The index for ``generation``, built from the table's ``items()`` if need be.

        Built again if it was marked stale while it was being built.
        """
        while (index := self.current(generation)) is None:
            await self._build(items(), generation)
        return index

    async def _build(self, items: Iterable[tuple[str, Any]], generation: Any) -> None:
        marks = self._marks
        started = time.monotonic()
        self.close()
        builder = IndexBuilder()
        for n, (key, value) in enumerate(items, 1):
            builder.add(key, value)
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # heartbeats and the other stages run meanwhile
        derived = builder.build(typos=False)
        index = PackedState(self._path) if self._path else {}
        # The typo index, much the largest part, goes to the store a part at a time.
        pending: dict[str, set[str]] = {}
        for n, (key, value) in enumerate(derived.items(), 1):
            index[key] = value
            for variant_key, name in typo_entries(key, value):
                pending.setdefault(variant_key, set()).add(name)
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if len(pending) >= 50 * _YIELD_EVERY:
                await _merge(index, pending)
        await _merge(index, pending)
        self._index, self._generation, self._built_at_mark = index, generation, marks
        log.info("resolver: index built from %d accounts in %.1fs", builder.accounts,
                 time.monotonic() - started)

    def close(self) -> None:
        """Drop the index (and its folder)."""
        if isinstance(self._index, PackedState):
            self._index.close()
        self._index = None
        for path in ([self._path] if self._path else []) + self._leftovers:
            shutil.rmtree(path, ignore_errors=True)  # a killed worker's leftovers


async def _merge(index: MutableMapping[str, Any], pending: dict[str, set[str]]) -> None:
    for n, (key, names) in enumerate(pending.items(), 1):
        index[key] = sorted(names.union(index.get(key) or ()))
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    pending.clear()
