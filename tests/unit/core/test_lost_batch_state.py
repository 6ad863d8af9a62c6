"""A batch whose sends were delivered but whose state write was lost is processed again.

The stream's at-least-once path before batches wrote an outbox first (streams/outbox.py):
a worker applied a batch, its messages reached Kafka, and it died before the batch's table
state was written (SIGKILL). The batch was then applied again from the state before it,
and what its first run sent was delivered meanwhile in any order. The outbox keeps that
from happening; the core still ends where the replay path ends if it does.
"""

from __future__ import annotations

import copy

from streams.core.accounts import SnapshotMessage
from streams.core.pipeline import Pipeline
from streams.core.resolver import Assignment, MatchInput
from tests.factories import account, opportunity, partnership, touch

PARTNERS = partnership("p-1", "globex", "initech", {
    ("globex", "CUSTOMER"): "FULL", ("globex", "PROSPECT"): "FULL",
    ("initech", "CUSTOMER"): "FULL", ("initech", "PROSPECT"): "FULL"})
ACCOUNT = account("globex", "gl-acc-830", domain="shop.company830.com",
                  relationship="PROSPECT", name="Company 830 Ltd")
DEAL = opportunity("globex", "gl-acc-830-opp-1", "gl-acc-830", stage="Closed Won",
                   closed=True, won=True, amount="91000", day=2)
TOUCH = touch("globex", "gl-acc-830-opp-1-t0", "initech", opp_id="gl-acc-830-opp-1", day=1)
EVENTS = [PARTNERS, ACCOUNT, DEAL, TOUCH]


def test_an_assignment_answering_a_lost_batch_counts_once_the_batch_is_applied_again():
    """Seen in a chaos run: the account's match inputs reached the resolver, the worker
    was killed before the account's state was written, the resolver's assignment came
    back before the account event was read again, and the repeated inputs (the same
    sequence number, counted again from the lost state) were rightly ignored by the
    resolver. The account must still know its company: before the fix it never sent a
    snapshot, and its closed-won deal's attributions were lost."""
    replay = Pipeline(typos={})
    replay.run(EVENTS)
    expected = replay.current()
    assert any(k.startswith("attribution|") for k in expected)

    stream = Pipeline(typos={})
    stream.apply(*PARTNERS)
    before = copy.deepcopy(stream.account_state)
    made = stream.accounts.apply(stream.account_state, *ACCOUNT)  # the batch's first run
    inputs = [m for m in made if isinstance(m, MatchInput)]
    assert [m.seq for m in inputs] == [1]
    assignments = [a for m in inputs for a in stream.step(m)]  # delivered, answered
    assert [(a.company_key, a.seq) for a in assignments] == [("company830.com", 1)]
    stream.account_state = copy.deepcopy(before)  # ... and the batch's state is lost

    for assignment in assignments:  # the answer is read before the batch again
        assert isinstance(assignment, Assignment)
        assert stream.step(assignment) == []  # no account record yet: nothing to send
    made = stream.accounts.apply(stream.account_state, *ACCOUNT)  # the batch again
    assert [m.seq for m in made if isinstance(m, MatchInput)] == [1]
    assert [(m.company_key, m.seq) for m in made if isinstance(m, SnapshotMessage)] == \
        [("company830.com", 1)]
    stream._work(made)
    for event in EVENTS[2:]:
        stream.apply(*event)

    assert stream.current() == expected
