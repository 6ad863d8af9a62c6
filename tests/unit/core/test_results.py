"""Overlaps, intros and attribution through the whole core (accounts -> companies)."""

from decimal import Decimal

import pytest

from streams.core.attribution import AttributionConfig
from streams.core.outbound import outbound_event
from streams.core.pipeline import Pipeline
from tests.factories import account, contact, opportunity, partnership, touch

SHARE_ALL = {(t, p): "ACCOUNTS" for t in ("acme", "globex")
             for p in ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")}


def kinds(results, kind):
    return {k: r for k, r in results.items() if k.startswith(kind + "|")}


def base(rules=None, **globex):
    return [
        partnership("p1", "acme", "globex", rules or SHARE_ALL),
        account("acme", "a1", domain="initrode.co.uk", relationship="PROSPECT"),
        account("globex", "g1", website="https://www.initrode.co.uk/about",
                relationship=globex.get("relationship", "CUSTOMER")),
    ]


def test_subdomain_and_www_accounts_overlap_on_one_company():
    p = Pipeline()
    p.run(base())
    overlaps = kinds(p.current(), "overlap")
    assert set(overlaps) == {"overlap|acme|globex|initrode.co.uk",
                             "overlap|globex|acme|initrode.co.uk"}
    mine = overlaps["overlap|acme|globex|initrode.co.uk"]
    assert mine["tenant_populations"] == ["PROSPECT"]
    assert mine["partner_populations"] == ["CUSTOMER"]
    assert mine["match_method"] == "domain" and mine["visible"]
    assert mine["partner_account_name"] is None  # ACCOUNTS level: no details


def test_full_level_shows_partner_details():
    rules = {**SHARE_ALL, ("globex", "CUSTOMER"): "FULL"}
    p = Pipeline()
    p.run(base(rules))
    assert p.current()["overlap|acme|globex|initrode.co.uk"]["partner_account_name"] == \
        "Initrode Ltd"


def test_no_partnership_no_overlap_and_free_mail_never_matches():
    p = Pipeline()
    p.run(base()[1:])
    assert p.current() == {}
    p = Pipeline()
    p.run([base()[0], account("acme", "a1", domain="gmail.com", name="Alpha"),
           account("globex", "g1", domain="gmail.com", name="Beta")])
    assert p.current() == {}


def test_counts_level_counts_but_is_not_visible_and_hidden_counts_nowhere():
    rules = {("globex", "CUSTOMER"): "COUNTS", ("acme", "PROSPECT"): "HIDDEN"}
    p = Pipeline()
    changes = p.run(base(rules))
    current = p.current()
    mine = current["overlap|acme|globex|initrode.co.uk"]
    assert not mine["visible"] and mine["partner_populations"] == []
    assert mine["counted_partner_populations"] == ["CUSTOMER"]
    assert "overlap|globex|acme|initrode.co.uk" not in current  # acme's PROSPECT is hidden
    assert all(outbound_event(c) is None for c in changes if c.kind == "overlap")


def test_policy_narrowing_retracts_what_it_no_longer_allows():
    p = Pipeline()
    p.run(base())
    p.run([opportunity("acme", "o1", "a1", day=1)])
    assert kinds(p.current(), "intro")
    narrowed = partnership("p1", "acme", "globex", {("globex", "CUSTOMER"): "COUNTS"},
                           version=2, day=2)
    changes = p.run([narrowed])
    current = p.current()
    assert not kinds(current, "intro")
    assert not current["overlap|acme|globex|initrode.co.uk"]["visible"]
    assert "overlap|globex|acme|initrode.co.uk" not in current
    announced = {(c.kind, outbound_event(c)[1]["change"]) for c in changes
                 if outbound_event(c)}
    assert announced == {("overlap", "ENDED"), ("intro", "WITHDRAWN")}
    ended = next(outbound_event(c)[1] for c in changes
                 if c.kind == "overlap" and c.key.startswith("overlap|acme"))
    assert ended["partner_populations"] == []  # the end event reveals nothing counted


def test_partnership_end_retracts_everything():
    p = Pipeline()
    p.run(base() + [opportunity("acme", "o1", "a1", day=1)])
    p.run([partnership("p1", "acme", "globex", SHARE_ALL, version=2, day=3, status="ENDED")])
    assert p.current() == {}


def test_account_delete_and_domain_change_move_results():
    p = Pipeline()
    p.run(base())
    p.run([account("globex", "g1", version=2, day=1, domain="globex-other.com")])
    assert p.current() == {}
    p.run([account("globex", "g1", version=3, day=2, domain="initrode.co.uk")])
    assert kinds(p.current(), "overlap")
    p.run([account("acme", "a1", version=2, day=3, op="DELETE")])
    assert p.current() == {}


def test_open_opportunity_is_a_population():
    p = Pipeline()
    p.run(base(relationship="OTHER") + [opportunity("globex", "go1", "g1")])
    row = p.current()["overlap|acme|globex|initrode.co.uk"]
    assert row["partner_populations"] == ["OPEN_OPPORTUNITY"]


def test_intro_raised_scored_explained_and_withdrawn_when_the_deal_closes():
    rules = {**SHARE_ALL, ("globex", "CUSTOMER"): "FULL"}
    p = Pipeline()
    p.run(base(rules) + [contact("globex", "c1", "g1"), contact("globex", "c2", "g1")])
    changes = p.run([opportunity("acme", "o1", "a1", day=1, amount="48000")])
    intros = kinds(p.current(), "intro")
    assert list(intros) == ["intro|acme|globex|o1|initrode.co.uk"]
    intro = intros["intro|acme|globex|o1|initrode.co.uk"]
    assert 0 <= intro["score"] <= 1
    assert any("CUSTOMER" in r and "warmest" in r for r in intro["reasons"])
    assert any("2 contact(s)" in r for r in intro["reasons"])
    assert any("'Discovery'" in r for r in intro["reasons"])
    event = [outbound_event(c) for c in changes if c.kind == "intro"][0]
    assert event[0] == "intro" and event[1]["change"] == "RAISED"

    p.run([opportunity("acme", "o1", "a1", version=2, day=2, stage="Negotiation",
                       amount="48000")])
    assert p.current()["intro|acme|globex|o1|initrode.co.uk"]["score"] < intro["score"]

    changes = p.run([opportunity("acme", "o1", "a1", version=3, day=3, closed=True)])
    assert not kinds(p.current(), "intro")
    assert [outbound_event(c)[1]["change"] for c in changes if c.kind == "intro"] == \
        ["WITHDRAWN"]


def test_customer_partner_scores_above_prospect_partner():
    def score(relationship):
        p = Pipeline()
        p.run(base(relationship=relationship) + [opportunity("acme", "o1", "a1")])
        return p.current()["intro|acme|globex|o1|initrode.co.uk"]["score"]

    assert score("CUSTOMER") > score("FORMER_CUSTOMER") > score("PROSPECT")


def test_counts_only_population_never_yields_an_intro():
    rules = {**SHARE_ALL, ("globex", "CUSTOMER"): "COUNTS"}
    p = Pipeline()
    p.run(base(rules) + [opportunity("acme", "o1", "a1")])
    assert not kinds(p.current(), "intro")


def _won(p, *, version=2, day=100, amount="90000", created_day=None, **kw):
    return p.run([opportunity("acme", "o1", "a1", version=version, day=day, closed=True,
                              won=True, amount=amount, created_day=created_day, **kw)])


def test_attribution_models_and_sourced_vs_influenced():
    p = Pipeline(AttributionConfig(window_days=180, half_life_days=30))
    p.run(base() + [
        partnership("p2", "acme", "initech", {}),
        opportunity("acme", "o1", "a1", day=10, created_day=10),
        touch("acme", "t1", "globex", opp_id="o1", account_id="a1", day=5),   # before creation
        touch("acme", "t2", "initech", opp_id="o1", account_id="a1", day=40),
        touch("acme", "t3", "initech", account_id="a1", day=90),             # on the account
        touch("acme", "t4", "initech", opp_id="other", account_id="a1", day=95),  # other deal
        touch("acme", "t0", "globex", opp_id="o1", account_id="a1", day=-200),  # out of window
    ])
    _won(p, created_day=10)
    rows = kinds(p.current(), "attribution")
    by = {(r["partner_tenant_id"], r["model"]): r for r in rows.values()}
    assert by[("globex", "first_touch")]["attributed_amount"] == "90000.0000"
    assert by[("globex", "first_touch")]["credit"] == "sourced"
    assert ("initech", "first_touch") not in by
    assert by[("initech", "last_touch")]["touch_record_ids"] == ["t3"]
    assert by[("initech", "last_touch")]["credit"] == "influenced"
    assert Decimal(by[("globex", "linear")]["attributed_amount"]) == Decimal("30000")
    assert Decimal(by[("initech", "linear")]["attributed_amount"]) == Decimal("60000")
    decay_g = Decimal(by[("globex", "time_decay")]["attributed_amount"])
    decay_i = Decimal(by[("initech", "time_decay")]["attributed_amount"])
    assert decay_g + decay_i == Decimal("90000") and decay_i > decay_g
    for model in ("linear", "time_decay"):
        total = sum(Decimal(r["attributed_amount"]) for r in rows.values() if r["model"] == model)
        assert total == Decimal("90000")


def test_referral_or_deal_registration_is_sourced():
    p = Pipeline()
    p.run(base() + [opportunity("acme", "o1", "a1", day=10, created_day=0),
                    touch("acme", "t1", "globex", opp_id="o1", account_id="a1", day=20,
                          touch_type="REFERRAL")])
    _won(p, day=30)
    assert {r["credit"] for r in kinds(p.current(), "attribution").values()} == {"sourced"}


def test_window_is_configurable_and_uses_event_time():
    events = base() + [opportunity("acme", "o1", "a1", day=1),
                       touch("acme", "t1", "globex", opp_id="o1", account_id="a1", day=1)]
    wide, narrow = Pipeline(AttributionConfig(window_days=180)), Pipeline(
        AttributionConfig(window_days=30))
    for p in (wide, narrow):
        p.run(events)
        _won(p, day=100)
    assert kinds(wide.current(), "attribution") and not kinds(narrow.current(), "attribution")


@pytest.mark.parametrize("undo", ["reopen", "lost", "delete"])
def test_reopen_lost_or_delete_retracts_attribution(undo):
    p = Pipeline()
    p.run(base() + [opportunity("acme", "o1", "a1", day=1),
                    touch("acme", "t1", "globex", opp_id="o1", account_id="a1", day=2)])
    _won(p, day=10)
    assert len(kinds(p.current(), "attribution")) == 4
    follow = {
        "reopen": opportunity("acme", "o1", "a1", version=3, day=11),
        "lost": opportunity("acme", "o1", "a1", version=3, day=11, closed=True, won=False),
        "delete": opportunity("acme", "o1", "a1", version=3, day=11, op="DELETE"),
    }[undo]
    changes = p.run([follow])
    assert not kinds(p.current(), "attribution")
    assert {outbound_event(c)[1]["change"] for c in changes if c.kind == "attribution"} == \
        {"RETRACTED"}


def test_outbound_events_encode_with_the_schemas():
    from schemas.codec import Codec

    p = Pipeline()
    changes = p.run(base() + [opportunity("acme", "o1", "a1"),
                              touch("acme", "t1", "globex", opp_id="o1", account_id="a1", day=1)])
    changes += _won(p, day=5)
    events = [outbound_event(c) for c in changes]
    codec = Codec()
    assert {e[0] for e in events if e} == {"overlap", "intro", "attribution"}
    for event_type, record in filter(None, events):
        assert codec.decode(codec.encode(event_type, record)).record == record


def test_a_contact_without_account_is_refused_with_a_typed_error():
    from streams.exceptions import UnroutableEventError

    with pytest.raises(UnroutableEventError, match="no account_record_id"):
        Pipeline().run([contact("acme", "c1", None)])
