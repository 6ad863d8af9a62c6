"""Outbound events (overlap, intro, attribution) from result changes. Pure.

Event ids are derived from the result key and version, so a re-sent event (at-least-once
delivery) carries the same id and consumers can drop the duplicate.

An intro or attribution event carries its whole result row (every column of
``intro_state``, ``intro_events`` and ``attribution_state``, its version, and whether the
result is active: it ended exactly when the change is WITHDRAWN or RETRACTED), so the sink
builds those rows from the outbound topics (:func:`result_message`) and the worker does not
write them a second time to the sink topic. An overlap event does not: it leaves out
``visible`` and ``counted_partner_populations``, blanks what a partner does not share, and
is not sent at all for an overlap visible to nobody; overlap rows stay on the sink topic.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from schemas.epoch import epoch_millis, from_millis

from .companies import ResultChange

_NAMESPACE = uuid.UUID("5b0c1e8e-7f0a-4c55-9a52-6f3c0e6f7a10")
_INTRO_FIELDS = ("tenant_id", "partner_tenant_id", "partnership_id", "company_key",
                 "opportunity_record_id", "account_record_id", "score", "reasons",
                 "partner_populations", "stage", "currency")
_ATTRIBUTION_FIELDS = ("tenant_id", "partner_tenant_id", "opportunity_record_id",
                       "company_key", "model", "credit", "weight", "currency",
                       "touch_record_ids")
#: The change word of a result that ended (its row is written inactive).
_ENDED = {"intro": "WITHDRAWN", "attribution": "RETRACTED"}
#: Result kinds whose outbound event carries the whole row: see the module doc.
ROW_CARRYING_KINDS = frozenset(_ENDED)


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
            # rows derived before overlap rows carried match evidence have none
            "match_evidence": row.get("match_evidence") or "",
            "partner_match_method": row.get("partner_match_method") if visible else None,
            "partner_match_evidence": row.get("partner_match_evidence") if visible else None,
        }
    if change.kind == "intro":
        return "intro", {
            **common,
            **{k: row[k] for k in _INTRO_FIELDS},
            "amount": Decimal(row["amount"]),
            "change": change.change,
        }
    return "attribution", {
        **common,
        **{k: row[k] for k in _ATTRIBUTION_FIELDS},
        "attributed_amount": Decimal(row["attributed_amount"]),
        "closed_at": from_millis(row["closed_at"]),
        "change": change.change,
    }


def result_message(event_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """The sink message of a decoded intro or attribution event.

    ``ResultChange.to_json`` data without the key: the inverse of :func:`outbound_event`
    for those kinds. Raises KeyError or TypeError when ``record`` is not such an event.
    """
    if event_type == "intro":
        row = {k: record[k] for k in _INTRO_FIELDS}
        row["amount"] = str(record["amount"])
    elif event_type == "attribution":
        row = {k: record[k] for k in _ATTRIBUTION_FIELDS}
        row["attributed_amount"] = str(record["attributed_amount"])
        row["closed_at"] = epoch_millis(record["closed_at"])
    else:
        raise KeyError(f"a {event_type} event does not carry its result row")
    row["occurred_at"] = epoch_millis(record["occurred_at"])
    return {"kind": event_type, "version": record["version"],
            "active": record["change"] != _ENDED[event_type], "row": row,
            "change": record["change"]}
