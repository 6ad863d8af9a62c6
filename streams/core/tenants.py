"""What one tenant holds at one company: populations, deals, contacts, activity.

Built from the tenant's account snapshots at that company (a tenant may hold a company
under several CRM accounts; they are merged). The company state keeps, per tenant, a
*holding*: counts of what its accounts contribute (populations, match methods), its
contacts and latest activity, and per deal the accounts whose snapshot names it (as the
deal or as a touch's deal). A snapshot changes the holding in time proportional to that
snapshot, whatever the size of the company. Plain data (dicts of strings and ints), as
it lives in a Faust table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .companykey import METHOD_DOMAIN, METHOD_NAME_COUNTRY, METHOD_WEBSITE
from .policy import CUSTOMER, FORMER_CUSTOMER, OPEN_OPPORTUNITY, PROSPECT
from .resolver import METHOD_BRAND, METHOD_NAME_DOMAIN, METHOD_NAME_TYPO

_RELATIONSHIP_POPULATION = {
    "CUSTOMER": CUSTOMER, "PROSPECT": PROSPECT, "FORMER_CUSTOMER": FORMER_CUSTOMER,
}
#: Strongest first: a domain of the record's own before one of a brand, a name that joined
#: a domain company before a name alone.
_METHOD_ORDER = (METHOD_DOMAIN, METHOD_WEBSITE, METHOD_BRAND, METHOD_NAME_DOMAIN,
                 METHOD_NAME_TYPO, METHOD_NAME_COUNTRY)


@dataclass(slots=True)
class TenantAtCompany:
    """One tenant's merged view of one company."""

    tenant_id: str
    populations: set[str] = field(default_factory=set)
    account_names: list[str] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    contacts: int = 0
    last_activity: int = 0
    #: The evidence of the account :attr:`match_method` comes from (see :func:`evidence`).
    match_evidence: str = ""

    @property
    def name(self) -> str:
        """The account name shown for this tenant (first by account id)."""
        return self.account_names[0] if self.account_names else ""

    @property
    def match_method(self) -> str:
        """The strongest method by which any of the tenant's accounts matched."""
        return strongest_method(self.methods)


def strongest_method(methods: Iterable[str]) -> str:
    """The strongest of ``methods`` (the tenant's match method, see :class:`TenantAtCompany`)."""
    return next(m for m in _METHOD_ORDER if m in methods)


def evidence(accounts: dict[str, dict[str, Any]], account_keys: Iterable[str],
             method: str) -> str:
    """The match evidence a tenant shows: its first account (by key) matched by ``method``.

    ``method`` is the tenant's match method, so the evidence explains it. A snapshot
    stored before snapshots carried evidence has none (``""``).
    """
    first = None
    for account_key in account_keys:
        if accounts[account_key]["match_method"] == method and (
                first is None or account_key < first):
            first = account_key
    return "" if first is None else accounts[first].get("match_evidence") or ""


def new_holding() -> dict[str, Any]:
    """What one tenant holds at one company, as stored (plain data, see module doc)."""
    return {"accounts": {}, "pops": {}, "methods": {}, "contacts": 0, "last": 0, "refs": {}}


def replace_account(
    holdings: dict[str, dict[str, Any]], accounts: dict[str, dict[str, Any]], account_key: str,
    new: dict[str, Any] | None,
) -> None:
    """Put account ``account_key``'s snapshot ``new`` (None: gone) into both mappings.

    ``holdings``: tenant -> :func:`new_holding`; ``accounts``: account key -> snapshot.
    Costs the size of the two snapshots, not of the company: a tenant's latest activity is
    looked for again only when the account that had it goes back in time or away.
    """
    old = accounts.get(account_key)
    same = old is not None and new is not None and old["tenant_id"] == new["tenant_id"]
    recount = True
    if same:  # only what changed
        if same_named(old, new):
            old_named = new_named = set()
        else:
            old_named, new_named = _named(old), _named(new)
            old_named, new_named = old_named - new_named, new_named - old_named
        recount = contribution(old) != contribution(new)
    else:
        old_named = _named(old) if old is not None else set()
        new_named = _named(new) if new is not None else set()
    if old is not None:
        held = holdings[old["tenant_id"]]
        if recount:
            _count(held, old, -1)
        if old_named:
            _refer(held["refs"], account_key, old_named, False)
        if not same:
            del held["accounts"][account_key]
        if new is None:
            del accounts[account_key]
        if not held["accounts"] and not same:
            del holdings[old["tenant_id"]]
    if new is not None:
        held = holdings.get(new["tenant_id"])
        if held is None:
            held = holdings[new["tenant_id"]] = new_holding()
        if recount:
            _count(held, new, 1)
        if new_named:
            _refer(held["refs"], account_key, new_named, True)
        accounts[account_key] = new
        held["accounts"][account_key] = 1
        if new["last_activity"] > held["last"]:
            held["last"] = new["last_activity"]
    if old is not None and old["tenant_id"] in holdings:
        held = holdings[old["tenant_id"]]
        if old["last_activity"] >= held["last"] and (
                new is None or new["last_activity"] < old["last_activity"]):
            held["last"] = max(0, max(
                (accounts[a]["last_activity"] for a in held["accounts"]), default=0))


