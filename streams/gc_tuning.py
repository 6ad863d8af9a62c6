"""Garbage-collector settings for the processes that hold the core's state.

CPython frees almost everything by reference counting; its *cyclic* collector only exists
for objects that refer to each other in a loop. A collection of the oldest generation
walks every tracked object still alive, so with a million accounts of state in the
process (replay, the core benchmark) each full collection paused for seconds and, over a
run, took more than a quarter of the time while finding nothing: the core's state is
plain dicts, lists and strings that never refer back to their owners, so it holds no
cycle.

Two settings, each safe for a reason it states:

- :func:`freeze_startup` (worker and replay start): one collection, then
  :func:`gc.freeze` moves what survived (imported modules, the app, loaded events and
  state) out of the collector's sight. Those objects live as long as the process; a
  frozen object is still freed by reference counting when dropped, and only a frozen
  object that later ends up in an unreachable *cycle* would stay, which startup objects
  (modules, settings, the app) do not. The first generation's threshold is raised so the
  young collections, cheap as they are, run a tenth as often.
- :class:`Pacer` (replay, the core benchmark): the automatic collector is switched off;
  every ``every`` events (1,000 by default) :meth:`Pacer.tick` collects (it walks only
  what was allocated since the last tick, everything older being frozen) and freezes the
  survivors. A pause is therefore bounded by what ``every`` events allocate, not by the
  size of the state; cyclic garbage (an exception's traceback, say) lives at most until
  the next tick. What survives a tick is state or long-lived objects; state is acyclic,
  so freezing it cannot keep garbage alive. :meth:`Pacer.close` restores the collector.

The stream worker keeps its state in RocksDB (Faust tables), not in Python objects, so it
gets only :func:`freeze_startup`.
"""

from __future__ import annotations

import gc

#: Young-generation threshold after :func:`freeze_startup` (CPython's default is 700).
YOUNG_THRESHOLD = 7000


def freeze_startup() -> None:
    """Collect once, freeze what survives, and make young collections rarer."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, old)


class Pacer:
    """Collector off; a bounded collection every ``every`` events (see module doc)."""

    def __init__(self, every: int = 1000):
        self.every = every
        self._left = every
        self._was_enabled = gc.isenabled()
        freeze_startup()
        gc.disable()

    def tick(self, events: int = 1) -> None:
        """Count ``events`` done; every ``every`` of them, collect the new and freeze it."""
        self._left -= events
        if self._left <= 0:
            self._left = self.every
            gc.collect()
            gc.freeze()

    def close(self) -> None:
        """Collect what is left and switch the automatic collector back as it was."""
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def __enter__(self) -> Pacer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
