"""The worker's resolver indexes: built from the table's account records, again when stale."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from streams.core.resolver import (
    DERIVED_PREFIXES,
    MatchInput,
    apply_input,
    assignment_of,
    derived_index,
)
from streams.core.statekeys import account_key
from streams.resolver_index import EventWrites, ResolverIndexStore, SplitState


def _state(*names: str, domain: str | None = None) -> dict:
    state: dict = {}
    for n, name in enumerate(names):
        domains = [[domain, "domain"]] if domain else []
        apply_input(state, MatchInput(account_key("t1", f"r{n}"), "t1", domains, name, "DE", 1))
    return state


def _records(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith(DERIVED_PREFIXES)}


def _contents(index) -> dict:
    return {k: index[k] for k in index}


@pytest.mark.parametrize("on_disk", [False, True])
def test_built_from_the_account_records_and_again_only_when_it_may_be_stale(tmp_path,
                                                                             on_disk):
    path = str(tmp_path / "index") if on_disk else None
    leftover = tmp_path / "resolver-typos"  # an earlier build's folder
    leftover.mkdir()
    if on_disk:  # a killed worker's folder, with a name no account holds any more
        os.makedirs(path)
        (tmp_path / "index" / "leftover").write_text("x")
    # The table of an earlier build also holds index keys: they are not read.
    table = {**_records(_state("acme widgets", "globex maschinen", "tiny")),
             "n:DE\x1fstale name": {"t1\x1fr9": ""}}
    reads: list[int] = []

    def items():
        reads.append(1)
        return list(table.items())

    store = ResolverIndexStore(path, leftovers=[str(leftover)])

    async def run():
        index = await store.ready(items, generation=1)
        assert _contents(index) == derived_index(_records(table).items())
        assert "n:DE\x1facme widgets" in _contents(index)
        assert "n:DE\x1fstale name" not in _contents(index) and not leftover.exists()
        assert await store.ready(items, generation=1) is index and len(reads) == 1
        # Another generation (a rebalance) or the table's recovery: built again.
        table.update(_records(_state("acme widgets", "globex maschinen", "initech systems")))
        again = await store.ready(items, generation=2)
        assert len(reads) == 2 and "v:DE\x1finitech system" in _contents(again)
        store.mark_stale()
        await store.ready(items, generation=2)
        assert len(reads) == 3
        store.close()
        if on_disk:
            assert not os.path.exists(path)

    asyncio.run(run())


def test_marked_stale_while_it_was_being_built_it_is_built_again():
    table = _records(_state("acme widgets"))
    store = ResolverIndexStore()
    builds: list[int] = []

    def items():
        builds.append(1)
        for n, item in enumerate(list(table.items()) * 3000):
            if n == 2500 and len(builds) == 1:
                store.mark_stale()  # the table recovered meanwhile
            yield item

    index = asyncio.run(store.ready(items, generation=1))
    assert len(builds) == 2 and _contents(index) == derived_index(table.items())


def test_the_split_state_keeps_the_indexes_out_of_the_table():
    table: dict = {}
    index: dict = {}
    split = SplitState(table, index)
    for n, name in enumerate(["acme widgets", "acme widgest"]):
        apply_input(split, MatchInput(account_key("t1", f"r{n}"), "t1",
                                      [["acme.com", "domain"]] if n == 0 else [], name,
                                      "DE", 1), index)
    assert sorted(k[:2] for k in table) == ["a:", "a:"]
    assert {k[:2] for k in index} == {"d:", "l:", "n:", "v:"}
    assert split.get("d:acme.com")["m"] == {account_key("t1", "r0"): ["acme widgets", "DE"]}
    assert set(split) == set(table) | set(index) and len(split) == len(table) + len(index)
    # The name without a domain joined the domain company through the typo.
    assert assignment_of(table, account_key("t1", "r1"))[0] == "acme.com"
    assert index == derived_index(table.items())


def test_an_event_whose_decision_raises_part_way_leaves_nothing_behind():
    table: dict = {}
    index: dict = {}

    def apply(account: str, name: Any, domains: list) -> list:
        event = EventWrites(SplitState(table, index))
        out = apply_input(event, MatchInput(account_key("t1", account), "t1", domains, name,
                                            "DE", 1))
        event.commit()
        return out

    assert [a.company_key for a in apply("r0", "acme widgets", [["acme.com", "domain"]])] \
        == ["acme.com"]
    table_before, index_before = dict(table), dict(index)
    # A name that is not text: the domain's index keys are written before the name's
    # raise, and the account's record after it.
    with pytest.raises(TypeError):
        apply("r1", 12345, [["initech.com", "domain"]])
    assert (table, index) == (table_before, index_before)
    assert apply("r1", "initech systems", [["initech.com", "domain"]])[0].company_key \
        == "initech.com"
    assert index == derived_index(table.items())
    # What the event would have left without its writes kept apart: an index ahead of
    # the records.
    split = SplitState(table, index)
    with pytest.raises(TypeError):
        apply_input(split, MatchInput(account_key("t1", "r2"), "t1",
                                      [["globex.com", "domain"]], 12345, "DE", 1))
    assert index != derived_index(table.items())
    assert "d:globex.com" in index and f"a:{account_key('t1', 'r2')}" not in table
