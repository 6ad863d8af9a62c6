"""Stage three: per company, the overlaps, intros and attributions it yields, and changes.

State per company key: the snapshots of every tenant account at that company, the results
derived last time (kept after they end, as inactive, so an end is never forgotten), a
version counter, and what makes a change cheap to follow: per tenant its *holding* (see
:mod:`.tenants`) and per (tenant, deal) the keys of its active attribution rows
(``credits``). Partnerships, their parsed cache and an index of the companies each pair
of tenants shares live beside them (see :mod:`.partnerships`).

Each result is a function of the company's current inputs only, so the outcome does not
depend on the order inputs arrived in. An input derives again only the results it can
change: a snapshot of tenant T's account, the overlaps and intros between T and its
partners when what T holds changed, the intros and attributions of the deals whose entry
or touches changed; a partnership change, the overlaps and intros of its two tenants, in
the companies both hold. The difference to the stored results is what changed. Changed
rows get the company's next version, so a replayed or duplicated input rewrites
identical rows (idempotent sinks) and a newer state always wins. Deriving every result
again from scratch gives the same rows, keys and versions (a property test checks that
against a full recompute).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from functools import partial
from typing import Any, NamedTuple

from .accounts import SnapshotMessage
from .attribution import AttributionConfig, deal_rows
from .intros import IntroDeal, holds_of
from .overlaps import overlap_row
from .partnerships import (
    PARTNERSHIPS_PREFIX,
    Pairs,
    PolicyCache,
    indexed_key,
    pair_index_keys,
    pair_key,
    pair_slice_key,
    partnerships_key,
    tenants_of,
)
from .policy import Partnership
from .records import apply_versioned
from .statekeys import KEY_SEPARATOR
from .tenants import (
    TenantAtCompany,
    replace_account,
    same_match,
    same_named,
    same_view,
    shown,
    view,
)

__all__ = ["PARTNERSHIPS_PREFIX", "CompanyStage", "ResultChange", "partnerships_key"]

_CHANGE_WORDS = {
    "overlap": ("STARTED", "CHANGED", "ENDED"),
    "intro": ("RAISED", "UPDATED", "WITHDRAWN"),
    "attribution": ("RECORDED", "RECORDED", "RETRACTED"),
}
_OVERLAP_PRIVATE = ("counted_partner_populations", "visible")
_NOT_SHOWN = (None, False, "", "", "")  # a partner that shows nothing for intros


class ResultChange(NamedTuple):
    """One result row that changed: what goes to the sink, and maybe an outbound event.

    A named tuple: immutable as a frozen dataclass is, and built several times faster
    (an event in a popular company changes a row per partner).
    """

    kind: str
    key: str
    version: int
    active: bool
    row: dict[str, Any]
    #: STARTED/CHANGED/ENDED, RAISED/UPDATED/WITHDRAWN or RECORDED/RETRACTED; None when
    #: the change must not be announced (an overlap visible to nobody, before and after).
    change: str | None

    def to_json(self) -> dict[str, Any]:
        """The change as JSON data (what goes on the sink topic)."""
        return {"kind": self.kind, "key": self.key, "version": self.version,
                "active": self.active, "row": self.row, "change": self.change}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultChange:
        """Inverse of :meth:`to_json`."""
        return cls(data["kind"], data["key"], data["version"], data["active"], data["row"],
                   data["change"])


#: ResultChange(*fields) without the named tuple's Python-level constructor (one call
#: per changed row)
_new_change = partial(tuple.__new__, ResultChange)


class _Dirty:
    """The results of one company to derive again: only these can have changed."""

    __slots__ = ("overlaps", "intros", "credits")

    def __init__(self) -> None:
        self.overlaps: set[tuple[str, str]] = set()  # (viewer, partner)
        #: (viewer, deal) -> partners: the intros to derive, grouped by deal, as what
        #: the deal alone decides is derived once for all its partners.
        self.intros: dict[tuple[str, str], set[str]] = {}
        self.credits: set[tuple[str, str]] = set()  # (tenant, deal)

    def pair(self, holdings: dict[str, Any], a: str, b: str) -> None:
        """Everything two tenants derive from each other."""
        self.overlaps.update(((a, b), (b, a)))
        for viewer, partner in ((a, b), (b, a)):
            for deal in holdings[viewer]["refs"]:
                self.intro(viewer, partner, deal)

    def intro(self, viewer: str, partner: str, deal: str) -> None:
        """The intro of ``viewer``'s ``deal`` with ``partner``."""
        self.intros_with(viewer, deal, (partner,))

    def intros_with(self, viewer: str, deal: str, partners: Iterable[str]) -> None:
        """The intros of ``viewer``'s ``deal`` with each of ``partners``."""
        found = self.intros.get((viewer, deal))
        if found is None:
            self.intros[(viewer, deal)] = set(partners)
        else:
            found.update(partners)


