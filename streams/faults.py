"""Crash points for tests: a worker that SIGKILLs itself at a chosen step of a batch.

``COSELLING_FAULT_POINT=STAGE:POINT:N`` (see :class:`~streams.settings.Settings`) kills
the worker in the N-th batch with table writes of agent STAGE, at POINT, so that a test
can restart it and check that nothing was lost where a random kill rarely lands. Unset
(always, outside tests) nothing here does anything.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter

log = logging.getLogger(__name__)


class Faults:
    """Where (if anywhere) this worker kills itself."""

    def __init__(self, point: str | None):
        self._stage, self._point, n = (point.split(":") if point else (None, None, "0"))
        self._batch = int(n)
        self._done: Counter[str] = Counter()

    def at(self, stage: str, point: str) -> bool:
        """True if the worker is to die at ``point`` of the batch ``stage`` is in."""
        return (stage == self._stage and point == self._point
                and self._done[stage] + 1 == self._batch)

    def batch_done(self, stage: str) -> None:
        """``stage`` finished a batch with table writes."""
        self._done[stage] += 1

    def kill(self, stage: str, point: str) -> None:
        """SIGKILL this process (no shutdown, no flush, no commit)."""
        log.warning("fault point %s:%s:%d reached: killing the worker", stage, point,
                    self._batch)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
