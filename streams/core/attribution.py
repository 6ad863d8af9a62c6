"""Attribution: credit partners for closed-won revenue from their touches on the deal.

When an opportunity is closed won, the partner touches on that opportunity (or on its
account without a specific opportunity) whose ``occurred_at`` lies within the window
before the close are credited under four models, each its own row per partner:

- ``first_touch`` / ``last_touch``: all to the partner of the earliest / latest touch;
- ``linear``: an equal share per touch;
- ``time_decay``: each touch weighs 2^(-age/half-life), age measured back from the close.

A partner's credit is ``sourced`` when one of its credited touches came before the deal
was created, is a REFERRAL or DEAL_REGISTRATION, or carries the partner-sourced flag;
otherwise ``influenced``. Amounts are split exactly (4 decimal places; any rounding
remainder goes to the largest share). Reopening or re-closing as lost retracts the rows.
The close time is the end of ``close_date`` (UTC) when set, else the event time of the
change that closed the deal: event time throughout, never arrival time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from schemas.catalog import ATTRIBUTION_MODELS

SOURCING_TYPES = frozenset({"REFERRAL", "DEAL_REGISTRATION"})
DAY_MS = 86_400_000
_CENT = Decimal("0.0001")


@dataclass(frozen=True)
class AttributionConfig:
    """Attribution window and time-decay half-life, in days."""

    window_days: float = 180.0
    half_life_days: float = 30.0


def closed_at(opp: dict[str, Any]) -> int:
    """Event time of the close, epoch ms (end of close_date if set)."""
    if opp.get("close_date"):
        day = dt.date.fromisoformat(opp["close_date"])
        end = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        return int(end.timestamp() * 1000) - 1
    return opp["occurred_at"]


def _weights(model: str, touches: list[dict[str, Any]], close: int,
             half_life_days: float) -> list[float]:
    if model == "first_touch":
        return [1.0] + [0.0] * (len(touches) - 1)
    if model == "last_touch":
        return [0.0] * (len(touches) - 1) + [1.0]
    if model == "linear":
        return [1.0 / len(touches)] * len(touches)
    raw = [0.5 ** ((close - t["occurred_at"]) / DAY_MS / half_life_days) for t in touches]
    total = sum(raw)
    return [w / total for w in raw]


def _split(amount: Decimal, shares: dict[str, float]) -> dict[str, Decimal]:
    parts = {p: (amount * Decimal(repr(w))).quantize(_CENT, ROUND_HALF_EVEN)
             for p, w in shares.items()}
    remainder = amount.quantize(_CENT) - sum(parts.values(), Decimal(0))
    if remainder and parts:
        largest = max(sorted(parts), key=lambda p: shares[p])
        parts[largest] += remainder
    return parts


def deal_rows(
    company_key: str, tenant_id: str, account_id: str, opp: dict[str, Any],
    touches: Iterable[tuple[str, dict[str, Any]]], config: AttributionConfig,
) -> dict[str, dict[str, Any]]:
    """Result key -> attribution row of one closed-won deal, held on ``account_id``.

    ``touches``: (account_record_id, touch) of the tenant's touches at the company, in
    account order; those on the deal, or on its account without a deal, count. Passing
    only those (and maybe a few more) gives the same rows as passing them all.
    """
    close = closed_at(opp)
    window = config.window_days * DAY_MS
    credited = sorted(
        (t for acc, t in touches
         if (t["opportunity_record_id"] == opp["record_id"]
             or (t["opportunity_record_id"] is None and acc == account_id))
         and close - window <= t["occurred_at"] <= close),
        key=lambda t: (t["occurred_at"], t["record_id"]),
    )
    if not credited:
        return {}
    rows: dict[str, dict[str, Any]] = {}
    amount = Decimal(opp["amount"])
    for model in ATTRIBUTION_MODELS:
        weights = _weights(model, credited, close, config.half_life_days)
        shares: dict[str, float] = {}
        by_partner: dict[str, list[dict[str, Any]]] = {}
        for touch, w in zip(credited, weights, strict=True):
            if w > 0:
                p = touch["partner_tenant_id"]
                shares[p] = shares.get(p, 0.0) + w
                by_partner.setdefault(p, []).append(touch)
        for partner, part in _split(amount, shares).items():
            ts = by_partner[partner]
            sourced = any(
                t["touch_type"] in SOURCING_TYPES or t["partner_sourced"]
                or (opp.get("created_at") is not None and t["occurred_at"] < opp["created_at"])
                for t in ts
            )
            key = f"attribution|{tenant_id}|{opp['record_id']}|{partner}|{model}|{company_key}"
            rows[key] = {
                "tenant_id": tenant_id,
                "partner_tenant_id": partner,
                "opportunity_record_id": opp["record_id"],
                "company_key": company_key,
                "model": model,
                "credit": "sourced" if sourced else "influenced",
                "weight": round(shares[partner], 6),
                "attributed_amount": str(part),
                "currency": opp["currency"],
                "closed_at": close,
                "touch_record_ids": [t["record_id"] for t in ts],
                "occurred_at": max(opp["occurred_at"], max(t["occurred_at"] for t in ts)),
            }
    return rows
