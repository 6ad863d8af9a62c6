"""Retry a coroutine with capped exponential backoff until it succeeds or the app stops.

Agents never raise out of their loop (an exception acks the event in Faust); a write that
fails with a retryable error is retried here instead, which also pauses consumption of that
partition for as long as the write keeps failing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def backoff_delays(initial: float = 0.2, cap: float = 30.0, factor: float = 2.0):
    """Infinite sequence of delays: initial, initial*factor, ... capped, with jitter."""
    delay = initial
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(cap, delay * factor)


async def retry_async(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    should_stop: Callable[[], bool] = lambda: False,
    initial: float = 0.2,
    cap: float = 30.0,
) -> T:
    """Await ``attempt()`` until it succeeds; log each failure once with the next delay."""
    failures = 0
    for delay in backoff_delays(initial, cap):
        try:
            result = await attempt()
        except retry_on as exc:
            failures += 1
            if should_stop():
                raise
            log.warning(
                "%s failed (attempt %d), retrying in %.1fs: %s: %s",
                what,
                failures,
                delay,
                type(exc).__name__,
                exc,
            )
            await asyncio.sleep(delay)
            continue
        if failures:
            log.info("%s succeeded after %d failed attempts", what, failures)
        return result
    raise AssertionError("unreachable")  # pragma: no cover