class CompanyStage:
    """Applies account snapshots and partnership events to company state.

    :param attribution: attribution window and half-life.
    """

    def __init__(self, attribution: AttributionConfig | None = None):
        self.attribution = attribution or AttributionConfig()
        self._policies = PolicyCache()

    def apply_snapshot(
        self, state: MutableMapping[str, Any], partition: int, msg: SnapshotMessage
    ) -> list[ResultChange]:
        """Apply one account snapshot (or retraction) to its company."""
        company_key, account_key, seq, new = msg.company_key, msg.account_key, msg.seq, msg.snapshot
        company = state.get(company_key)
        if company is None:
            company = {"accounts": {}, "seqs": {}, "results": {}, "version": 0,
                       "partition": partition, "tenants": {}, "credits": {}}
        seqs = company["seqs"]
        if seqs.get(account_key, 0) >= seq:
            return []
        seqs[account_key] = seq
        company["partition"] = partition
        if "tenants" not in company:
            _ensure_derived(company)
        holdings, accounts = company["tenants"], company["accounts"]
        old = accounts.get(account_key)
        changes: list[ResultChange] = []
        if old is not None or new is not None:
            tenant = (new or old)["tenant_id"]
            # Other tenants' holdings do not change here: partners are known beforehand,
            # and without one, what the tenant's view is matters to no result.
            policies = self._policies.policies(state, partition)
            known = policies.partners.get(tenant)
            partners = [x for x in holdings if x in known] if known else None
            was_present = tenant in holdings
            # The same account, named and matched the same: the tenant's shown name (its
            # first account's) and evidence stay, so the views compare without finding them.
            named = old is None or new is None or old["name"] != new["name"] \
                or not same_match(old, new)
            unchanged = not named and same_view(old, new)
            before = shown(holdings, accounts, tenant, named) \
                if partners and not unchanged else None
            if unchanged and same_named(old, new):
                accounts[account_key] = new  # all the tenant's holding says stays
            else:
                replace_account(holdings, accounts, account_key, new)
            present = tenant in holdings
            if was_present != present:
                self._index_presence(state, partition, company_key, holdings, tenant,
                                     present)
            dirty = _Dirty()
            if partners and not unchanged \
                    and before != shown(holdings, accounts, tenant, named):
                overlaps, intro = dirty.overlaps, dirty.intro
                for x in partners:
                    overlaps.add((tenant, x))
                    overlaps.add((x, tenant))
                    for deal in holdings[x]["refs"]:
                        intro(x, tenant, deal)
            deals, touched = _changed_deals(old, new)
            if deals and partners:
                for deal in deals:
                    dirty.intros_with(tenant, deal, partners)
            for deal in deals | touched if touched else deals:
                dirty.credits.add((tenant, deal))
            changes = self._refresh(company_key, company, policies.pairs, dirty,
                                    memo=policies.memo)
        state[company_key] = company
        return changes

    def apply_partnership(
        self, state: MutableMapping[str, Any], partition: int, record: dict[str, Any]
    ) -> list[ResultChange]:
        """Apply a partnership event; refresh the companies of this partition it concerns.

        Those are the companies where both tenants it joins (or joined) are present: the
        pair index names them, so the cost does not grow with the other companies.
        """
        key = partnerships_key(partition)
        bucket = dict(state.get(key) or {})
        before = bucket.get(record["record_id"], {}).get("d")
        if not apply_versioned(bucket, record):
            return []
        PolicyCache.changed(state, partition, bucket)
        after = bucket[record["record_id"]]["d"]
        pairs = self._policies.pairs(state, partition)
        self._ensure_index(state, partition)
        concerned: dict[str, list[tuple[str, str]]] = {}
        for tenants in {tenants_of(before), tenants_of(after)} - {None}:
            found_here: set[str] = set()
            for index_key in pair_index_keys(partition, *tenants):
                found_here.update(state.get(index_key) or ())
            for company_key in found_here:
                concerned.setdefault(company_key, []).append(tenants)
        changes: list[ResultChange] = []
        for company_key in sorted(concerned):
            company = state.get(company_key)
            if company is None or company.get("partition") != partition:
                continue
            _ensure_derived(company)
            dirty = _Dirty()
            for a, b in concerned[company_key]:
                if a in company["tenants"] and b in company["tenants"]:
                    dirty.pair(company["tenants"], a, b)
            found = self._refresh(company_key, company, pairs, dirty)
            if found:
                state[company_key] = company
                changes.extend(found)
        return changes

    @staticmethod
    def _index_presence(state: MutableMapping[str, Any], partition: int, company_key: str,
                        holdings: dict[str, Any], tenant: str, present: bool) -> None:
        """Record in the pair index that ``tenant`` arrived at (or left) a company."""
        for other in holdings:
            if other == tenant:
                continue
            key = pair_slice_key(partition, tenant, other, company_key)
            index = state.get(key) or {}
            if present:
                index[company_key] = 1
            else:
                index.pop(company_key, None)
                whole = state.get(pair_key(partition, tenant, other))  # unsliced, older state
                if whole and company_key in whole:
                    del whole[company_key]
                    state[pair_key(partition, tenant, other)] = whole
            state[key] = index

    @staticmethod
    def _ensure_index(state: MutableMapping[str, Any], partition: int) -> None:
        """Index, once, the companies of a partition written before the pair index was."""
        if state.get(indexed_key(partition)):
            return
        indexes: dict[str, dict[str, int]] = {}
        for company_key, company in list(state.items()):
            if company_key.startswith("~") or company.get("partition") != partition:
                continue
            if _ensure_derived(company):
                state[company_key] = company
            tenants = sorted(company["tenants"])
            for i, a in enumerate(tenants):
                for b in tenants[i + 1:]:
                    key = pair_slice_key(partition, a, b, company_key)
                    if key not in indexes:
                        indexes[key] = state.get(key) or {}
                    indexes[key][company_key] = 1
        for key, index in indexes.items():
            state[key] = index
        state[indexed_key(partition)] = 1

    def _refresh(
        self, company_key: str, company: dict[str, Any], pairs: Pairs, dirty: _Dirty,
        memo: dict[Any, Any] | None = None,
    ) -> list[ResultChange]:
        """Derive the dirty results again; store and return those that changed.

        ``memo``: the :class:`~.partnerships.Policies` memo of ``pairs``.
        """
        derive = _Derivation(company_key, company, pairs, self.attribution, memo)
        fresh: dict[str, tuple[str, dict[str, Any]]] = {}
        candidates: list[str] = []
        for viewer, partner in dirty.overlaps:
            key = f"overlap|{viewer}|{partner}|{company_key}"
            row = derive.overlap(viewer, partner)
            if row is not None:
                fresh[key] = ("overlap", row)
            else:
                candidates.append(key)
        for (viewer, deal), partners in dirty.intros.items():
            intro_deal = derive.intro_deal(viewer, deal)
            head, tail = f"intro|{viewer}|", f"|{deal}|{company_key}"
            for partner in partners:
                key = head + partner + tail  # intro|viewer|partner|deal|company
                row = None if intro_deal is None else derive.intro(intro_deal, partner)
                if row is not None:
                    fresh[key] = ("intro", row)
                else:
                    candidates.append(key)
        credits = company["credits"]
        for tenant, deal in dirty.credits:
            group = f"{tenant}{KEY_SEPARATOR}{deal}"
            stored = credits.get(group)
            if stored:
                candidates.extend(stored)
            rows = derive.credits(tenant, deal)
            if rows:
                for k, row in rows.items():
                    fresh[k] = ("attribution", row)
                credits[group] = sorted(rows)
            elif stored is not None:
                del credits[group]
        return diff_results(company, fresh, candidates)