def contribution(snap: dict[str, Any]) -> tuple[str, bool, str, int]:
    """What :func:`_count` adds for one snapshot, as one comparable value.

    Two snapshots of one account that contribute the same leave the tenant's populations,
    match methods and contacts as they were.
    """
    opens = False
    for opp in snap["opportunities"]:
        if not opp["is_closed"]:
            opens = True
            break
    return snap["relationship"], opens, snap["match_method"], snap["contacts"]


def _count(held: dict[str, Any], snap: dict[str, Any], step: int) -> None:
    """Add (step 1) or take away (step -1) what one account snapshot contributes."""
    relationship, opens, method, contacts = contribution(snap)
    pops = held["pops"]
    population = _RELATIONSHIP_POPULATION.get(relationship)
    for pop in (population, OPEN_OPPORTUNITY if opens else None):
        if pop is not None:
            _bump(pops, pop, step)
    _bump(held["methods"], method, step)
    held["contacts"] += step * contacts


def _named(snap: dict[str, Any]) -> set[str]:
    """The deals a snapshot names: its deals and the deals of its touches."""
    named = {opp["record_id"] for opp in snap["opportunities"]}
    named.update(t["opportunity_record_id"] for t in snap["touches"]
                 if t["opportunity_record_id"] is not None)
    return named


def same_view(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether replacing snapshot ``old`` by ``new`` (one account) leaves the tenant's view.

    True when both are the same tenant's, named the same, contribute the same (see
    :func:`contribution`) and are as recent: then :func:`view` (and :func:`shown`) give
    what they gave, and if :func:`same_named` too, :func:`replace_account` changes no
    holding.
    """
    return (old["name"] == new["name"] and old["last_activity"] == new["last_activity"]
            and old["tenant_id"] == new["tenant_id"] and contribution(old) == contribution(new)
            and old.get("match_evidence") == new.get("match_evidence"))


def same_match(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two snapshots of one account matched by the same method and evidence.

    When not, the tenant's shown evidence (see :func:`evidence`) may change.
    """
    return (old["match_method"] == new["match_method"]
            and old.get("match_evidence") == new.get("match_evidence"))


def same_named(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two snapshots surely name the same deals (a quick look; False: maybe not)."""
    old_opps, new_opps = old["opportunities"], new["opportunities"]
    count = len(old_opps)
    if count != len(new_opps) or old["touches"] != new["touches"]:
        return False
    if count == 1:
        return old_opps[0]["record_id"] == new_opps[0]["record_id"]
    for o, n in zip(old_opps, new_opps, strict=True):
        if o["record_id"] != n["record_id"]:
            return False
    return True


def _refer(refs: dict[str, dict[str, int]], account_key: str, deals: set[str],
           add: bool) -> None:
    """Note that the account names (or no longer names) each of ``deals``."""
    for deal in deals:
        if add:
            refs.setdefault(deal, {})[account_key] = 1
        else:
            holders = refs[deal]
            del holders[account_key]
            if not holders:
                del refs[deal]


def view(
    holdings: dict[str, dict[str, Any]], accounts: dict[str, dict[str, Any]], tenant_id: str,
    named: bool = True,
) -> TenantAtCompany | None:
    """The merged view of what ``tenant_id`` holds (None: nothing), for the result rows.

    ``named=False``: without the account name and match evidence (no names, ``""``),
    which cost the tenant's number of accounts to find; only to compare two views where
    neither can differ.
    """
    held = holdings.get(tenant_id)
    if held is None:
        return None
    methods = held["methods"]
    return TenantAtCompany(
        tenant_id, populations=set(held["pops"]),
        account_names=[accounts[min(held["accounts"])]["name"]] if named else [],
        methods=set(methods), contacts=held["contacts"], last_activity=held["last"],
        match_evidence=evidence(accounts, held["accounts"], strongest_method(methods))
        if named else "")


def shown(
    holdings: dict[str, dict[str, Any]], accounts: dict[str, dict[str, Any]], tenant_id: str,
    named: bool = True,
) -> tuple[frozenset[str], frozenset[str], int, int, str | None, str | None] | None:
    """What :func:`view` shows of ``tenant_id``, as a plain value.

    Two are equal exactly when the views are (``named`` as there: name and evidence);
    cheaper to build when the views are only compared.
    """
    held = holdings.get(tenant_id)
    if held is None:
        return None
    if not named:
        return (frozenset(held["pops"]), frozenset(held["methods"]), held["contacts"],
                held["last"], None, None)
    return (frozenset(held["pops"]), frozenset(held["methods"]), held["contacts"], held["last"],
            accounts[min(held["accounts"])]["name"],
            evidence(accounts, held["accounts"], strongest_method(held["methods"])))


def _bump(counts: dict[str, int], name: str, step: int) -> None:
    n = counts.get(name, 0) + step
    if n:
        counts[name] = n
    else:
        del counts[name]
