"""The incremental company stage gives exactly what a full recompute of each company gives.

Random histories of four tenants (accounts that move between companies, go away, or match
by another method or evidence; deals that open, close and move, touches and contacts,
partnerships that start, change policy, end, come back, or join a pair twice) are applied
event by event to the incremental stage and to the full recompute in
tests/reference_company.py: every event yields the same result changes (rows, keys,
versions, change words) and the stored results, inactive ones included, stay equal. At random points the incremental state goes through JSON (as a
Faust table or a saved replay state keeps it), loses what it derived (holdings, credit
index, pair index, partnership digest), as state written before those existed would, or
has its pair index merged back into one value per pair of tenants, as state written before
the index was sliced kept it: it is rebuilt or read as it is, and the results do not change.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.partnerships import PARTNERSHIPS_PREFIX
from streams.core.pipeline import Pipeline
from tests.factories import account, contact, opportunity, partnership, touch
from tests.reference_company import ReferenceCompanyStage

TENANTS = ("acme", "globex", "initech", "umbrella")
POPULATIONS = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")
LEVELS = ("HIDDEN", "COUNTS", "ACCOUNTS", "FULL")
DOMAINS = ("initrode.co.uk", "hooli.com", "gmail.com")  # gmail: never a company
ACCOUNT_IDS = ("a1", "a2", "a3")
DEALS = ("o1", "o2", "o3")


@st.composite
def partnership_events(draw):
    events = []
    for n in range(draw(st.integers(1, 4))):
        a, b = draw(st.sampled_from(TENANTS)), draw(st.sampled_from(TENANTS))
        for version in range(1, draw(st.integers(1, 3)) + 1):
            rules = {(t, pop): draw(st.sampled_from(LEVELS))
                     for t in (a, b) for pop in POPULATIONS if draw(st.booleans())}
            events.append(partnership(
                f"p{n}", a, b, rules, version=version, day=version,
                status=draw(st.sampled_from(["ACTIVE", "ACTIVE", "ENDED"])),
                op=draw(st.sampled_from(["UPSERT", "UPSERT", "UPSERT", "DELETE"]))))
    return events


@st.composite
def tenant_events(draw, tenant):
    events = []
    for acc in ACCOUNT_IDS[:draw(st.integers(1, 3))]:
        for version in range(1, draw(st.integers(1, 3)) + 1):
            # by domain or by website (another method, and evidence that names the URL)
            domain = draw(st.sampled_from(DOMAINS))
            where = draw(st.sampled_from([{"domain": domain}, {"domain": domain},
                                          {"website": f"https://www.{domain}/{version}"}]))
            events.append(account(
                tenant, acc, version=version, day=draw(st.integers(0, 60)),
                **where, name=draw(st.sampled_from([f"{tenant} {acc}",
                                                    f"{tenant} {acc} v{version}"])),
                relationship=draw(st.sampled_from(["CUSTOMER", "PROSPECT", "FORMER_CUSTOMER",
                                                   "OTHER"])),
                op=draw(st.sampled_from(["UPSERT", "UPSERT", "UPSERT", "DELETE"]))))
    for deal in DEALS[:draw(st.integers(0, 3))]:
        for version in range(1, draw(st.integers(1, 3)) + 1):
            fate = draw(st.sampled_from(["open", "won", "won", "lost", "delete"]))
            events.append(opportunity(
                tenant, deal, draw(st.sampled_from(ACCOUNT_IDS)), version=version,
                day=draw(st.integers(0, 90)), closed=fate in ("won", "lost"),
                won=fate == "won", amount=str(draw(st.integers(0, 5)) * 1000),
                created_day=draw(st.sampled_from([None, 20])),
                stage=draw(st.sampled_from(["Discovery", "Negotiation", "Other"])),
                op="DELETE" if fate == "delete" else "UPSERT"))
    for n in range(draw(st.integers(0, 3))):
        for version in range(1, draw(st.integers(1, 2)) + 1):
            deal = draw(st.sampled_from([*DEALS, None]))
            acc = draw(st.sampled_from([*ACCOUNT_IDS, None])) if deal else \
                draw(st.sampled_from(ACCOUNT_IDS))
            events.append(touch(
                tenant, f"t{n}", draw(st.sampled_from(TENANTS)), opp_id=deal, account_id=acc,
                version=version, day=draw(st.integers(0, 90)),
                touch_type=draw(st.sampled_from(["INTRO", "REFERRAL"])),
                op=draw(st.sampled_from(["UPSERT", "UPSERT", "DELETE"]))))
    for n in range(draw(st.integers(0, 2))):
        events.append(contact(tenant, f"c{n}", draw(st.sampled_from(ACCOUNT_IDS)),
                              day=draw(st.integers(0, 90))))
    return events


@st.composite
def histories(draw):
    events = draw(partnership_events())
    for tenant in TENANTS[:draw(st.integers(2, 4))]:
        events.extend(draw(tenant_events(tenant)))
    return draw(st.permutations(events))


def forget_derived(state):
    """Strip what the incremental stage derives, as in state written before it did."""
    for key in list(state):
        if key.startswith("~") and not key.startswith(PARTNERSHIPS_PREFIX):
            del state[key]
        elif not key.startswith("~"):
            state[key].pop("tenants", None)
            state[key].pop("credits", None)


def unslice_pair_index(state):
    """Merge each pair's index slices into one value, as state written before slices."""
    for key in [k for k in state if k.startswith("~pair@") and k.count("\x1f") == 3]:
        whole_key = key.rsplit("\x1f", 1)[0]
        whole = state.get(whole_key) or {}
        whole.update(state.pop(key))
        state[whole_key] = whole


def stored_results(pipeline):
    return {key: (company["version"], company["results"])
            for key, company in pipeline.company_state.items() if not key.startswith("~")}


def ordered(changes):
    return sorted(changes, key=lambda c: (c.key, c.version))


@settings(max_examples=300, deadline=None)
@given(events=histories(), data=st.data())
def test_incremental_stage_gives_what_a_full_recompute_gives(events, data):
    incremental, reference = Pipeline(), Pipeline()
    reference.companies = ReferenceCompanyStage()
    points = st.sets(st.integers(0, max(0, len(events) - 1)), max_size=2)
    forgets, reloads, unslices = data.draw(points), data.draw(points), data.draw(points)
    for n, event in enumerate(events):
        assert ordered(incremental.apply(*event)) == ordered(reference.apply(*event))
        if n in unslices:
            unslice_pair_index(incremental.company_state)
        if n in reloads:
            incremental.company_state = json.loads(json.dumps(incremental.company_state))
        if n in forgets:
            forget_derived(incremental.company_state)
    assert stored_results(incremental) == stored_results(reference)
    assert incremental.current() == reference.current()
