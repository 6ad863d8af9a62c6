"""BatchState: a batch's table writes held back; write_entries: written and waited for."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest

from streams.faust_state import BatchState, decode_value, encode_value, write_entries


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

    def put(self, key, value):
        self[key] = value

    def take_changelog_sends(self):
        sends, self._sends = self._sends, []
        return sends


class Event:
    """What Faust's tables read of the current event (they hold it by weak reference)."""

    def __init__(self, partition: int):
        self.message = SimpleNamespace(partition=partition, topic="source")


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
    first.keep()  # its outboxes landed; kept encoded as the table's stores hold values
    assert first.pending == 0 and uncovered["a"][0] == b'"batch 1 a"'
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
    second["a"] = {"n": "batch 2 a", "amount": Decimal("1.50")}
    second.keep()
    assert decode_value(uncovered["a"][0]) == {"n": "batch 2 a", "amount": "1.50"}
    third = BatchState(table, uncovered)
    assert third["a"] == third.get("a") == {"n": "batch 2 a", "amount": "1.50"}
    assert third.get("a") is not third.get("a")  # each read a fresh value, as the table's


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_the_tables_get_answers_as_its_reads_in_the_current_events_partition(tmp_path, store):
    import faust

    from streams.faust_state import ChangelogTable, set_current_event

    app = faust.App("get-test", broker="kafka://127.0.0.1:1", store=store,
                    datadir=str(tmp_path), Table=ChangelogTable)
    table = app.Table("t", default=None, key_type=str, partitions=2)
    on_p0, on_p1 = event(0), event(1)
    set_current_event(on_p1)
    table.data["k"] = {"v": [1, 2]}  # the store itself: no changelog send
    assert table.get("k") == {"v": [1, 2]} and table.get("k") == table["k"]
    assert table.get("missing") is None and table.get("missing", 7) == 7
    if store == "rocksdb://":  # a key lives in its event's partition
        set_current_event(on_p0)
        assert table.get("k", "absent") == "absent"


def test_put_sends_and_stores_the_bytes_faust_would(tmp_path):
    import faust
    import orjson

    from streams.faust_state import ChangelogTable, set_current_event

    async def run(datadir):
        app = faust.App("put-test", broker="kafka://127.0.0.1:1", store="rocksdb://",
                        datadir=datadir, Table=ChangelogTable)
        table = app.Table("t", default=None, key_type=str, partitions=2)
        e = event(1)
        set_current_event(e)
        value = {"account": {"r1": {"v": 2, "d": {"name": "Société ✓", "n": None}}},
                 "seq": [1, 2.5, True]}
        table["faust\x1fway"] = value  # Faust's own path
        table.put("our\x1fway", value)
        table.put("kept\x1fway", encode_value(value))  # a value kept encoded (uncovered)
        theirs, ours, kept = (f.message for f in table.take_changelog_sends())
        assert kept.value == theirs.value and table.get("kept\x1fway") == value
        assert (ours.key, ours.value, ours.partition) == (
            theirs.key.replace(b"faust", b"our"), theirs.value, theirs.partition) == (
            b'"our\\u001fway"', ours.value, 1)
        assert table.data["our\x1fway"] == table.get("our\x1fway") == value  # Faust reads it
        assert table._codec.encode_key is orjson.dumps  # the direct encoding, not Faust's
        assert table._codec.encode_value is encode_value  # kept values pass through as they are

    asyncio.run(run(str(tmp_path)))


def test_put_of_an_encoded_value_on_the_memory_store_holds_the_value(tmp_path):
    import faust

    from streams.faust_state import ChangelogTable, set_current_event

    async def run():
        app = faust.App("put-memory", broker="kafka://127.0.0.1:1", store="memory://",
                        datadir=str(tmp_path), Table=ChangelogTable)
        table = app.Table("t", default=None, key_type=str, partitions=1)
        e = event(0)
        set_current_event(e)
        table.put("k", encode_value({"a": [1, "x"]}))
        assert table.data.data["k"] == {"a": [1, "x"]} == table.get("k")

    asyncio.run(run())


def test_the_batch_before_sealed_is_read_before_uncovered_values_as_fresh_copies():
    table = {"a": {"n": 0}, "b": {"n": 0}}
    uncovered = {"a": (encode_value({"n": 1}), None), "b": (encode_value({"n": 1}), None)}
    before = BatchState(table, uncovered)
    before["a"] = {"n": 2}
    staged = before.seal()
    with pytest.raises(RuntimeError):
        before["b"] = {"n": 2}  # sealed: its outboxes are being made from these values
    after = BatchState(table, uncovered, staged)
    assert after["a"] == {"n": 2} and after.get("b") == {"n": 1}
    assert dict(after.items()) == {"a": {"n": 2}, "b": {"n": 1}} and len(after) == 2
    after["a"]["n"] = 3  # a read is a copy: the batch before's values stay as sealed
    assert before.entries()[0][1] == {"n": 2} and decode_value(staged["a"][0]) == {"n": 2}
    before.keep()
    assert decode_value(uncovered["a"][0]) == {"n": 2} and before.pending == 0
