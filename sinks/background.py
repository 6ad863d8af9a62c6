"""Writes run in a thread of their own, one at a time and in order, while the caller goes on.

The database does its share of a write without holding the GIL (chDB works in C++, a
server over the network), so the caller's Python work (the replay's core, encoding the
next batch) goes on meanwhile. One write runs at a time and the next waits in the
caller: :meth:`BackgroundWrites.submit` first waits for the write before, and raises its
error, so at most two batches are held and a failure stops the caller one batch later at
most. A caller that can go on without writing yet asks :attr:`BackgroundWrites.busy` first
and gathers more rows meanwhile, so its writes grow while the database is slower than
the caller and shrink while it keeps up. Leaving the ``with`` block waits for the write
under way; when the block is left by an error, that write's own error is dropped (the
caller's is the one that matters).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWrites:
    """One write at a time, in order, in a thread (see module doc)."""

    def __init__(self) -> None:
        #: Rows written so far (what the finished writes returned).
        self.rows = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="background-write")
        self._running: Future[int] | None = None

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown(wait=True)

    def submit(self, write: Callable[..., int], *args: Any) -> None:
        """Run ``write(*args)`` (it returns the rows it wrote) once the write before is done."""
        self.wait()
        self._running = self._pool.submit(write, *args)

    @property
    def busy(self) -> bool:
        """Whether a write is under way (:meth:`submit` would wait for it)."""
        return self._running is not None and not self._running.done()

    def wait(self) -> None:
        """Wait for the write under way; add its rows to :attr:`rows` or raise its error."""
        if self._running is not None:
            running, self._running = self._running, None
            self.rows += running.result()
