"""The company stage's shortcuts take the same decisions as the full steps they skip.

For random pairs of snapshots of one account (before and after a change), at a company
where the tenant may hold other accounts:

- :func:`streams.core.tenants.shown` compares two states exactly as :func:`view` does;
- when :func:`same_view` says so, the tenant's view is what it was, and when
  :func:`same_named` says so too (the stage then skips :func:`replace_account`),
  replacing the account would have left every holding as it was.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.tenants import replace_account, same_named, same_view, shown, view

DEALS = ("o1", "o2", "o3")


@st.composite
def snapshots(draw, account_record_id: str):
    opps = [{"record_id": d, "is_closed": draw(st.booleans()), "amount": draw(st.sampled_from(
        ["1000", "2000"]))} for d in sorted(draw(st.sets(st.sampled_from(DEALS), max_size=2)))]
    touches = [{"opportunity_record_id": draw(st.sampled_from([None, *DEALS]))}
               for _ in range(draw(st.integers(0, 2)))]
    return {"tenant_id": "acme", "account_record_id": account_record_id,
            "name": draw(st.sampled_from(["Initrode", "Initrode Ltd"])),
            "relationship": draw(st.sampled_from(["CUSTOMER", "PROSPECT", "OTHER"])),
            "match_method": draw(st.sampled_from(["domain", "website"])),
            "opportunities": opps, "touches": touches,
            "contacts": draw(st.integers(0, 2)), "last_activity": draw(st.integers(0, 3))}


@settings(max_examples=400, deadline=None)
@given(others=st.lists(snapshots("a0"), max_size=1), old=snapshots("a1"), new=snapshots("a1"))
def test_shortcuts_decide_as_the_full_steps(others, old, new):
    holdings, accounts = {}, {}
    for n, snap in enumerate(others):
        replace_account(holdings, accounts, f"acme\x1fa{n}", snap)
    replace_account(holdings, accounts, "acme\x1fa1", old)
    for named in (True, False):
        if not named and old["name"] != new["name"]:
            continue
        before_view = view(holdings, accounts, "acme", named)
        before_shown = shown(holdings, accounts, "acme", named)
        after_holdings, after_accounts = copy.deepcopy(holdings), copy.deepcopy(accounts)
        replace_account(after_holdings, after_accounts, "acme\x1fa1", new)
        after_view = view(after_holdings, after_accounts, "acme", named)
        assert (before_view == after_view) == (
            before_shown == shown(after_holdings, after_accounts, "acme", named))
        if same_view(old, new):
            assert before_view == after_view
    if same_view(old, new) and same_named(old, new):
        replaced = copy.deepcopy(holdings)
        replace_account(replaced, dict(accounts), "acme\x1fa1", new)
        assert replaced == holdings
