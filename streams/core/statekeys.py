"""State keys of the by-account stage: one per (tenant, account), one per (tenant, deal).

An account key is ``tenant + US + account_record_id``; an opportunity key is
``tenant + US + "opportunity" + US + opportunity_record_id``. Record ids never contain the
separator, so the two kinds cannot collide (an account key holds one separator, an
opportunity key two).
"""

from __future__ import annotations

KEY_SEPARATOR = "\x1f"  # ASCII unit separator: never part of a tenant or record id
OPPORTUNITY_MARK = "opportunity"


def account_key(tenant_id: str, account_record_id: str) -> str:
    """State key of one tenant's account."""
    return f"{tenant_id}{KEY_SEPARATOR}{account_record_id}"


def opportunity_key(tenant_id: str, opportunity_record_id: str) -> str:
    """State key of one tenant's opportunity: its touches and which account holds it."""
    return f"{tenant_id}{KEY_SEPARATOR}{OPPORTUNITY_MARK}{KEY_SEPARATOR}{opportunity_record_id}"
