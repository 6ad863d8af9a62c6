"""Sending only the last snapshot per (company, account) of a batch changes no result.

The accounts stage takes its events in batches; within a batch only the last snapshot of
each (company key, account) is sent (:func:`streams.core.accounts.latest_snapshots`). Random
histories (those of the incremental company stage's test) are applied in random batches
that way and event by event: the active results end equal (a result that started and
ended within one batch is never stored, so the inactive ones may differ).
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.accounts import SnapshotMessage, latest_snapshots
from streams.core.pipeline import Pipeline
from tests.factories import account
from tests.unit.core.test_incremental_company import histories


def current_results(pipeline: Pipeline) -> dict:
    return {k: r["row"] for key, company in pipeline.company_state.items()
            if not key.startswith("~") for k, r in company["results"].items() if r["a"]}


def decide(pipeline: Pipeline, event) -> list[SnapshotMessage]:
    """The snapshots one event makes, its internal messages and match inputs applied."""
    out, work = [], deque(pipeline.accounts.apply(pipeline.account_state, *event))
    while work:
        msg = work.popleft()
        if isinstance(msg, SnapshotMessage):
            out.append(msg)
        else:
            work.extend(pipeline.step(msg))
    return out


def run_batched(pipeline: Pipeline, events, cuts: set[int]) -> int:
    """Apply ``events`` in batches ending before each index in ``cuts`` (and before each
    partnership, which reaches the company stage by another topic); return how many
    snapshots were sent."""
    sent = 0
    batch: list = []

    def flush() -> None:
        nonlocal sent
        decisions = []
        for event in batch:
            decisions.append(decide(pipeline, event))
        for messages in latest_snapshots(decisions):
            for msg in messages:
                sent += 1
                pipeline.companies.apply_snapshot(pipeline.company_state, 0, msg)
        batch.clear()

    for i, (event_type, record) in enumerate(events):
        if i in cuts or event_type == "partnership":
            flush()
        if event_type == "partnership":
            pipeline.apply(event_type, record)
        else:
            batch.append((event_type, record))
    flush()
    return sent


@settings(max_examples=200, deadline=None)
@given(events=histories(), data=st.data())
def test_batches_that_send_only_the_last_snapshot_give_the_same_results(events, data):
    one_by_one, batched = Pipeline(), Pipeline()
    one_by_one.run(events)
    cuts = set(data.draw(st.lists(st.integers(0, max(0, len(events) - 1)), max_size=6)))
    run_batched(batched, events, cuts)
    assert current_results(batched) == current_results(one_by_one)


def test_an_account_that_moves_within_a_batch_retracts_from_the_old_company():
    pipeline = Pipeline()
    first = account("acme", "001", version=1, domain="initech.com")
    moved = account("acme", "001", version=2, domain="hooli.com")
    again = account("acme", "001", version=3, domain="hooli.com", name="Hooli Inc")
    decisions = [decide(pipeline, e) for e in (first, moved, again)]
    kept = [(m.company_key, m.snapshot is None, m.seq)
            for d in latest_snapshots(decisions) for m in d]
    # initech: only the retraction (seq 3: the moved record's snapshot, seq 2, went there
    # until the resolver assigned hooli.com), not the snapshots; hooli: the last (seq 5)
    assert kept == [("initech.com", True, 3), ("hooli.com", False, 5)]
