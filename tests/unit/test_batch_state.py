"""BatchState: a batch's table writes held back; write_entries: written and waited for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from streams.faust_state import BatchState, write_entries


class ScriptedTable(dict):
    """A table whose changelog sends succeed, or fail while ``failing`` is set.

    Like :class:`streams.faust_state.ChangelogTable`: every write is one changelog send,
    whose future :meth:`take_changelog_sends` hands out.
    """

    def __init__(self):
        super().__init__()
        self.failing = False
        self.sent: list[str] = []
        self._sends: list[asyncio.Future] = []

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        fut = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        if self.failing:
            loop.call_soon(fut.set_exception, OSError("broker unavailable"))
        else:
            self.sent.append(key)
            loop.call_soon(fut.set_result, None)
        self._sends.append(fut)

    def take_changelog_sends(self):
        sends, self._sends = self._sends, []
        return sends


class Event:
    """What Faust's tables read of the current event (they hold it by weak reference)."""

    def __init__(self, partition: int):
        self.message = SimpleNamespace(partition=partition)


def event(partition: int) -> Event:
    return Event(partition)


def test_writes_stay_buffered_and_write_entries_waits_for_their_changelog():
    async def run():
        table = ScriptedTable()
        state = BatchState(table)
        e = event(1)  # BatchState keeps the event: it must outlive the batch's writes
        state.use_event(e)
        for i in range(5):
            state[f"k{i}"] = i
        assert table == {} and state.pending == 5 and state["k3"] == 3
        assert [(k, v) for k, v, _ in state.entries()] == [(f"k{i}", i) for i in range(5)]
        table.failing = True
        with pytest.raises(OSError):  # a failed changelog send fails the write
            await write_entries(table, state.entries(), yield_every=2)
        table.failing = False
        await write_entries(table, state.entries(), yield_every=2)
        assert table == {f"k{i}": i for i in range(5)}
        assert sorted(table.sent) == [f"k{i}" for i in range(5)]

    asyncio.run(run())


def test_write_entries_lets_other_tasks_run_every_so_many_writes():
    async def run():
        table = ScriptedTable()
        e = event(0)
        seen: list[int] = []

        async def other():
            while True:
                seen.append(len(table))
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)
        await write_entries(table, [(f"k{i}", i, e) for i in range(6)], yield_every=2)
        task.cancel()
        assert 2 in seen and 4 in seen  # it ran between the writes, not only after them

    asyncio.run(run())


def test_uncovered_writes_are_read_before_the_table_and_kept_after_the_outbox():
    table = ScriptedTable()
    dict.update(table, {"a": "table a", "b": "table b", "c": "table c"})
    uncovered: dict = {}
    e0, e1 = event(0), event(1)
    first = BatchState(table, uncovered)
    first.use_event(e0)
    first["a"] = "batch 1 a"
    first.use_event(e1)
    first["d"] = "batch 1 d"
    assert first.by_partition() == {0: {"a": "batch 1 a"}, 1: {"d": "batch 1 d"}}
    first.keep()  # its outboxes landed
    assert first.pending == 0 and uncovered["a"][0] == "batch 1 a"
    assert dict(table) == {"a": "table a", "b": "table b", "c": "table c"}  # no table write

    second = BatchState(table, uncovered)
    second.use_event(e0)
    second["b"] = "batch 2 b"
    assert second["a"] == "batch 1 a" and second.get("d") == "batch 1 d"
    assert second["b"] == "batch 2 b" and second["c"] == "table c"
    assert second.get("zzz", "none") == "none"
    assert dict(second.items()) == {"a": "batch 1 a", "b": "batch 2 b", "c": "table c",
                                    "d": "batch 1 d"}
    assert sorted(second) == ["a", "b", "c", "d"] and len(second) == 4
    second["a"] = "batch 2 a"
    second.keep()
    assert uncovered["a"][0] == "batch 2 a"
