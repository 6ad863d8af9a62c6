"""The resolver: every rule, merges and splits, ignored domains, explanations, any order."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.accounts import SnapshotMessage
from streams.core.pipeline import Pipeline
from streams.core.resolver import (
    DERIVED_PREFIXES,
    Assignment,
    MatchInput,
    apply_input,
    apply_settings,
    assignment_of,
    derived_index,
    explain,
    typo_index,
)
from streams.core.statekeys import account_key
from streams.resolver_index import SplitState
from tests.factories import account, partnership, tenant_settings
from tests.stream_delivery import run_as_a_stream

SEQ: dict[str, int] = {}


def put(state, tenant, rid, *, domains=(), name=None, country=""):
    """Send an account's inputs (the next seq); return the assignments made."""
    key = account_key(tenant, rid)
    SEQ[key] = SEQ.get(key, 0) + 1
    return apply_input(state, MatchInput(key, tenant, [list(d) for d in domains], name,
                                         country, SEQ[key]))


def company(state, tenant, rid):
    return assignment_of(state, account_key(tenant, rid))[0]


def method(state, tenant, rid):
    return assignment_of(state, account_key(tenant, rid))[1]


# -- rule 1: domains and brands ----------------------------------------------------------


def test_a_domain_keys_its_company_and_the_field_is_the_method():
    s = {}
    out = put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    assert [(a.company_key, a.method, a.seq) for a in out] == [("acme.de", "domain", 1)]
    put(s, "t2", "b", domains=[("acme.de", "website")], name="acme gmbh", country="DE")
    assert company(s, "t2", "b") == "acme.de" and method(s, "t2", "b") == "website"


def test_one_brand_on_country_domains_joins_when_a_name_agrees_and_splits_when_not():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    out = put(s, "t2", "b", domains=[("acme.co.uk", "domain")], name="acme", country="GB")
    # Both accounts move to the smallest domain; each is told once.
    assert sorted((a.key, a.company_key, a.method) for a in out) == [
        (account_key("t1", "a"), "acme.co.uk", "brand"),
        (account_key("t2", "b"), "acme.co.uk", "brand")]
    assert "both named 'acme'" in assignment_of(s, account_key("t1", "a"))[2]
    # The name changes: no agreement any more, the brand splits.
    out = put(s, "t2", "b", domains=[("acme.co.uk", "domain")], name="acme retail",
              country="GB")
    assert {a.key: a.company_key for a in out} == {account_key("t1", "a"): "acme.de",
                                                   account_key("t2", "b"): "acme.co.uk"}
    assert method(s, "t1", "a") == "domain"


def test_different_labels_never_join_and_same_label_needs_a_name():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t1", "b", domains=[("acme-shop.de", "domain")], name="acme", country="DE")
    put(s, "t1", "c", domains=[("acme.fr", "domain")], name="acme sarl", country="FR")
    assert [company(s, "t1", r) for r in "abc"] == ["acme.de", "acme-shop.de", "acme.fr"]


def test_a_brand_chain_is_one_company_keyed_by_its_smallest_domain():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t1", "b", domains=[("acme.fr", "domain")], name="acme", country="FR")
    put(s, "t1", "b2", domains=[("acme.fr", "domain")], name="acme france", country="FR")
    put(s, "t1", "c", domains=[("acme.co.uk", "domain")], name="acme france", country="GB")
    assert {company(s, "t1", r) for r in ("a", "b", "b2", "c")} == {"acme.co.uk"}


# -- rule 2: typos -----------------------------------------------------------------------