class _Derivation:
    """Derives single results of one company from its state (memoised per refresh)."""

    def __init__(self, company_key: str, company: dict[str, Any], pairs: Pairs,
                 config: AttributionConfig, memo: dict[Any, Any] | None = None):
        self.company_key, self.pairs, self.config = company_key, pairs, config
        self.holdings, self.accounts = company["tenants"], company["accounts"]
        self._views: dict[str, TenantAtCompany | None] = {}
        #: (viewer, partner, partner's populations) -> what the partner shows for intros
        #: (see :meth:`intro`); depends on ``pairs`` only, so kept as long as they are.
        self._visible: dict[tuple[str, str, tuple[str, ...]], tuple[Any, ...]] = \
            {} if memo is None else memo
        self._deals: dict[str, dict[str, dict[str, Any]]] = {}
        #: account key -> its touches by deal (None: asked once, not indexed yet)
        self._touches: dict[str, dict[str | None, list[tuple[str, dict[str, Any]]]] | None] = {}

    def view(self, tenant: str) -> TenantAtCompany | None:
        if tenant not in self._views:
            self._views[tenant] = view(self.holdings, self.accounts, tenant)
        return self._views[tenant]

    def policy(self, viewer: str, partner: str) -> Partnership | None:
        if viewer not in self.holdings or partner not in self.holdings:
            return None
        return self.pairs.get((viewer, partner))

    def overlap(self, viewer: str, partner: str) -> dict[str, Any] | None:
        policy = self.policy(viewer, partner)
        if policy is None:
            return None
        return overlap_row(self.company_key, self.view(viewer), self.view(partner), policy)

    def intro_deal(self, viewer: str, deal: str) -> IntroDeal | None:
        """The deal's side of ``viewer``'s intros on ``deal`` (None: no open entry)."""
        held = self.holdings.get(viewer)
        if held is None:
            return None
        latest = None  # the deal's last open entry in account order counts
        holders = held["refs"].get(deal, ())
        for account_key in sorted(holders) if len(holders) > 1 else holders:
            opp = self._deals_of(account_key).get(deal)
            if opp is not None and not opp["is_closed"]:
                latest = (self.accounts[account_key]["account_record_id"], opp)
        if latest is None:
            return None
        return IntroDeal(self.company_key, viewer, *latest)

    def intro(self, deal: IntroDeal, partner: str) -> dict[str, Any] | None:
        """The intro row of ``deal`` (see :meth:`intro_deal`) with ``partner``."""
        held = self.holdings.get(partner)
        if held is None:  # the viewer is present: it has the deal
            return None
        viewer, pops = deal.viewer, held["pops"]
        memo_key = (viewer, partner, tuple(pops))
        shown = self._visible.get(memo_key)
        if shown is None:  # what the partner's view would give (see .tenants.view)
            shown = _NOT_SHOWN
            policy = self.pairs.get((viewer, partner))
            if policy is not None:
                # the policy's cached list: rows share it, and nothing changes a row
                _, visible, full = policy.shares(partner, frozenset(pops))
                if visible:
                    shown = (visible, full, policy.partnership_id, *holds_of(visible))
            self._visible[memo_key] = shown
        visible, full, partnership_id, best, holds = shown
        if visible is None:
            return None
        return deal.partner_row(partner, partnership_id, visible, full, best, holds,
                                held["contacts"], held["last"])

    def credits(self, tenant: str, deal: str) -> dict[str, dict[str, Any]]:
        held = self.holdings.get(tenant)
        rows: dict[str, dict[str, Any]] = {}
        if held is None:
            return rows
        holders = held["refs"].get(deal)
        if not holders:
            return rows
        holders = sorted(holders) if len(holders) > 1 else list(holders)
        for account_key in holders:
            opp = self._deals_of(account_key).get(deal)
            if opp is None or not (opp["is_closed"] and opp["is_won"]):
                continue
            touches = [t for holder in holders
                       for t in self._touches_of(holder, deal, holder == account_key)]
            rows.update(deal_rows(self.company_key, tenant,
                                  self.accounts[account_key]["account_record_id"], opp,
                                  touches, self.config))
        return rows

    def _deals_of(self, account_key: str) -> dict[str, dict[str, Any]]:
        found = self._deals.get(account_key)
        if found is None:
            found = self._deals[account_key] = {
                opp["record_id"]: opp for opp in self.accounts[account_key]["opportunities"]}
        return found

    def _touches_of(self, account_key: str, deal: str,
                    with_undirected: bool) -> list[tuple[str, dict[str, Any]]]:
        """The account's touches on ``deal`` (and those on no deal, if asked).

        The first ask for an account is answered by one pass over its touches; from the
        second, they are indexed by deal (one deal's credits need a pass, an account's
        every deal the index).
        """
        by_deal = self._touches.get(account_key)
        if by_deal is None:
            snap = self.accounts[account_key]
            rid = snap["account_record_id"]
            if account_key not in self._touches:
                self._touches[account_key] = None  # asked once
                found, undirected = [], []
                for t in snap["touches"]:
                    on = t["opportunity_record_id"]
                    if on == deal:
                        found.append((rid, t))
                    elif on is None and with_undirected:
                        undirected.append((rid, t))
                return found + undirected
            by_deal = self._touches[account_key] = {}
            for t in snap["touches"]:
                by_deal.setdefault(t["opportunity_record_id"], []).append((rid, t))
        found = by_deal.get(deal, [])
        return found + by_deal.get(None, []) if with_undirected else found


