"""Crash points for tests: a worker that SIGKILLs itself at a chosen step of a batch.

``COSELLING_FAULT_POINT=STAGE:POINT:N`` (see :class:`~streams.settings.Settings`) kills
the worker in agent STAGE at POINT, so that a test can restart it and check that nothing
was lost where a random kill rarely lands:

- ``after-outbox``: in the N-th batch with table writes, once its outboxes landed;
- ``after-sends``: in the N-th batch with table writes, once its messages were delivered;
- ``mid-checkpoint``: in the N-th checkpoint, once half of its table writes landed.

Unset (always, outside tests) nothing here does anything. See :mod:`streams.outbox`.
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
        self._n = int(n)
        self._batches: Counter[str] = Counter()
        self._checkpoints: Counter[str] = Counter()

    def at(self, stage: str, point: str) -> bool:
        """True if the worker is to die at ``point`` of ``stage``'s batch in progress."""
        if stage != self._stage or point != self._point:
            return False
        done = self._checkpoints if point == "mid-checkpoint" else self._batches
        return done[stage] + 1 == self._n

    def done(self, stage: str, *, checkpoint: bool) -> None:
        """``stage`` finished a batch with table writes (and with it a checkpoint)."""
        self._batches[stage] += 1
        self._checkpoints[stage] += checkpoint

    def kill(self, stage: str, point: str) -> None:
        """SIGKILL this process (no shutdown, no flush, no commit)."""
        log.warning("fault point %s:%s:%d reached: killing the worker", stage, point, self._n)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
