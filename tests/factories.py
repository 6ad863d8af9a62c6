"""Builders of valid decoded events (the form the codec returns) for core tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import count
from typing import Any

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
_ids = count(1)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def _envelope(tenant: str, record_id: str, version: int, day: float, op: str) -> dict[str, Any]:
    return {"event_id": f"ev-{next(_ids)}", "tenant_id": tenant, "source": "test",
            "record_id": record_id, "version": version, "occurred_at": at(day), "op": op}


def account(tenant, rid, *, version=1, day=0, op="UPSERT", name="Initrode Ltd",
            website=None, domain=None, country=None, relationship="CUSTOMER"):
    return "account", {**_envelope(tenant, rid, version, day, op), "name": name,
                       "website": website, "domain": domain, "country": country,
                       "relationship": relationship, "industry": None}


def opportunity(tenant, rid, account_id, *, version=1, day=0, op="UPSERT", stage="Discovery",
                closed=False, won=False, amount="10000", currency="USD", close_date=None,
                created_day=None):
    return "opportunity", {
        **_envelope(tenant, rid, version, day, op), "account_record_id": account_id,
        "name": f"Deal {rid}", "stage": stage, "is_closed": closed, "is_won": won,
        "amount": Decimal(amount), "currency": currency, "close_date": close_date,
        "created_at": None if created_day is None else at(created_day)}


def contact(tenant, rid, account_id, *, version=1, day=0, op="UPSERT"):
    return "contact", {**_envelope(tenant, rid, version, day, op),
                       "account_record_id": account_id, "email_sha256": "ab" * 32,
                       "email_domain": None, "title": "CTO"}


def touch(tenant, rid, partner, *, account_id=None, opp_id=None, version=1, day=0,
          op="UPSERT", touch_type="INTRO", sourced_flag=False):
    return "partner_touch", {**_envelope(tenant, rid, version, day, op),
                             "opportunity_record_id": opp_id, "account_record_id": account_id,
                             "partner_tenant_id": partner, "touch_type": touch_type,
                             "partner_sourced": sourced_flag, "campaign": None}


def partnership(pid, a, b, rules, *, version=1, day=0, status="ACTIVE", op="UPSERT"):
    """``rules``: {(from_tenant, population): level}."""
    return "partnership", {
        **_envelope(a, pid, version, day, op), "partnership_id": pid, "tenant_a": a,
        "tenant_b": b, "status": status,
        "sharing": [{"from_tenant": f, "population": p, "level": lvl}
                    for (f, p), lvl in rules.items()]}


def tenant_settings(tenant, ignored_domains=(), *, version=1, day=0, op="UPSERT"):
    """A tenant's settings: the domains that must never key a company for its accounts."""
    return "tenant_settings", {**_envelope(tenant, tenant, version, day, op),
                               "ignored_domains": list(ignored_domains)}
