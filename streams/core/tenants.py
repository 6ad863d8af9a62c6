"""What one tenant holds at one company: populations, deals, contacts, activity.

Built from the tenant's account snapshots at that company (a tenant may hold a company
under several CRM accounts; they are merged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .companykey import METHOD_DOMAIN, METHOD_NAME_COUNTRY, METHOD_WEBSITE
from .policy import CUSTOMER, FORMER_CUSTOMER, OPEN_OPPORTUNITY, PROSPECT

_RELATIONSHIP_POPULATION = {
    "CUSTOMER": CUSTOMER, "PROSPECT": PROSPECT, "FORMER_CUSTOMER": FORMER_CUSTOMER,
}
_METHOD_ORDER = (METHOD_DOMAIN, METHOD_WEBSITE, METHOD_NAME_COUNTRY)


@dataclass
class TenantAtCompany:
    """One tenant's merged view of one company."""

    tenant_id: str
    populations: set[str] = field(default_factory=set)
    account_names: list[str] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    #: (account_record_id, opportunity) for every live opportunity
    opportunities: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: (account_record_id, touch) for every live partner touch
    touches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    contacts: int = 0
    last_activity: int = 0

    @property
    def name(self) -> str:
        """The account name shown for this tenant (first by account id)."""
        return self.account_names[0] if self.account_names else ""

    @property
    def match_method(self) -> str:
        """The strongest method by which any of the tenant's accounts matched."""
        return next(m for m in _METHOD_ORDER if m in self.methods)


def tenants_at(accounts: dict[str, dict[str, Any]]) -> dict[str, TenantAtCompany]:
    """Merge account snapshots (account key -> snapshot) into per-tenant views."""
    tenants: dict[str, TenantAtCompany] = {}
    for _, snap in sorted(accounts.items()):
        t = tenants.setdefault(snap["tenant_id"], TenantAtCompany(snap["tenant_id"]))
        population = _RELATIONSHIP_POPULATION.get(snap["relationship"])
        if population:
            t.populations.add(population)
        t.account_names.append(snap["name"])
        t.methods.add(snap["match_method"])
        for opp in snap["opportunities"]:
            t.opportunities.append((snap["account_record_id"], opp))
            if not opp["is_closed"]:
                t.populations.add(OPEN_OPPORTUNITY)
        t.touches.extend((snap["account_record_id"], touch) for touch in snap["touches"])
        t.contacts += snap["contacts"]
        t.last_activity = max(t.last_activity, snap["last_activity"])
    return tenants
