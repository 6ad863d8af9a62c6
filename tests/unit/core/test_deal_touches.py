"""Partner touches and contacts: kept, forwarded, moved with the deal or on their own."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.homes import RecordPlacement
from streams.core.opportunities import (
    OpportunityLink,
    OpportunityTouches,
    internal_message_from_json,
)
from streams.core.pipeline import Pipeline
from streams.core.records import live
from streams.core.statekeys import account_key, home_key, opportunity_key
from streams.exceptions import UnroutableEventError
from streams.replay import replay_events
from tests.factories import account, contact, opportunity, partnership, touch
from tests.scenario import scenario
from tests.stream_delivery import run_as_a_stream

SHARE_ALL = {(t, p): "ACCOUNTS" for t in ("acme", "globex")
             for p in ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")}
SHARE_FULL = dict.fromkeys(SHARE_ALL, "FULL")  # contacts count in intros only when FULL
ACCOUNTS = [
    partnership("p1", "acme", "globex", SHARE_ALL),
    account("acme", "a1", domain="initrode.co.uk", relationship="PROSPECT"),
    account("acme", "a2", domain="hooli.com", relationship="PROSPECT"),
    account("globex", "g1", domain="initrode.co.uk", relationship="CUSTOMER"),
    account("globex", "g2", domain="hooli.com", relationship="CUSTOMER"),
]


def kinds(results, kind):
    return {k: r for k, r in results.items() if k.startswith(kind + "|")}


def attributions(p):
    """(opportunity, company, partner, model) -> touch ids of every active attribution."""
    return {(r["opportunity_record_id"], r["company_key"], r["partner_tenant_id"], r["model"]):
            r["touch_record_ids"] for r in kinds(p.current(), "attribution").values()}


def won(opp, acc, *, version=2, day=100):
    return opportunity("acme", opp, acc, version=version, day=day, closed=True, won=True,
                       amount="50000")


def test_a_touch_naming_only_its_opportunity_is_attributed_through_the_deals_account():
    p = Pipeline()
    p.run(ACCOUNTS + [opportunity("acme", "o1", "a1", day=1),
                      touch("acme", "t1", "globex", opp_id="o1", day=5),
                      won("o1", "a1")])
    assert attributions(p)[("o1", "initrode.co.uk", "globex", "linear")] == ["t1"]
    assert len(attributions(p)) == 4  # one row per model


def test_a_touch_before_its_opportunity_waits_and_counts_once_the_deal_arrives():
    p = Pipeline()
    p.run(ACCOUNTS + [touch("acme", "t1", "globex", opp_id="o1", day=5)])
    assert not kinds(p.current(), "attribution")
    p.run([won("o1", "a1")])
    assert attributions(p)[("o1", "initrode.co.uk", "globex", "first_touch")] == ["t1"]
    # ... and so does one that names both, whatever account it names
    p.run([touch("acme", "t2", "globex", opp_id="o1", account_id="elsewhere", day=6)])
    assert attributions(p)[("o1", "initrode.co.uk", "globex", "linear")] == ["t1", "t2"]


def test_a_deal_that_moves_takes_its_touches_and_leaves_nothing_at_the_old_account():
    p = Pipeline()
    p.run(ACCOUNTS + [opportunity("acme", "o1", "a1", day=1),
                      touch("acme", "t1", "globex", opp_id="o1", day=5)])
    assert {r["company_key"] for r in kinds(p.current(), "intro").values()} == \
        {"initrode.co.uk"}
    p.run([won("o1", "a2")])
    assert set(attributions(p)) == {("o1", "hooli.com", "globex", m) for m in
                                    ("first_touch", "last_touch", "linear", "time_decay")}
    assert not kinds(p.current(), "intro")  # the open deal at initrode.co.uk is gone
    old = p.account_state[account_key("acme", "a1")]
    assert live(old["opps"]) == {}
    assert p.account_state[account_key("acme", "a1")]["linked"]["o1"]["touches"] is None


def test_an_old_version_delivered_after_the_move_does_not_come_back():
    p = Pipeline()
    p.run(ACCOUNTS + [won("o1", "a2"), touch("acme", "t1", "globex", opp_id="o1", day=5),
                      opportunity("acme", "o1", "a1", day=1)])
    assert {k[1] for k in attributions(p)} == {"hooli.com"}
    assert not kinds(p.current(), "intro")
    assert live(p.account_state[account_key("acme", "a1")]["opps"]) == {}


def test_deleting_the_deal_retracts_and_a_later_version_brings_its_touches_back():
    p = Pipeline()
    p.run(ACCOUNTS + [touch("acme", "t1", "globex", opp_id="o1", day=5), won("o1", "a1")])
    p.run([opportunity("acme", "o1", "a1", version=3, day=101, op="DELETE")])
    assert not attributions(p)
    p.run([won("o1", "a2", version=4, day=102)])
    assert {k[1] for k in attributions(p)} == {"hooli.com"}


# --- a touch or contact whose later version names another deal or account ----------

BOTH_WON = ACCOUNTS + [won("o1", "a1"), won("o2", "a2")]


def in_order(*events, reverse):
    return list(reversed(events)) if reverse else list(events)


def linear_credit(first, second, *, reverse):
    """Two versions of touch t1 (in order or reversed) beside deals o1 at a1 and o2 at a2,
    both won: the pipeline, and deal -> touch ids credited under the linear model."""
    p = Pipeline()
    p.run(BOTH_WON + in_order(touch("acme", "t1", "globex", day=5, **first),
                              touch("acme", "t1", "globex", version=2, day=6, **second),
                              reverse=reverse))
    return p, {k[0]: ids for k, ids in attributions(p).items() if k[3] == "linear"}


@pytest.mark.parametrize("reverse", [False, True])
def test_a_touch_moved_to_another_deal_counts_only_for_the_new_deal(reverse):
    _, credit = linear_credit({"opp_id": "o1"}, {"opp_id": "o2"}, reverse=reverse)
    assert credit == {"o2": ["t1"]}


@pytest.mark.parametrize("reverse", [False, True])
def test_a_touch_moved_from_a_deal_to_an_account_counts_only_through_the_account(reverse):
    p, credit = linear_credit({"opp_id": "o1"}, {"account_id": "a2"}, reverse=reverse)
    assert credit == {"o2": ["t1"]}
    assert live(p.account_state[opportunity_key("acme", "o1")]["touches"]) == {}


@pytest.mark.parametrize("reverse", [False, True])
def test_a_delete_naming_only_the_account_removes_the_touch_from_the_deal(reverse):
    p, credit = linear_credit({"opp_id": "o1", "account_id": "a1"},
                              {"account_id": "a1", "op": "DELETE"}, reverse=reverse)
    assert credit == {}
    assert not attributions(p)


def contact_reasons(p, company):
    return [reason for r in kinds(p.current(), "intro").values() if r["company_key"] == company
            for reason in r["reasons"] if "contact(s)" in reason]


@pytest.mark.parametrize("reverse", [False, True])
def test_a_contact_moved_to_another_account_counts_only_at_the_new_one(reverse):
    p = Pipeline()
    p.run([partnership("p1", "acme", "globex", SHARE_FULL)] + ACCOUNTS[1:]
          + [opportunity("acme", "o1", "a1", day=1), opportunity("acme", "o2", "a2", day=1)]
          + in_order(contact("globex", "c1", "g1", day=2),
                     contact("globex", "c1", "g2", version=2, day=3), reverse=reverse))
    assert contact_reasons(p, "initrode.co.uk") == \
        ["globex has 0 contact(s) at initrode.co.uk"]
    assert contact_reasons(p, "hooli.com") == ["globex has 1 contact(s) at hooli.com"]
    assert live(p.account_state[account_key("globex", "g1")]["contacts"]) == {}


def test_a_replayed_touch_is_held_at_its_home_whatever_key_it_names():
    p = Pipeline()
    first = touch("acme", "t1", "globex", opp_id="o1", day=5)
    moved = touch("acme", "t1", "globex", account_id="a2", version=2, day=6)
    p.run(ACCOUNTS + [first, moved])
    assert p.holds(*moved) and not p.holds(*first)
    assert p.account_state[home_key("acme", "partner_touch", "t1")]["at"] == \
        account_key("acme", "a2")


def test_a_touch_naming_neither_is_refused_with_its_reason_and_replay_reports_it():
    with pytest.raises(UnroutableEventError, match="names neither opportunity_record_id nor "
                                                   "account_record_id"):
        Pipeline().run([touch("acme", "t1", "globex")])
    report, pipeline = replay_events(ACCOUNTS + [touch("acme", "t9", "globex")])
    assert len(report.rejected) == 1 and "t9" in report.rejected[0]
    assert "names neither" in report.rejected[0]
    assert pipeline.current()  # the good events around it were processed


@pytest.mark.parametrize("msg", [
    OpportunityLink("k", "o1", 3, "acme\x1fa1", True),
    OpportunityTouches("acme\x1fa1", "o1", 7, 3, {"t1": {"v": 1, "t": 5, "d": {"x": 1}}}),
    OpportunityTouches("acme\x1fa1", "o1", 8, 4, None),
    RecordPlacement("acme\x1fa1", "contact", "c1", {"v": 2, "t": 5, "d": None}),
    RecordPlacement("acme\x1fopportunity\x1fo1", "partner_touch", "t1",
                    {"v": 1, "t": 5, "d": {"record_id": "t1"}}),
])
def test_internal_messages_survive_json(msg):
    assert internal_message_from_json(msg.key, json.loads(json.dumps(msg.to_json()))) == msg


def test_an_unknown_internal_message_is_a_value_error_the_worker_dead_letters():
    with pytest.raises(ValueError, match="unknown internal message kind"):
        internal_message_from_json("k", {"kind": "gossip"})


# --- any order, any duplication, any interleaving of the internal messages -------------

ACME_ACCOUNTS = ("a1", "a2", "a3")  # a3: a free-mail domain, never matched to a company
OPPS = ("o1", "o2")


GLOBEX_ACCOUNTS = ("g1", "g2")


@st.composite
def histories(draw):
    """Account, deal, touch and contact histories: deals that move and close, touches
    before them, touches and contacts whose versions name other deals and accounts."""
    sharing = draw(st.sampled_from([SHARE_ALL, SHARE_FULL]))
    events = [partnership("p1", "acme", "globex", sharing), *ACCOUNTS[1:],
              account("acme", "a3", domain="gmail.com")]
    if draw(st.booleans()):
        events.append(account("acme", "a1", version=5, day=50, op="DELETE"))
    for opp in OPPS:
        for version in range(1, draw(st.integers(1, 4)) + 1):
            acc = draw(st.sampled_from(ACME_ACCOUNTS))
            fate = draw(st.sampled_from(["open", "won", "lost", "delete"]))
            day = 90 + version
            if fate == "delete":
                events.append(opportunity("acme", opp, acc, version=version, day=day,
                                          op="DELETE"))
            else:
                events.append(opportunity("acme", opp, acc, version=version, day=day,
                                          closed=fate != "open", won=fate == "won",
                                          amount=str(1000 * version), created_day=10))
    for n in range(draw(st.integers(1, 5))):
        partner = draw(st.sampled_from(["globex", "initech"]))
        for version in range(1, draw(st.integers(1, 3)) + 1):
            # each version names its own deal and/or account (a delete too)
            opp = draw(st.sampled_from([*OPPS, "never", None]))
            acc = draw(st.sampled_from([*ACME_ACCOUNTS, None])) if opp else \
                draw(st.sampled_from(ACME_ACCOUNTS))
            op = draw(st.sampled_from(["UPSERT", "UPSERT", "DELETE"]))
            events.append(touch("acme", f"t{n}", partner, opp_id=opp, account_id=acc,
                                version=version, day=draw(st.integers(0, 89)), op=op,
                                touch_type=draw(st.sampled_from(["INTRO", "REFERRAL"]))))
    for n in range(draw(st.integers(0, 3))):
        tenant, accounts = draw(st.sampled_from([("acme", ACME_ACCOUNTS),
                                                 ("globex", GLOBEX_ACCOUNTS)]))
        for version in range(1, draw(st.integers(1, 3)) + 1):
            op = draw(st.sampled_from(["UPSERT", "UPSERT", "DELETE"]))
            events.append(contact(tenant, f"c{n}", draw(st.sampled_from(accounts)),
                                  version=version, day=draw(st.integers(0, 89)), op=op))
    return events


def latest_only(events):
    """Each record's highest version alone, without the records that end deleted."""
    latest = {}
    for event_type, record in events:
        key = (event_type, record["tenant_id"], record["record_id"])
        if key not in latest or record["version"] > latest[key][1]["version"]:
            latest[key] = (event_type, record)
    return [e for e in latest.values() if e[1]["op"] != "DELETE"]


