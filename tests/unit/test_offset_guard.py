"""The offset guard: only processed events are acknowledged; gaps are never filled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest

from streams import offset_guard
from streams.exceptions import StreamConfigError


def message(offset: int):
    return SimpleNamespace(tp=("t", 0), topic="t", partition=0, offset=offset, acked=False)


def test_only_messages_an_agent_processed_are_acknowledged():
    calls = []
    ack = offset_guard._ack_only_processed(lambda self, m: calls.append(m.offset) or True)
    done, skipped = message(5), message(6)
    unacked = [done, skipped]
    consumer = SimpleNamespace(_unacked_messages=SimpleNamespace(discard=unacked.remove))
    offset_guard.mark_processed([SimpleNamespace(message=done)])
    assert ack(consumer, skipped) is False and skipped.acked  # refused, never counted
    assert unacked == [done]  # and no longer tracked as in flight
    assert ack(consumer, done) is True
    assert calls == [5]
    again = message(5)  # the same offset read again later: not marked this time
    unacked.append(again)
    assert ack(consumer, again) is False and calls == [5]


def test_a_gap_in_fetched_offsets_is_not_recorded():
    consumer = SimpleNamespace(_gap={})
    asyncio.run(offset_guard._refuse_gap(consumer, SimpleNamespace(topic="t", partition=0),
                                         7, 113))
    assert consumer._gap == {}


def test_a_commit_starts_at_the_committed_offset_not_one_past_it():
    new_offset = offset_guard._new_offset_from_committed(lambda self, tp: max(self._acked[tp]) + 1)
    consumer = SimpleNamespace(_acked={"tp": [130, 131, 132]}, _committed_offset={"tp": 129})
    assert new_offset(consumer, "tp") is None  # 129 itself was never processed
    consumer._acked["tp"].insert(0, 129)
    assert new_offset(consumer, "tp") == 133
    fresh = SimpleNamespace(_acked={"tp": [1, 2]}, _committed_offset={"tp": None})
    assert new_offset(fresh, "tp") == 3  # no commit and no log start known: Faust's rule
    offset_guard._log_start["tp"] = 0  # read after the rebalance's seek
    assert new_offset(fresh, "tp") is None  # offset 0 was never processed
    fresh._acked["tp"].insert(0, 0)
    assert new_offset(fresh, "tp") == 3


def test_the_log_start_is_read_for_partitions_without_a_commit():
    calls = []

    async def original(self):
        calls.append("seek")

    async def earliest_offsets(*tps):
        return {tp: 0 for tp in tps}

    consumer = SimpleNamespace(assignment=lambda: {"a", "b"},
                               _committed_offset={"a": 17, "b": None},
                               earliest_offsets=earliest_offsets)
    perform_seek = offset_guard._perform_seek_noting_log_start(original)
    asyncio.run(perform_seek(consumer))
    assert calls == ["seek"] and offset_guard._log_start["b"] == 0
    assert "a" not in offset_guard._log_start


def test_a_faust_release_the_guard_was_not_tested_with_is_refused():
    from streams.offset_guard import TESTED_FAUST_VERSIONS, check_faust_version

    assert faust.__version__ in TESTED_FAUST_VERSIONS  # what the package pins
    check_faust_version(faust.__version__)
    with pytest.raises(StreamConfigError, match=r"faust-streaming 0\.16\.0 is installed, but "
                       r"the worker's offset handling was tested with 0\.15\.3 only"):
        check_faust_version("0.16.0")
