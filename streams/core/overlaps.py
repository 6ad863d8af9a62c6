"""Overlaps: tenant T and partner P both hold company K under an active partnership.

An overlap row exists for (T, P, K) when P shares at least one of the populations it holds
K in with T at COUNTS or better. It is *visible* to T (overlaps_current, outbound events)
only for the populations P shares at ACCOUNTS or FULL; COUNTS-only populations count
toward aggregate overlap counts and nothing else; HIDDEN counts nowhere. The partner's
account name, match method and match evidence are shown only when one of its visible
populations is shared at FULL; the tenant's own match method and evidence always.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .policy import Partnership
from .tenants import TenantAtCompany


def visibility(partnership: Partnership, partner: TenantAtCompany) -> tuple[list[str], bool]:
    """Populations the viewer may see (ACCOUNTS or better), and whether any is FULL.

    FULL shows details: the partner's account name and contacts.
    """
    _, visible, full = partnership.shares(partner.tenant_id, frozenset(partner.populations))
    return list(visible), full


def overlap_row(
    company_key: str, tenant: TenantAtCompany, partner: TenantAtCompany,
    partnership: Partnership,
) -> dict[str, Any] | None:
    """The overlap row of (``tenant``, ``partner``) at ``company_key``; None if none."""
    if not tenant.populations:
        return None
    counted, visible, full = partnership.shares(partner.tenant_id,
                                                frozenset(partner.populations))
    if not counted:
        return None
    # The lists are shared (the policy's cached ones, one sorted list per set of
    # populations): they are many, and nothing changes a row.
    return {
        "tenant_id": tenant.tenant_id,
        "partner_tenant_id": partner.tenant_id,
        "company_key": company_key,
        "partnership_id": partnership.partnership_id,
        "match_method": tenant.match_method,
        "match_evidence": tenant.match_evidence,
        "tenant_populations": _sorted(frozenset(tenant.populations)),
        "partner_populations": visible,
        "counted_partner_populations": counted,
        "visible": bool(visible),
        "partner_account_name": partner.name if full else None,
        "partner_match_method": partner.match_method if full else None,
        "partner_match_evidence": partner.match_evidence if full else None,
        "occurred_at": max(tenant.last_activity, partner.last_activity),
    }


@lru_cache(maxsize=64)  # a handful of population sets exist
def _sorted(populations: frozenset[str]) -> list[str]:
    return sorted(populations)