@settings(max_examples=150, deadline=None)
@given(events=histories(), data=st.data())
def test_any_order_and_any_delivery_gives_what_the_latest_versions_alone_give(events, data):
    expected = Pipeline()
    expected.run(latest_only(events))
    order = data.draw(st.permutations(events))
    dupes = data.draw(st.lists(st.sampled_from(events), max_size=6))
    replayed = Pipeline()
    replayed.run(order + dupes)
    assert replayed.current() == expected.current()
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    assert run_as_a_stream(order + dupes, rng).current() == expected.current()


def test_the_shared_scenario_gives_what_its_latest_versions_alone_give():
    events = scenario(companies=40)
    assert any(t == "partner_touch" and r["account_record_id"] is None for t, r in events)
    moved = {r["record_id"] for t, r in events if t == "opportunity" and r["version"] == 3}
    assert moved
    named = {}  # (type, record id) -> the ids each version names
    for t, r in events:
        if t in ("contact", "partner_touch"):
            ids = (r.get("opportunity_record_id"), r["account_record_id"])
            named.setdefault((t, r["record_id"]), set()).add(ids)
    assert {t for (t, _), ids in named.items() if len(ids) > 1} == \
        {"contact", "partner_touch"}, "touches and contacts that move"
    expected = Pipeline()
    expected.run(latest_only(events))
    replayed = Pipeline()
    replayed.run(events)
    assert replayed.current() == expected.current()
    assert run_as_a_stream(events, random.Random(3)).current() == expected.current()
    assert {r["opportunity_record_id"] for r in kinds(replayed.current(), "attribution")
            .values()} & moved, "deals that moved keep their attribution"
