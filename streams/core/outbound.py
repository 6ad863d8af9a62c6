"""Outbound events (overlap, intro, attribution) from result changes. Pure.

Event ids are derived from the result key and version, so a re-sent event (at-least-once
delivery) carries the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from schemas.epoch import from_millis

from .companies import ResultChange

_NAMESPACE = uuid.UUID("5b0c1e8e-7f0a-4c55-9a52-6f3c0e6f7a10")


def event_id(change: ResultChange) -> str:
    """Deterministic id of the event announcing ``change``."""
    return str(uuid.uuid5(_NAMESPACE, f"{change.key}#{change.version}"))


def outbound_event(change: ResultChange) -> tuple[str, dict[str, Any]] | None:
    """(event type, Avro record) announcing ``change``, or None if it is not announced."""
    if change.change is None:
        return None
    row, common = change.row, {"event_id": event_id(change), "version": change.version,
                               "occurred_at": from_millis(change.row["occurred_at"])}
    if change.kind == "overlap":
        visible = row["visible"] and change.active
        return "overlap", {
            **common,
            "tenant_id": row["tenant_id"],
            "partner_tenant_id": row["partner_tenant_id"],
            "partnership_id": row["partnership_id"],
            "company_key": row["company_key"],
            "match_method": row["match_method"],
            "change": change.change,
            "tenant_populations": row["tenant_populations"],
            "partner_populations": row["partner_populations"] if visible else [],
            "partner_account_name": row["partner_account_name"] if visible else None,
        }
    if change.kind == "intro":
        return "intro", {
            **common,
            **{k: row[k] for k in ("tenant_id", "partner_tenant_id", "partnership_id",
                                   "company_key", "opportunity_record_id",
                                   "account_record_id", "score", "reasons",
                                   "partner_populations", "stage", "currency")},
            "amount": Decimal(row["amount"]),
            "change": change.change,
        }
    return "attribution", {
        **common,
        **{k: row[k] for k in ("tenant_id", "partner_tenant_id", "opportunity_record_id",
                               "company_key", "model", "credit", "weight", "currency",
                               "touch_record_ids")},
        "attributed_amount": Decimal(row["attributed_amount"]),
        "closed_at": from_millis(row["closed_at"]),
        "change": change.change,
    }
