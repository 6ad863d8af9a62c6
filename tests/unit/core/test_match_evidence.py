"""Overlap rows say how their accounts matched: method and evidence, the partner's at FULL."""

from collections import deque

from streams.core.accounts import SnapshotMessage
from streams.core.companies import CompanyStage
from streams.core.companykey import CompanyMatch
from streams.core.evidence import MAX_QUOTED, match_evidence
from streams.core.outbound import outbound_event
from streams.core.pipeline import Pipeline
from tests.factories import account, partnership

POPULATIONS = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")
KEY = "overlap|acme|globex|initrode.co.uk"
PARTNER_KEY = "overlap|globex|acme|initrode.co.uk"


def sharing(level):
    return {(t, p): level for t in ("acme", "globex") for p in POPULATIONS}


def history(level):
    return [partnership("p1", "acme", "globex", sharing(level)),
            account("acme", "a1", website="https://www.initrode.co.uk/about"),
            account("globex", "g1", domain="shop.initrode.co.uk", name="Initrode")]


def test_evidence_names_what_matched_in_which_field_and_stays_short():
    acme = {"website": "https://www.acme.com/x"}
    assert match_evidence(CompanyMatch("acme.com", "domain"), acme) == \
        "domain acme.com (domain field)"
    assert match_evidence(CompanyMatch("acme.com", "website"), acme) == \
        "domain acme.com (website field: https://www.acme.com/x)"
    assert match_evidence(CompanyMatch("name:acme|DE", "name_country"), {}) == "name 'acme'|DE"
    assert match_evidence(CompanyMatch("name:acme|", "name_country"), {}) == "name 'acme'|"
    long = match_evidence(CompanyMatch("acme.com", "website"),
                          {"website": "https://acme.com/" + "x" * 500})
    assert long.endswith("...)") and len(long) < MAX_QUOTED + 40
    assert match_evidence(CompanyMatch("acme.com", "a method of another matcher"), acme) == ""


def test_full_sharing_shows_the_partners_method_and_evidence():
    p = Pipeline()
    p.run(history("FULL"))
    mine, theirs = p.current()[KEY], p.current()[PARTNER_KEY]
    assert mine["match_method"] == "website"
    assert mine["match_evidence"] == \
        "domain initrode.co.uk (website field: https://www.initrode.co.uk/about)"
    assert mine["partner_match_method"] == "domain"
    assert mine["partner_match_evidence"] == "domain initrode.co.uk (domain field)"
    assert (theirs["match_evidence"], theirs["partner_match_evidence"]) == (
        mine["partner_match_evidence"], mine["match_evidence"])


def test_below_full_the_partners_method_and_evidence_are_not_shown():
    for level in ("ACCOUNTS", "COUNTS"):
        p = Pipeline()
        changes = p.run(history(level))
        row = p.current()[KEY]
        assert row["match_evidence"].startswith("domain initrode.co.uk (website field")
        assert row["partner_match_method"] is None and row["partner_match_evidence"] is None
        for change in changes:
            event = outbound_event(change)
            if event is not None:
                assert event[1]["partner_match_method"] is None
                assert event[1]["partner_match_evidence"] is None


def test_the_outbound_event_carries_the_evidence_at_full():
    p = Pipeline()
    changes = p.run(history("FULL"))
    event = next(outbound_event(c)[1] for c in changes if c.key == KEY)
    assert event["match_evidence"] == p.current()[KEY]["match_evidence"]
    assert event["partner_match_method"] == "domain"
    assert event["partner_match_evidence"] == "domain initrode.co.uk (domain field)"


def test_a_change_of_evidence_alone_changes_the_row():
    p = Pipeline()
    p.run(history("FULL"))
    moved = account("acme", "a1", version=2, website="https://initrode.co.uk/contact")
    changes = p.run([moved])  # same name, time, relationship and method
    assert {c.key for c in changes} == {KEY, PARTNER_KEY}
    assert p.current()[KEY]["match_evidence"] == \
        "domain initrode.co.uk (website field: https://initrode.co.uk/contact)"
    assert p.current()[PARTNER_KEY]["partner_match_evidence"] == \
        p.current()[KEY]["match_evidence"]


def test_of_several_accounts_the_first_matched_by_the_tenants_method_explains_it():
    events = history("FULL") + [
        account("acme", "a0", website="https://initrode.co.uk/a0"),
        account("acme", "a3", domain="initrode.co.uk"),
        account("acme", "a2", domain="www.initrode.co.uk")]
    for order in (events, events[:1] + events[:0:-1]):
        p = Pipeline()
        p.run(order)
        row = p.current()[KEY]
        assert row["match_method"] == "domain"  # a2 and a3; a2 comes first by key
        assert row["match_evidence"] == "domain initrode.co.uk (domain field)"
    p.run([account("acme", "a2", version=2, op="DELETE"),
           account("acme", "a3", version=2, op="DELETE")])
    assert p.current()[KEY]["match_evidence"] == \
        "domain initrode.co.uk (website field: https://initrode.co.uk/a0)"  # a0 before a1


def test_snapshots_saved_without_evidence_count_as_none():
    """State written before snapshots carried evidence: '' on the rows, nothing fails."""
    state: dict = {}
    stage, companies = Pipeline(), CompanyStage()
    companies.apply_partnership(state, 0, history("FULL")[0][1])
    for event_type, record in history("FULL")[1:]:
        work = deque(stage.accounts.apply(stage.account_state, event_type, record))
        while work:  # match inputs and assignments, as the stream delivers them
            msg = work.popleft()
            if not isinstance(msg, SnapshotMessage):
                work.extend(stage.step(msg))
                continue
            del msg.snapshot["match_evidence"]
            companies.apply_snapshot(state, 0, msg)
    row = state["initrode.co.uk"]["results"][KEY]["row"]
    assert (row["match_evidence"], row["partner_match_evidence"]) == ("", "")
    assert row["partner_match_method"] == "domain"