def test_one_character_typos_cluster_per_country_with_long_names_and_equal_digits():
    s = {}
    put(s, "t1", "a", name="globex widgets", country="DE")
    put(s, "t2", "b", name="globex widgest", country="DE")  # transposition
    put(s, "t3", "c", name="globex widgets", country="FR")  # other country
    put(s, "t1", "d", name="hooli", country="DE")
    put(s, "t2", "e", name="hoolo", country="DE")  # too short
    put(s, "t1", "f", name="route 66 diner", country="DE")
    put(s, "t2", "g", name="route 67 diner", country="DE")  # digits differ
    assert company(s, "t1", "a") == company(s, "t2", "b") == "name:globex widgest|DE"
    assert method(s, "t1", "a") == method(s, "t2", "b") == "name_typo"
    assert company(s, "t3", "c") == "name:globex widgets|FR"
    assert method(s, "t3", "c") == "name_country"
    assert company(s, "t1", "d") != company(s, "t2", "e")
    assert company(s, "t1", "f") != company(s, "t2", "g")


def test_a_typo_cluster_splits_when_the_bridging_name_goes():
    s = {}
    put(s, "t1", "a", name="initrode", country="US")
    put(s, "t1", "b", name="initrodes", country="US")
    put(s, "t1", "c", name="initrodess", country="US")
    assert {company(s, "t1", r) for r in "abc"} == {"name:initrode|US"}
    out = put(s, "t1", "b", name=None, country="US")  # the middle name goes
    assert {a.key: a.company_key for a in out} == {
        account_key("t1", "b"): None, account_key("t1", "c"): "name:initrodess|US",
        account_key("t1", "a"): "name:initrode|US"}
    assert method(s, "t1", "a") == "name_country"


# -- rule 3: a name without a domain joins one domain company ----------------------------


def test_a_name_joins_the_one_domain_company_with_that_name_and_country():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t2", "b", name="acme", country="DE")
    put(s, "t2", "c", name="acme", country="FR")
    assert company(s, "t2", "b") == "acme.de" and method(s, "t2", "b") == "name_domain"
    assert company(s, "t2", "c") == "name:acme|FR"


def test_a_name_stays_on_its_own_key_when_two_domain_companies_have_it():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t2", "b", name="acme", country="DE")
    out = put(s, "t3", "c", domains=[("acme-gmbh.de", "domain")], name="acme", country="DE")
    assert {a.key: a.company_key for a in out} == {account_key("t2", "b"): "name:acme|DE",
                                                   account_key("t3", "c"): "acme-gmbh.de"}
    assert "ambiguous between acme-gmbh.de, acme.de" in assignment_of(
        s, account_key("t2", "b"))[2]
    put(s, "t3", "c", domains=[], name=None)  # the second one goes: joined again
    assert company(s, "t2", "b") == "acme.de"


def test_a_name_joins_a_domain_company_through_a_typo():
    s = {}
    put(s, "t1", "a", domains=[("globex.com", "domain")], name="globex corp", country="US")
    put(s, "t2", "b", name="globex crop", country="US")
    assert company(s, "t2", "b") == "globex.com"
    assert "'globex corp'" in assignment_of(s, account_key("t2", "b"))[2]


def test_a_brand_merge_moves_the_names_joined_to_it():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t2", "b", name="acme", country="DE")
    out = put(s, "t3", "c", domains=[("acme.at", "domain")], name="acme", country="AT")
    assert {a.key: a.company_key for a in out} == {
        account_key("t1", "a"): "acme.at", account_key("t2", "b"): "acme.at",
        account_key("t3", "c"): "acme.at"}


# -- messages, seqs, settings ------------------------------------------------------------


def test_stale_or_repeated_inputs_change_nothing_and_messages_round_trip():
    s = {}
    msg = MatchInput(account_key("t1", "a"), "t1", [["acme.de", "domain"]], "acme", "DE", 2)
    assert apply_input(s, msg)
    assert apply_input(s, msg) == []
    older = MatchInput(msg.account_key, "t1", [["other.de", "domain"]], "x", "DE", 1)
    assert apply_input(s, older) == [] and company(s, "t1", "a") == "acme.de"
    again = MatchInput.from_json(msg.key, json.loads(json.dumps(msg.to_json())))
    assert again == msg
    a = Assignment(msg.key, "acme.de", "domain", "domain acme.de (domain field)", 3)
    assert Assignment.from_json(a.key, json.loads(json.dumps(a.to_json()))) == a
    assert all(isinstance(v, (dict, list)) for v in json.loads(json.dumps(s)).values())


