"""The worker's typo index: built from the resolver table's items, again when it may be stale."""

from __future__ import annotations

import asyncio
import os

import pytest

from streams.core.resolver import MatchInput, apply_input, typo_index
from streams.core.statekeys import account_key
from streams.typo_store import TypoIndexStore


def _state(*names: str) -> dict:
    state: dict = {}
    for n, name in enumerate(names):
        apply_input(state, MatchInput(account_key("t1", f"r{n}"), "t1", [], name, "DE", 1))
    return state


def _contents(index) -> dict:
    return {k: index[k] for k in index}


@pytest.mark.parametrize("on_disk", [False, True])
def test_built_from_the_table_and_again_only_when_it_may_be_stale(tmp_path, on_disk):
    path = str(tmp_path / "typos") if on_disk else None
    if on_disk:  # a killed worker's folder, with a name no account holds any more
        os.makedirs(path)
        (tmp_path / "typos" / "leftover").write_text("x")
    state = _state("acme widgets", "globex maschinen", "tiny")
    reads: list[int] = []

    def items():
        reads.append(1)
        return list(state.items())

    store = TypoIndexStore(path)

    async def run():
        index = await store.ready(items, generation=1)
        assert _contents(index) == typo_index(state.items())
        assert await store.ready(items, generation=1) is index and len(reads) == 1
        # Another generation (a rebalance) or the table's recovery: built again.
        state.update(_state("acme widgets", "globex maschinen", "initech systems"))
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
    state = _state("acme widgets")
    store = TypoIndexStore()
    builds: list[int] = []

    def items():
        builds.append(1)
        for n, item in enumerate(list(state.items()) * 2000):
            if n == 2500 and len(builds) == 1:
                store.mark_stale()  # the table recovered meanwhile
            yield item

    index = asyncio.run(store.ready(items, generation=1))
    assert len(builds) == 2 and _contents(index) == typo_index(state.items())