def _changed_deals(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[set[str], set[str]]:
    """Deals whose entry differs between two snapshots; deals whose touches differ."""
    old_opps = old["opportunities"] if old else []
    new_opps = new["opportunities"] if new else []
    if old_opps == new_opps:
        deals: set[str] = set()
    elif (len(old_opps) == 1 == len(new_opps)
          and old_opps[0]["record_id"] == new_opps[0]["record_id"]):
        deals = {new_opps[0]["record_id"]}  # one deal, and it differs
    else:
        deals = _changed_opps(old_opps, new_opps)
    touched: set[str] = set()
    old_touches = old["touches"] if old else []
    new_touches = new["touches"] if new else []
    if old_touches != new_touches:
        old_by, new_by = _by_deal(old_touches), _by_deal(new_touches)
        for deal in old_by.keys() | new_by.keys():
            if old_by.get(deal) != new_by.get(deal):
                if deal is None:  # touches on the account count for each of its deals
                    touched.update(o["record_id"] for o in old_opps)
                    touched.update(o["record_id"] for o in new_opps)
                else:
                    touched.add(deal)
    return deals, touched


def _changed_opps(old_opps: list[dict[str, Any]], new_opps: list[dict[str, Any]]) -> set[str]:
    """The deals whose entry differs between two snapshots' lists of deals.

    A snapshot lists its deals in record id order: when both list the same deals, the
    lists line up and one pass finds those that changed, without indexing either (an
    account may hold a thousand deals, and an update changes one).
    """
    if len(old_opps) == len(new_opps):
        deals: set[str] = set()
        for o, n in zip(old_opps, new_opps, strict=True):
            if o is not n and o != n:
                if o["record_id"] != n["record_id"]:
                    break  # not the same deals: indexed below
                deals.add(n["record_id"])
        else:
            return deals
    old_deals = {o["record_id"]: o for o in old_opps}
    new_deals = {o["record_id"]: o for o in new_opps}
    deals = {d for d, o in new_deals.items() if old_deals.get(d) != o}
    deals.update(d for d in old_deals if d not in new_deals)
    return deals


def _by_deal(touches: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    by: dict[str | None, list[dict[str, Any]]] = {}
    for t in touches:
        by.setdefault(t["opportunity_record_id"], []).append(t)
    return by


def _ensure_derived(company: dict[str, Any]) -> bool:
    """Build the holdings and credit index of a company stored without them (True if so)."""
    if "tenants" in company:
        return False
    accounts, company["accounts"] = company["accounts"], {}
    company["tenants"], company["credits"] = {}, {}
    for account_key, snap in sorted(accounts.items()):
        replace_account(company["tenants"], company["accounts"], account_key, snap)
    for key, result in sorted(company["results"].items()):
        if result["a"] and result["k"] == "attribution":
            row = result["row"]
            group = f"{row['tenant_id']}{KEY_SEPARATOR}{row['opportunity_record_id']}"
            company["credits"].setdefault(group, []).append(key)
    return True


def diff_results(
    company: dict[str, Any], fresh: dict[str, tuple[str, dict[str, Any]]],
    candidates: Iterable[str],
) -> list[ResultChange]:
    """Store the results derived again, ``fresh`` (key -> (kind, row)); return the changes.

    ``candidates``: keys of stored results that may have ended (those not in ``fresh``).
    Every change gets the company's next version; an ended result is kept, inactive.
    """
    results = company["results"]
    version = company["version"] + 1
    ended = set()
    for k in candidates:
        if k not in fresh:
            stored = results.get(k)
            if stored is not None and stored["a"]:
                ended.add(k)
    keys = fresh.keys() | ended if ended else fresh.keys()
    changes: list[ResultChange] = []
    add = changes.append
    for key in sorted(keys) if len(keys) > 1 else keys:
        old = results.get(key)
        old_row = old["row"] if old is not None and old["a"] else None
        found = fresh.get(key)
        if found is not None:
            kind, row = found
            if row == old_row:
                continue
            if kind == "overlap":
                change = _announce(kind, old_row, row)
            else:  # an intro or attribution row that is, and differs: started or changed
                change = _CHANGE_WORDS[kind][0 if old_row is None else 1]
            if old is None:
                results[key] = {"k": kind, "v": version, "a": True, "row": row}
            else:  # the stored entry is the company's own: updated where it is
                old["v"], old["a"], old["row"] = version, True, row
            add(_new_change((kind, key, version, True, row, change)))
        else:
            kind = old["k"]
            old["v"], old["a"] = version, False
            add(_new_change((kind, key, version, False, old_row,
                             _announce(kind, old_row, None))))
    if changes:
        company["version"] = version
    return changes


def _announce(kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    """The outbound change word, or None when nothing visible changed."""
    started, changed, ended = _CHANGE_WORDS[kind]
    if kind == "overlap":
        old = old if old and old["visible"] else None
        new = new if new and new["visible"] else None
        if old and new and _same_public(old, new):
            return None
    if old is None and new is None:
        return None
    if old is None:
        return started
    if new is None:
        return ended
    return changed


def _same_public(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two overlap rows agree on everything but their private fields."""
    if old.keys() != new.keys():
        return _public(old) == _public(new)
    for k in reversed(old):  # the event time, last, is what differs most often
        if old[k] != new[k] and k not in _OVERLAP_PRIVATE:
            return False
    return True


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _OVERLAP_PRIVATE}
