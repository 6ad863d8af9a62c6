"""The company stage as a full recompute: the oracle the incremental stage is checked against.

Every input merges all the company's accounts again, derives every overlap, intro and
attribution from scratch and diffs them all with the stored results (what the stage did
before it became incremental). Slow on big companies, plainly right; tests only. The row
formulas are the package's own (``overlap_row``, ``intro_row``, ``deal_rows``): what is
checked is which results the incremental stage derives again, and the versions.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from streams.core.accounts import SnapshotMessage
from streams.core.attribution import AttributionConfig, deal_rows
from streams.core.companies import ResultChange, diff_results
from streams.core.intros import intro_row
from streams.core.overlaps import overlap_row, visibility
from streams.core.partnerships import pair_policies, partnerships_key
from streams.core.policy import OPEN_OPPORTUNITY
from streams.core.records import apply_versioned
from streams.core.tenants import _RELATIONSHIP_POPULATION, TenantAtCompany


def tenants_at(accounts: dict[str, dict[str, Any]]):
    """Merge account snapshots into per-tenant views, their deals and their touches."""
    tenants: dict[str, TenantAtCompany] = {}
    opps: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    touches: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for _, snap in sorted(accounts.items()):
        tid = snap["tenant_id"]
        t = tenants.setdefault(tid, TenantAtCompany(tid))
        population = _RELATIONSHIP_POPULATION.get(snap["relationship"])
        if population:
            t.populations.add(population)
        t.account_names.append(snap["name"])
        t.methods.add(snap["match_method"])
        for opp in snap["opportunities"]:
            opps.setdefault(tid, []).append((snap["account_record_id"], opp))
            if not opp["is_closed"]:
                t.populations.add(OPEN_OPPORTUNITY)
        touches.setdefault(tid, []).extend(
            (snap["account_record_id"], touch) for touch in snap["touches"])
        t.contacts += snap["contacts"]
        t.last_activity = max(t.last_activity, snap["last_activity"])
    for tid, t in tenants.items():  # the first account (by key) matched the tenant's way
        t.match_evidence = next(
            (snap.get("match_evidence") or "" for _, snap in sorted(accounts.items())
             if snap["tenant_id"] == tid and snap["match_method"] == t.match_method), "")
    return tenants, opps, touches


class ReferenceCompanyStage:
    """Same interface and results as :class:`streams.core.companies.CompanyStage`."""

    def __init__(self, attribution: AttributionConfig | None = None):
        self.attribution = attribution or AttributionConfig()

    def apply_snapshot(self, state: MutableMapping[str, Any], partition: int,
                       msg: SnapshotMessage) -> list[ResultChange]:
        company = state.get(msg.company_key) or {
            "accounts": {}, "seqs": {}, "results": {}, "version": 0, "partition": partition,
        }
        if company["seqs"].get(msg.account_key, 0) >= msg.seq:
            return []
        company["seqs"][msg.account_key] = msg.seq
        if msg.snapshot is None:
            company["accounts"].pop(msg.account_key, None)
        else:
            company["accounts"][msg.account_key] = msg.snapshot
        company["partition"] = partition
        bucket = state.get(partnerships_key(partition)) or {}
        changes = self._recompute(msg.company_key, company, pair_policies(bucket))
        state[msg.company_key] = company
        return changes

    def apply_partnership(self, state: MutableMapping[str, Any], partition: int,
                          record: dict[str, Any]) -> list[ResultChange]:
        key = partnerships_key(partition)
        bucket = dict(state.get(key) or {})
        if not apply_versioned(bucket, record):
            return []
        state[key] = bucket
        pairs = pair_policies(bucket)
        changes: list[ResultChange] = []
        for company_key, company in list(state.items()):
            if company_key.startswith("~") or company.get("partition") != partition:
                continue
            found = self._recompute(company_key, company, pairs)
            if found:
                state[company_key] = company
                changes.extend(found)
        return changes

    def _recompute(self, company_key: str, company: dict[str, Any], all_pairs):
        tenants, opps, touches = tenants_at(company["accounts"])
        pairs = {k: p for k, p in all_pairs.items() if k[0] in tenants and k[1] in tenants}
        fresh: dict[str, tuple[str, dict[str, Any]]] = {}
        for (viewer, partner), policy in sorted(pairs.items()):
            row = overlap_row(company_key, tenants[viewer], tenants[partner], policy)
            if row is not None:
                fresh[f"overlap|{viewer}|{partner}|{company_key}"] = ("overlap", row)
        for (viewer, partner), policy in sorted(pairs.items()):
            visible, full = visibility(policy, tenants[partner])
            if not visible:
                continue
            for account_id, opp in opps.get(viewer, []):
                if not opp["is_closed"]:
                    fresh[f"intro|{viewer}|{partner}|{opp['record_id']}|{company_key}"] = (
                        "intro", intro_row(company_key, viewer, tenants[partner], policy,
                                           account_id, opp, visible, full))
        for tenant_id in sorted(tenants):
            for account_id, opp in opps.get(tenant_id, []):
                if opp["is_closed"] and opp["is_won"]:
                    rows = deal_rows(company_key, tenant_id, account_id, opp,
                                     touches.get(tenant_id, []), self.attribution)
                    fresh.update((k, ("attribution", row)) for k, row in rows.items())
        return diff_results(company, fresh, company["results"])