def test_a_tenants_ignored_domain_never_keys_its_accounts():
    s = {}
    put(s, "t1", "a", domains=[("reseller.com", "domain"), ("acme.de", "website")],
        name="acme", country="DE")
    put(s, "t2", "b", domains=[("reseller.com", "domain")], name="other", country="DE")
    assert company(s, "t1", "a") == company(s, "t2", "b") == "reseller.com"
    out = apply_settings(s, "t1", 1, ["Reseller.com"])
    assert [(a.key, a.company_key) for a in out] == [(account_key("t1", "a"), "acme.de")]
    assert "reseller.com ignored by the tenant" in assignment_of(s, account_key("t1", "a"))[2]
    assert company(s, "t2", "b") == "reseller.com"  # another tenant's account: as it was
    assert apply_settings(s, "t1", 1, []) == []  # not a newer version
    apply_settings(s, "t1", 2, [])
    assert company(s, "t1", "a") == "reseller.com"


def test_explain_says_why_or_why_not():
    s = {}
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    put(s, "t2", "b", domains=[("acme.de", "website")], name="acme", country="DE")
    put(s, "t2", "c", name="acme", country="DE")
    put(s, "t2", "d", domains=[("globex.com", "domain")], name="globex", country="US")
    put(s, "t3", "e", name="acme", country="FR")
    put(s, "t3", "f", name="hooli xyz", country="US")
    put(s, "t3", "g", name="hooli abc", country="US")
    a, b, c, d, e, f, g = (account_key(t, r) for t, r in (
        ("t1", "a"), ("t2", "b"), ("t2", "c"), ("t2", "d"), ("t3", "e"), ("t3", "f"),
        ("t3", "g")))
    assert explain(s, a, b).startswith("matched: same domain acme.de")
    assert explain(s, a, c).startswith("matched: the account without a domain joined")
    assert "different domains acme.de and globex.com" in explain(s, a, d)
    assert "different countries" in explain(s, c, e)
    assert "more than one character" in explain(s, f, g)
    assert "is unknown" in explain(s, a, account_key("t9", "z"))


# -- the pipeline: merges and splits retract and rebuild ---------------------------------


