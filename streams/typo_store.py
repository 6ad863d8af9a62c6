"""The resolver's typo index in a worker: derived from the resolver table, not logged.

The typo index (:mod:`streams.core.resolver`: every name one deletion of a letter away
from a name some account holds) is a function of the table's ``n:`` keys, and a new name
writes a key per letter to it. Kept in the table, those writes were more than half of the
resolver's changelog messages. :class:`TypoIndexStore` keeps it in a scratch store of the
worker instead (RocksDB in the worker's table folder, or a dict with the memory store) and
builds it again from the table whenever the table may have changed without it: at the
first batch, after every rebalance (the table's recovery, or a new consumer generation),
and after the agent failed in the middle of a batch. A name the index has too many (a
batch applied to it whose table writes were lost) clusters nothing (the resolver uses a
name only while an account holds it); a name it misses would, hence the rebuilds.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from .core.resolver import typo_entries
from .packed_state import PackedState

log = logging.getLogger(__name__)

#: Table items read, or names indexed, between two turns of the event loop while building.
_YIELD_EVERY = 2000


class TypoIndexStore:
    """The typo index of one worker's resolver table, built again when it may be stale.

    :param path: a folder for the RocksDB store (deleted and made again at each build);
        None keeps the index in a dict.
    """

    def __init__(self, path: str | None = None):
        self._path = path
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
        index = PackedState(self._path) if self._path else {}
        names = 0
        pending: dict[str, set[str]] = {}
        for n, (key, holders) in enumerate(items, 1):
            entries = typo_entries(key, holders)
            for variant_key, name in entries:
                pending.setdefault(variant_key, set()).add(name)
            names += bool(entries)
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # heartbeats and the other stages run meanwhile
            if len(pending) >= 50 * _YIELD_EVERY:
                await _merge(index, pending)
        await _merge(index, pending)
        self._index, self._generation, self._built_at_mark = index, generation, marks
        log.info("resolver: typo index built from %d names in %.1fs", names,
                 time.monotonic() - started)

    def close(self) -> None:
        """Drop the index (and its folder)."""
        if isinstance(self._index, PackedState):
            self._index.close()
        self._index = None
        if self._path:
            shutil.rmtree(self._path, ignore_errors=True)  # a killed worker's leftovers


async def _merge(index: MutableMapping[str, Any], pending: dict[str, set[str]]) -> None:
    for n, (key, names) in enumerate(pending.items(), 1):
        index[key] = sorted(names.union(index.get(key) or ()))
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    pending.clear()
