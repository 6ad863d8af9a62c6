"""Stops Faust from committing offsets of messages no agent processed.

Three paths in faust-streaming (0.15) count a message as processed although no agent saw
it, so its offset gets committed and a crash or rebalance loses it for good. The SIGKILL
test (tests/integration/test_crash_recovery.py) lost inbound events through all three:

1. **Gaps.** When a fetched message's offset is more than one past the last one read,
   ``Consumer._add_gap`` records the offsets in between and ``_new_offset`` later counts
   them as acknowledged. Meant for holes left by compaction or transaction markers, it also
   fires when a message fetched before a rebalance's seek arrives after it (seen: "fetched
   offset 114 right after 6"), and 107 never-processed offsets became committable.
2. **Skipped messages.** A message the stream skips (fetched in an earlier consumer
   generation, or delivered while flow control is paused for a rebalance or recovery) is
   acknowledged anyway, in the stream's ``finally`` (``faust/streams.py`` ``_py_aiter``; the
   same in the Cython stream). It never reached an agent, but its offset is committed.
3. **One missing message at the head.** ``Consumer._new_offset`` refuses to commit when
   the lowest acknowledged offset is more than one past the committed offset, but the
   committed offset is already the *next* offset to read, so exactly one unprocessed
   message right after it is committed anyway (an off-by-one). Seen: ingest processed
   offsets ..128 and 130..156 of a partition, committed 129, then 157; event 129 was lost.

The pipeline's source topics have no holes (none is compacted, see ``streams.topics``, and
nothing is written transactionally), so a gap is never legitimate: gaps are not recorded.
And every agent here runs :func:`streams.app.create_app`'s batch loop, which calls
:func:`mark_processed` for the events of a batch once everything the batch produced was
acknowledged by Kafka; an acknowledgement of any other message is refused. A new commit
must start exactly at the committed offset; where Faust keeps none (nothing committed yet,
or offset 0, which Faust stores as None) it must start at the partition's log start
offset, read after every rebalance's seek. The commit then
waits at the first message not processed; the rebalance's own seek (or else the stall
watchdog, ``streams.watchdog``) reads it again, and the agents are idempotent, so a message
processed twice costs only time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.transport.consumer import Consumer

from .exceptions import StreamConfigError

log = logging.getLogger(__name__)

_installed = False


async def _refuse_gap(self: Consumer, tp, offset_from: int, offset_to: int) -> None:
    log.info("%s[%d]: fetched offset %d right after %d; the offsets in between are not "
             "counted as processed", tp.topic, tp.partition, offset_to, offset_from - 1)


_processed: set[tuple[Any, int]] = set()


def mark_processed(events: Iterable[Any]) -> None:
    """Let Faust acknowledge these events: an agent has fully processed them."""
    _processed.update((e.message.tp, e.message.offset) for e in events)


def _ack_only_processed(original):
    def ack(self: Consumer, message) -> bool:
        key = (message.tp, message.offset)
        if key in _processed:
            _processed.discard(key)
            return original(self, message)
        if not message.acked:
            message.acked = True  # this Message object is done; a re-read is a new one
            self._unacked_messages.discard(message)
            log.debug("not acknowledging %s[%d]@%d: no agent processed it", message.topic,
                      message.partition, message.offset)
        return False

    return ack


_log_start: dict[Any, int] = {}


def _new_offset_from_committed(original):
    def new_offset(self: Consumer, tp) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        start = committed if committed is not None else _log_start.get(tp)
        if acked and start is not None and min(acked) > start:
            return None  # the message at the committed offset is not processed yet
        return original(self, tp)

    return new_offset


def _perform_seek_noting_log_start(original):
    async def perform_seek(self: Consumer) -> None:
        await original(self)
        unknown = [tp for tp in self.assignment() if self._committed_offset.get(tp) is None]
        if unknown:
            _log_start.update(await self.earliest_offsets(*unknown))

    return perform_seek


#: The faust-streaming releases these patches were written for and tested with (the
#: package pins the same); any other one is refused, since the patched private methods
#: may have changed.
TESTED_FAUST_VERSIONS = ("0.15.3",)


def check_faust_version(version: str | None = None) -> None:
    """Raise :class:`StreamConfigError` unless the installed Faust is a tested release."""
    version = version or faust.__version__
    if version not in TESTED_FAUST_VERSIONS:
        raise StreamConfigError(
            f"faust-streaming {version} is installed, but the worker's offset handling was "
            f"tested with {', '.join(TESTED_FAUST_VERSIONS)} only; install "
            f"faust-streaming=={TESTED_FAUST_VERSIONS[-1]} (pip install . does)")


def install() -> None:
    """Patch Faust's consumer in this process (idempotent); refuse an untested Faust."""
    global _installed
    check_faust_version()
    if not _installed:
        Consumer._add_gap = _refuse_gap  # type: ignore[method-assign]
        Consumer.ack = _ack_only_processed(Consumer.ack)  # type: ignore[method-assign]
        Consumer._new_offset = _new_offset_from_committed(  # type: ignore[method-assign]
            Consumer._new_offset)
        Consumer.perform_seek = _perform_seek_noting_log_start(  # type: ignore[method-assign]
            Consumer.perform_seek)
        _installed = True