FULL = {(t, p): "FULL" for t in ("acme", "globex")
        for p in ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")}


def overlap_companies(p: Pipeline) -> set[str]:
    return {r["company_key"] for r in p.current().values() if "tenant_populations" in r}


def test_a_later_record_merges_companies_and_an_edit_splits_them_in_the_results():
    p = Pipeline()
    p.apply(*partnership("p1", "acme", "globex", FULL))
    p.apply(*account("acme", "a1", domain="initrode.de", name="Initrode", country="DE"))
    p.apply(*account("globex", "g1", domain="initrode.co.uk", name="Initrode Retail"))
    assert overlap_companies(p) == set()
    # A second globex record names the brand as acme does: initrode.de and .co.uk join.
    changes = p.apply(*account("globex", "g2", domain="initrode.co.uk", name="Initrode GmbH"))
    assert overlap_companies(p) == {"initrode.co.uk"}
    assert any(c.kind == "overlap" for c in changes)
    snap = p.company_state["initrode.co.uk"]
    assert snap and p.account_state[account_key("acme", "a1")]["company"] == "initrode.co.uk"
    # The record is edited: the names no longer agree, the overlap is retracted.
    changes = p.apply(*account("globex", "g2", version=2, domain="initrode.co.uk",
                               name="Umbrella"))
    assert overlap_companies(p) == set()
    assert p.account_state[account_key("acme", "a1")]["company"] == "initrode.de"
    # A name-only account joins the domain company; deleting the domain account splits.
    p.apply(*account("globex", "g3", name="Initrode AG", country="DE"))
    assert overlap_companies(p) == {"initrode.de"}
    row = next(r for r in p.current().values() if "tenant_populations" in r)
    assert {row["match_method"]} <= {"domain", "name_domain"}
    p.apply(*account("acme", "a1", version=2, op="DELETE"))
    assert overlap_companies(p) == set()
    assert p.account_state[account_key("globex", "g3")]["company"] == "name:initrode|DE"


def test_tenant_settings_reassign_in_the_pipeline():
    p = Pipeline()
    p.apply(*partnership("p1", "acme", "globex", FULL))
    p.apply(*account("acme", "a1", domain="reseller-hub.com", name="One"))
    p.apply(*account("globex", "g1", domain="reseller-hub.com", name="Two"))
    assert overlap_companies(p) == {"reseller-hub.com"}
    settings_event = tenant_settings("acme", ["www.Reseller-Hub.com"])
    assert not p.holds(*settings_event)
    p.apply(*settings_event)
    assert p.holds(*settings_event)
    assert overlap_companies(p) == set()
    snap = [s for s in p.account_state.values() if s.get("company") == "name:one|"]
    assert snap
    p.apply(*tenant_settings("acme", version=2, op="DELETE"))  # back to no settings
    assert overlap_companies(p) == {"reseller-hub.com"}


# -- order independence ------------------------------------------------------------------


HISTORY = [
    partnership("p1", "acme", "globex", FULL),
    partnership("p2", "acme", "initech", {**FULL, **{("initech", "CUSTOMER"): "FULL"}}),
    account("acme", "a1", domain="initrode.de", name="Initrode", country="DE"),
    account("globex", "g1", domain="initrode.co.uk", name="Initrode Ltd", country="GB"),
    account("globex", "g1", version=2, day=2, domain="initrode.co.uk", name="Initrode Retail",
            country="GB"),
    account("initech", "i1", name="Initrode", country="DE"),
    account("initech", "i2", name="Initrode", country="DE", relationship="PROSPECT"),
    account("initech", "i2", version=2, day=3, op="DELETE"),
    account("globex", "g2", name="Globex Widgets", country="US"),
    account("acme", "a2", name="Globex Widgest", country="US"),
    account("acme", "a3", domain="globex.com", name="Globex Widgets", country="US"),
    account("acme", "a3", version=2, day=4, domain="globex.com", name="Globex", country="US"),
    account("initech", "i3", domain="globex-widgets.com", name="Globex Widgets", country="US"),
    account("globex", "g3", website="https://initrode.at/x", name="Initrode", country="AT"),
    account("globex", "g3", version=2, day=1, op="DELETE"),
    account("acme", "a4", domain="gmail.com", website="initrode.ch", name="Initrode",
            country="CH"),
    tenant_settings("acme", ["initrode.ch"]),
]


def _final(events):
    p = Pipeline()
    for event in events:
        p.apply(*event)
    assignments = {k[2:]: (v["k"], v["m"], v["e"]) for k, v in p.resolver_state.items()
                   if k.startswith("a:") and v["k"] is not None}
    companies = {k: v["company"] for k, v in p.account_state.items() if "company" in v}
    return assignments, companies, p.current()


@settings(max_examples=120, deadline=None)
@given(order=st.permutations(range(len(HISTORY))))
def test_any_order_of_a_history_with_merges_and_splits_gives_the_same_final_state(order):
    reference = _final(HISTORY)
    assert _final([HISTORY[i] for i in order]) == reference
    assignments, companies, current = reference
    assert current
    assert len(set(companies.values())) < len(companies)  # something merged


DOMAINS = (None, "acme.de", "acme.co.uk", "acme.fr", "globex.com", "globex.de")
NAMES = ("Acme", "Acme GmbH", "Acme Widgets", "Acme Widgest", "Acme Wigdets", "Globex",
         "Globex Widgets")


@st.composite
def histories(draw):
    """Account versions over a few tenants, domains and (typo'd) names: merges and splits."""
    events = [partnership("p1", "acme", "globex", FULL)]
    for n in range(draw(st.integers(2, 9))):
        tenant = draw(st.sampled_from(["acme", "globex"]))
        for version in range(1, draw(st.integers(1, 3)) + 1):
            if version > 1 and draw(st.booleans()) and draw(st.booleans()):
                events.append(account(tenant, f"r{n}", version=version, op="DELETE"))
                continue
            events.append(account(
                tenant, f"r{n}", version=version, day=draw(st.integers(0, 5)),
                domain=draw(st.sampled_from(DOMAINS)), name=draw(st.sampled_from(NAMES)),
                country=draw(st.sampled_from(["DE", "GB"]))))
    if draw(st.booleans()):
        events.append(tenant_settings("acme", ["acme.de"]))
    return events


def _latest(events):
    """Each record's highest version only, in a fixed order: the current inputs alone."""
    latest = {}
    for event_type, record in events:
        key = (event_type, record.get("record_id"), record["tenant_id"])
        if key not in latest or record["version"] > latest[key][1]["version"]:
            latest[key] = (event_type, record)
    return [latest[k] for k in sorted(latest, key=str)]


@settings(max_examples=150, deadline=None)
@given(events=histories(), data=st.data())
def test_the_assignments_are_a_function_of_the_current_inputs_only(events, data):
    order = data.draw(st.permutations(events))
    assert _final(order) == _final(_latest(events))


def test_a_typo_is_in_letters_of_an_alphabet_not_in_ideographs():
    s = {}
    put(s, "t1", "a", name="ｆｂｂｍ精機".lower(), country="JP")
    put(s, "t2", "b", name="ｆｂｂｍ電機".lower(), country="JP")
    put(s, "t1", "c", name="волати софт", country="RU")
    put(s, "t2", "d", name="волати соф", country="RU")
    assert company(s, "t1", "a") != company(s, "t2", "b")
    assert company(s, "t1", "c") == company(s, "t2", "d")


def test_a_transposed_digit_and_letter_is_a_typo():
    s = {}
    put(s, "t1", "a", name="acme5x widgets", country="US")
    put(s, "t2", "b", name="acmex5 widgets", country="US")
    assert company(s, "t1", "a") == company(s, "t2", "b")


@settings(max_examples=200, deadline=None)
@given(names=st.lists(st.text(alphabet="ab1 ", min_size=5, max_size=8), min_size=2,
                      max_size=12, unique=True))
def test_the_index_finds_every_typo_pair(names):
    """Clusters through the deletion index equal clusters over every pair of names."""
    from streams.core.resolver import _is_typo

    s = {}
    for n, name in enumerate(names):
        put(s, "t1", f"r{n}", name=name, country="US")
    parent = list(range(len(names)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if _is_typo(names[i], names[j]):
                parent[root(j)] = root(i)
    expected = {}
    for i in range(len(names)):
        expected.setdefault(root(i), set()).add(i)
    found = {}
    for i in range(len(names)):
        found.setdefault(company(s, "t1", f"r{i}"), set()).add(i)
    assert sorted(map(sorted, found.values())) == sorted(map(sorted, expected.values()))


@settings(max_examples=150, deadline=None)
@given(events=histories(), data=st.data())
def test_any_delivery_of_the_streams_messages_gives_what_the_replay_gives(events, data):
    import random

    expected = Pipeline()
    expected.run(_latest(events))
    streamed = run_as_a_stream(data.draw(st.permutations(events)),
                               random.Random(data.draw(st.integers(0, 2**32))))
    assert streamed.current() == expected.current()
    assert {k: v["company"] for k, v in streamed.account_state.items()} == \
        {k: v["company"] for k, v in expected.account_state.items()}


def test_a_recreated_accounts_inputs_overtaking_its_deletes_keep_its_company():
    """The stream may hand the resolver an account's inputs out of order: the inputs of
    its re-creation before those of its deletion. The resolver sees the same inputs as
    before (no new assignment) and then the deletion's as stale; the account keeps the
    company the resolver last gave it, as the replay does."""
    p = Pipeline()
    key = account_key("acme", "r5")
    made = p.accounts.apply(p.account_state, *account("acme", "r5", domain="acme.de",
                                                      name="Acme", country="DE"))
    settle = list(made)
    while settle:  # the account's first inputs and all they cause, in order
        msg = settle.pop(0)
        if not isinstance(msg, SnapshotMessage):
            settle.extend(p.step(msg))
    assert p.account_state[key]["company"] == "acme.de"
    deleted = [m for m in p.accounts.apply(
        p.account_state, *account("acme", "r5", version=2, op="DELETE"))
        if isinstance(m, MatchInput)]
    again = [m for m in p.accounts.apply(
        p.account_state, *account("acme", "r5", version=3, domain="acme.de", name="Acme",
                                  country="DE")) if isinstance(m, MatchInput)]
    assert [m.seq for m in deleted + again] == [2, 3]
    assert p.step(again[0]) == [] and p.step(deleted[0]) == []  # same inputs; then stale
    replay = Pipeline()
    replay.run([account("acme", "r5", version=3, domain="acme.de", name="Acme",
                        country="DE")])
    assert p.account_state[key]["company"] == replay.account_state[key]["company"] \
        == "acme.de"


# -- the state's writes ------------------------------------------------------------------


class CountingState(dict):
    """A state mapping that records every key assigned (a table write each)."""

    def __init__(self):
        super().__init__()
        self.written: list[str] = []

    def __setitem__(self, key, value):
        self.written.append(key)
        super().__setitem__(key, value)


def test_a_key_is_written_only_when_its_value_changes_and_a_domain_is_one_key():
    s = CountingState()
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    # One record per domain (accounts, listers and company together), no x: or c: keys.
    # (A batch writes a key it assigned several times once: distinct keys are what count.)
    assert set(s.written) == {f"a:{account_key('t1', 'a')}", "d:acme.de", "l:acme",
                              "n:DE\x1facme"}
    s.written.clear()
    put(s, "t1", "a", domains=[("acme.de", "domain")], name="acme", country="DE")
    assert s.written == [f"a:{account_key('t1', 'a')}"]  # new seq, nothing else changed
    s.written.clear()
    put(s, "t2", "b", domains=[("acme.de", "website")], name="acme gmbh", country="DE")
    assert {k for k in s.written if not k.startswith("v:")} == {
        f"a:{account_key('t2', 'b')}", "d:acme.de", "n:DE\x1facme gmbh"}  # no l: again
    s.written.clear()
    apply_settings(s, "t3", 1, ["globex.com"])  # no account lists it: only the settings
    assert s.written == ["t:t3"]


def _earlier_layout(state: dict) -> dict:
    """The state as the resolver kept it before a domain was one key: d:, x: and c:."""
    out = {}
    for key, value in state.items():
        if key.startswith("d:"):
            domain = key[2:]
            out[key] = value["m"]
            out[f"x:{domain}"] = value["x"]
            if value["c"] is not None:
                out[f"c:{domain}"] = value["c"]
        else:
            out[key] = value
    return out


@settings(max_examples=100, deadline=None)
@given(events=histories(), data=st.data())
def test_state_of_the_earlier_layout_goes_on_as_the_same_state_would(events, data):
    cut = data.draw(st.integers(0, len(events)))
    p = Pipeline()
    for event in events[:cut]:
        p.apply(*event)
    old = Pipeline(account_state=json.loads(json.dumps(p.account_state)),
                   company_state=json.loads(json.dumps(p.company_state)),
                   settings_state=json.loads(json.dumps(p.settings_state)),
                   resolver_state=_earlier_layout(p.resolver_state))
    for event in events[cut:]:
        assert old.apply(*event) == p.apply(*event)
    assert old.current() == p.current()
    for key in p.resolver_state:
        if key.startswith("a:"):
            assert assignment_of(old.resolver_state, key[2:]) == \
                assignment_of(p.resolver_state, key[2:])


# -- the typo index kept apart -----------------------------------------------------------


def test_the_typo_index_kept_apart_is_the_index_of_the_state():
    kept_apart, inside = {}, {}
    for s, typos in ((inside, None), ({}, kept_apart)):
        for n, (name, country) in enumerate([("acme widgets", "DE"), ("acme widgest", "DE"),
                                             ("globex maschinen", "DE"),
                                             ("acme widgets", "GB")]):
            apply_input(s, MatchInput(account_key("t1", f"r{n}"), "t1", [], name, country, 1),
                        typos)
        apply_input(s, MatchInput(account_key("t1", "r2"), "t1", [], None, "DE", 2), typos)
        if typos is not None:
            state = s
    assert {k: v for k, v in inside.items() if k.startswith("v:") and v} == \
        {k: v for k, v in kept_apart.items() if v} == typo_index(state.items())
    assert not any(k.startswith("v:") for k in state)  # nothing of it in the state
    assert company(state, "t1", "r1") == company(state, "t1", "r0") == "name:acme widgest|DE"


def test_a_name_the_index_has_too_many_clusters_nothing():
    # As if a batch had changed the index but its state was never written.
    typos = {"v:DE\x1facme widget": ["acme widgeta"]}
    s = {}
    apply_input(s, MatchInput(account_key("t1", "a"), "t1", [], "acme widgets", "DE", 1), typos)
    assert assignment_of(s, account_key("t1", "a"))[:2] == ("name:acme widgets|DE",
                                                             "name_country")


# -- the indexes derived from the account records ------------------------------------------


def _records(state) -> dict:
    """The state without its indexes: what the worker's table holds."""
    return {k: v for k, v in state.items() if not k.startswith(DERIVED_PREFIXES)}


def _index_keys(state) -> dict:
    """A state's index keys as the resolver reads them: emptied ones and companies of
    domains no account has as its domain left out."""
    out = {}
    for key, value in state.items():
        if not key.startswith(DERIVED_PREFIXES) or not value:
            continue
        if key.startswith("d:"):
            value = {**value, "c": value["c"] if value["m"] else None}
            if not value["m"] and not value["x"]:
                continue
        out[key] = value
    return out


@settings(max_examples=150, deadline=None)
@given(events=histories(), data=st.data())
def test_the_indexes_built_from_the_account_records_are_the_maintained_ones(events, data):
    p = Pipeline()
    for event in data.draw(st.permutations(events)):
        p.apply(*event)
    assert derived_index(p.resolver_state.items()) == _index_keys(p.resolver_state)


@settings(max_examples=100, deadline=None)
@given(events=histories(), data=st.data())
def test_indexes_built_again_from_the_records_go_on_as_the_maintained_ones(events, data):
    # The worker keeps only the records in its table and builds the indexes again from
    # them after a rebalance: from then on every output must be the same.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), min_size=1, max_size=3)))
    p = Pipeline()
    split = None
    for n, event in enumerate(events):
        if n in cuts:
            table = _records(split.resolver_state.table if split else p.resolver_state)
            index = derived_index(table.items())
            split = Pipeline(account_state=json.loads(json.dumps(p.account_state)),
                             company_state=json.loads(json.dumps(p.company_state)),
                             settings_state=json.loads(json.dumps(p.settings_state)),
                             resolver_state=SplitState(table, index), typos=index)
        out = p.apply(*event)
        if split is not None:
            assert split.apply(*event) == out
    if split is not None:
        assert split.current() == p.current()
        assert not any(k.startswith(DERIVED_PREFIXES) for k in split.resolver_state.table)
        assert _records(split.resolver_state.table) == _records(p.resolver_state)
