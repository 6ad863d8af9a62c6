"""Internal messages applied where they are made give what sending them round gives.

The accounts stage applies at once the internal messages whose key its own partition owns
(:meth:`streams.core.accounts.AccountStage.settle`) instead of sending them back onto the
by-account topic; the others are sent and applied later, after whatever else is queued.
Random histories, with random keys counted as "here", end with the same results as the
replay path's order (every message applied at once).
"""

from __future__ import annotations

import zlib
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.accounts import SnapshotMessage
from streams.core.pipeline import Pipeline
from streams.core.resolver import MatchInput
from tests.unit.core.test_incremental_company import histories


def active_results(pipeline: Pipeline) -> dict:
    return {k: r["row"] for key, company in pipeline.company_state.items()
            if not key.startswith("~") for k, r in company["results"].items() if r["a"]}


@settings(max_examples=200, deadline=None)
@given(events=histories(), salt=st.integers(0, 3))
def test_settling_here_and_sending_the_rest_round_gives_the_same_results(events, salt):
    at_once, settled = Pipeline(), Pipeline()
    at_once.run(events)

    def here(key: str) -> bool:  # a stand-in for "this partition owns the key"
        return (zlib.crc32(key.encode()) + salt) % 2 == 0

    for event_type, record in events:
        if event_type == "partnership":
            settled.apply(event_type, record)
    # The by-account topic: the events, then what was sent, each applied in turn.
    topic = deque(e for e in events if e[0] != "partnership")
    while topic:
        item = topic.popleft()
        if isinstance(item, tuple):
            made = settled.accounts.apply(settled.account_state, *item)
        else:
            made = settled.step(item)
        for msg in settled.accounts.settle(settled.account_state, made, here):
            if isinstance(msg, SnapshotMessage):
                settled.companies.apply_snapshot(settled.company_state, 0, msg)
            else:
                assert isinstance(msg, MatchInput) or not here(msg.key)
                topic.append(msg)
    assert active_results(settled) == active_results(at_once)
