"""The collector settings of the processes that hold the core's state."""

from __future__ import annotations

import gc
import weakref

from streams.gc_tuning import YOUNG_THRESHOLD, Pacer


class _Cycle:
    """Garbage only the cyclic collector can free."""

    def __init__(self):
        self.me = self


def test_the_pacer_collects_cycles_at_its_ticks_only_and_freezes_what_survives():
    threshold = gc.get_threshold()
    try:
        with Pacer(every=3) as pacer:
            assert not gc.isenabled() and gc.get_threshold()[0] >= YOUNG_THRESHOLD
            frozen = gc.get_freeze_count()
            kept = [{"state": [n]} for n in range(100)]
            cycle = weakref.ref(_Cycle())
            for _ in range(10_000):
                garbage = [[]]  # noqa: F841 - allocations that would trigger automatic collections
            pacer.tick(2)
            assert cycle() is not None and gc.get_freeze_count() == frozen
            pacer.tick(1)
            assert cycle() is None
            assert gc.get_freeze_count() >= frozen + len(kept)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
