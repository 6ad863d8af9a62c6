"""Overlaps: tenant T and partner P both hold company K under an active partnership.

An overlap row exists for (T, P, K) when P shares at least one of the populations it holds
K in with T at COUNTS or better. It is *visible* to T (overlaps_current, outbound events)
only for the populations P shares at ACCOUNTS or FULL; COUNTS-only populations count
toward aggregate overlap counts and nothing else; HIDDEN counts nowhere. The partner's
account name is shown only when one of its visible populations is shared at FULL.
"""

from __future__ import annotations

from typing import Any

from .policy import Partnership, rank
from .tenants import TenantAtCompany

COUNTS, ACCOUNTS, FULL = rank("COUNTS"), rank("ACCOUNTS"), rank("FULL")


def pair_policies(
    tenants: dict[str, TenantAtCompany], partnerships: list[Partnership]
) -> dict[tuple[str, str], Partnership]:
    """(viewer T, partner P) -> the active partnership between them, both directions.

    If several active partnerships join the same two tenants, the one with the smallest id
    applies (deterministic, whatever order they arrived in).
    """
    pairs: dict[tuple[str, str], Partnership] = {}
    for p in sorted(partnerships, key=lambda p: p.partnership_id):
        if not p.active or p.tenant_a not in tenants or p.tenant_b not in tenants:
            continue
        for viewer, partner in ((p.tenant_a, p.tenant_b), (p.tenant_b, p.tenant_a)):
            pairs.setdefault((viewer, partner), p)
    return pairs


def shared_populations(
    partnership: Partnership, partner: TenantAtCompany, minimum: int
) -> list[str]:
    """The partner's populations at this company shared at ``minimum`` level or better."""
    return sorted(
        pop for pop in partner.populations
        if rank(partnership.level(partner.tenant_id, pop)) >= minimum
    )


def visibility(partnership: Partnership, partner: TenantAtCompany) -> tuple[list[str], bool]:
    """Populations the viewer may see (ACCOUNTS or better), and whether any is FULL.

    FULL shows details: the partner's account name and contacts.
    """
    visible = shared_populations(partnership, partner, ACCOUNTS)
    full = any(rank(partnership.level(partner.tenant_id, pop)) >= FULL for pop in visible)
    return visible, full


def overlap_rows(
    company_key: str,
    tenants: dict[str, TenantAtCompany],
    pairs: dict[tuple[str, str], Partnership],
) -> dict[str, dict[str, Any]]:
    """Result key -> overlap row for every (T, P) overlapping at ``company_key``."""
    rows: dict[str, dict[str, Any]] = {}
    for (viewer, partner_id), partnership in sorted(pairs.items()):
        tenant, partner = tenants[viewer], tenants[partner_id]
        counted = shared_populations(partnership, partner, COUNTS)
        if not counted or not tenant.populations:
            continue
        visible, full = visibility(partnership, partner)
        rows[f"overlap|{viewer}|{partner_id}|{company_key}"] = {
            "tenant_id": viewer,
            "partner_tenant_id": partner_id,
            "company_key": company_key,
            "partnership_id": partnership.partnership_id,
            "match_method": tenant.match_method,
            "tenant_populations": sorted(tenant.populations),
            "partner_populations": visible,
            "counted_partner_populations": counted,
            "visible": bool(visible),
            "partner_account_name": partner.name if full else None,
            "occurred_at": max(tenant.last_activity, partner.last_activity),
        }
    return rows
