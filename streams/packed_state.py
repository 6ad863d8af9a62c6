"""The core's state kept packed as bytes, in a dict or in RocksDB, not as Python objects.

:class:`~streams.core.pipeline.Pipeline` takes its account and company state as any
mutable mapping and, like a Faust table, writes every value it changes back with
``state[key] = value``. :class:`PackedState` is such a mapping that stores each value
as one ``marshal`` byte string: a value read is a fresh copy, a value written is packed
at once. An account's state is a few hundred bytes that way instead of kilobytes of
dicts, and bytes are invisible to the cyclic garbage collector (see :mod:`.gc_tuning`).

With ``path`` the bytes live in a RocksDB folder (``rocksdict``) outside the Python heap,
so the process holds only RocksDB's caches. The folder is scratch space for one process:
``marshal``'s format belongs to the Python version, so :meth:`PackedState.close` deletes
it. Values must be what the core stores (dicts, lists, strings, numbers, booleans,
None); anything else raises ``ValueError`` when written.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator, MutableMapping
from typing import Any

from rocksdict import Options, Rdict, WriteOptions

_dumps, _loads = marshal.dumps, marshal.loads


class PackedState(MutableMapping[str, Any]):
    """State key -> value, each value packed as bytes (see module doc)."""

    def __init__(self, path: str | None = None):
        self._path = path
        if path is None:
            self._store: dict[Any, bytes] | Rdict = {}
            self._key = self._unkey = _same
        else:
            self._options = Options(raw_mode=True)
            self._store = Rdict(path, self._options)
            scratch = WriteOptions()
            scratch.disable_wal = True  # deleted on close: nothing to recover after a crash
            self._store.set_write_options(scratch)
            self._key, self._unkey = str.encode, bytes.decode

    def __getitem__(self, key: str) -> Any:
        packed = self._store.get(self._key(key))
        if packed is None:
            raise KeyError(key)
        return _loads(packed)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if it has none."""
        packed = self._store.get(self._key(key))
        return default if packed is None else _loads(packed)

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[self._key(key)] = _dumps(value)

    def __delitem__(self, key: str) -> None:
        stored = self._key(key)
        if stored not in self._store:
            raise KeyError(key)
        del self._store[stored]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) in self._store

    def __iter__(self) -> Iterator[str]:
        return (self._unkey(k) for k in self._store.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self._store.keys())

    def compact(self) -> None:
        """Merge the RocksDB files (with ``path``) into one sorted run; else nothing.

        A key is then found with one look-up instead of one per run it may be in.
        """
        if isinstance(self._store, Rdict):
            self._store.compact_range(None, None)

    def close(self) -> None:
        """Drop everything; with ``path``, close and delete the RocksDB folder."""
        if isinstance(self._store, Rdict):
            self._store.close()
            Rdict.destroy(self._path, self._options)
        self._store = {}
        self._key = self._unkey = _same


def _same(key: Any) -> Any:
    return key
