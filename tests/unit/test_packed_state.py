"""The core on packed state (bytes in a dict or in RocksDB) gives what it gives on dicts."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.core.pipeline import Pipeline
from streams.demo_data import generate
from streams.packed_state import PackedState

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("on_disk", [False, True])
def test_the_pipeline_on_packed_state_yields_the_same_changes_and_state(tmp_path, on_disk):
    events = generate(companies=60, seed=5, now=NOW)
    plain = Pipeline(None)
    accounts = PackedState(str(tmp_path / "accounts") if on_disk else None)
    companies = PackedState(str(tmp_path / "companies") if on_disk else None)
    resolver = PackedState(str(tmp_path / "resolver") if on_disk else None)
    packed = Pipeline(None, accounts, companies, resolver_state=resolver)
    for event in events:
        # A partnership event visits companies in key order in RocksDB, in insertion
        # order in a dict: the same changes, one per result key, in another order.
        assert sorted(packed.apply(*event), key=_key) == sorted(plain.apply(*event), key=_key)
    assert packed.current() == plain.current() != {}
    assert dict(accounts.items()) == plain.account_state
    assert dict(companies.items()) == plain.company_state
    assert dict(resolver.items()) == plain.resolver_state
    assert all(packed.holds(*event) == plain.holds(*event) for event in events)
    for store in (accounts, companies, resolver):
        store.compact()  # files merged (on disk) or nothing (in a dict): the same values
    assert dict(companies.items()) == plain.company_state
    assert dict(resolver.items()) == plain.resolver_state
    assert packed.current() == plain.current()
    accounts.close()
    companies.close()
    resolver.close()
    assert not (tmp_path / "accounts").exists() and len(accounts) == 0


def _key(change):
    return change.key


def test_packed_state_is_a_mapping_of_copies():
    state = PackedState()
    state["k"] = {"a": [1, None, "x"], "b": True}
    value = state["k"]
    value["a"].append(2)
    assert state["k"] == {"a": [1, None, "x"], "b": True}  # only a write changes it
    assert "k" in state and 1 not in state and state.get("z", 0) == 0 and list(state) == ["k"]
    del state["k"]
    with pytest.raises(KeyError):
        state["k"]
    with pytest.raises(KeyError):
        del state["k"]
    with pytest.raises(ValueError):
        state["bad"] = {"amount": object()}
