"""Versioned record state: per (tenant, record) the highest version wins.

A lower or equal version is a no-op; a DELETE leaves a tombstone that remembers its
version, so an older UPSERT arriving later cannot bring the record back. Any order or
duplication of the same events therefore gives the same final state.

Stored values are JSON-friendly (they live in Faust tables): timestamps as epoch
milliseconds, dates as ISO strings, amounts as decimal strings. Only the fields the core
reads are kept (:data:`KEPT_FIELDS`, when the caller names the record's type): the rest of
a CRM record (event id, source, free text the results never show) is not stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from schemas.epoch import epoch_millis

#: Per inbound event type, the fields of a record the core reads after applying it: the
#: account's company key and snapshot, a touch's or contact's target key, and the deal and
#: touch fields a snapshot carries (in the snapshot's order).
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("tenant_id", "name", "relationship", "domain", "website", "country"),
    "opportunity": ("record_id", "name", "stage", "is_closed", "is_won", "amount",
                    "currency", "close_date", "created_at", "occurred_at"),
    "contact": ("tenant_id", "record_id", "account_record_id"),
    "partner_touch": ("record_id", "opportunity_record_id", "partner_tenant_id",
                      "touch_type", "partner_sourced", "occurred_at", "tenant_id",
                      "account_record_id"),
}

#: What an account's snapshot shows of a partner touch: the first of its kept fields (the
#: rest say where it counts, which the account holding it knows).
SHOWN_TOUCH_FIELDS = KEPT_FIELDS["partner_touch"][:6]


def shown_touch_data(data: dict[str, Any]) -> dict[str, Any]:
    """A touch's data cut to :data:`SHOWN_TOUCH_FIELDS` (itself if it holds no more)."""
    if len(data) == len(SHOWN_TOUCH_FIELDS):
        return data
    return {k: data.get(k) for k in SHOWN_TOUCH_FIELDS}


def shown_touch(entry: dict[str, Any]) -> dict[str, Any]:
    """A touch's entry as the account it counts for keeps it: :data:`SHOWN_TOUCH_FIELDS`.

    Trimmed once where the account stores it, so each of the account's snapshots lists
    the stored data rather than a copy of it.
    """
    data = entry["d"]
    if data is None or len(data) == len(SHOWN_TOUCH_FIELDS):
        return entry
    return {"v": entry["v"], "t": entry["t"], "d": shown_touch_data(data)}


_ATOMS = frozenset({str, int, bool, float, type(None)})


def to_plain(value: Any) -> Any:
    """A decoded Avro value as JSON-friendly data (see module doc)."""
    if type(value) in _ATOMS:  # most fields: nothing to convert
        return value
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return epoch_millis(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def apply_versioned(
    bucket: dict[str, Any], record: dict[str, Any], fields: tuple[str, ...] | None = None
) -> bool:
    """Apply one decoded event to ``bucket`` (record id -> entry); True if it changed.

    An entry is ``{"v": version, "t": occurred_at_ms, "d": data or None}``; ``d`` is None
    for a deleted record (a tombstone). ``d`` holds ``fields`` of the record (a missing
    one as None), or all of it when ``fields`` is None.
    """
    record_id = record["record_id"]
    current = bucket.get(record_id)
    if current is not None and current["v"] >= record["version"]:
        return False
    occurred = _occurred_millis(record)
    if record["op"] == "DELETE":
        data = None
    elif fields is None:
        data = to_plain(record)
    else:
        get = record.get
        data = {}
        for k in fields:
            value = get(k)
            if type(value) not in _ATOMS:
                value = occurred if k == "occurred_at" else to_plain(value)
            data[k] = value
    bucket[record_id] = {"v": record["version"], "t": occurred, "d": data}
    return True


def apply_entry(bucket: dict[str, Any], record_id: str, entry: dict[str, Any]) -> bool:
    """Put an entry made elsewhere (see :func:`apply_versioned`) into ``bucket`` if newer.

    True if it changed the bucket: a lower or equal version is a no-op.
    """
    current = bucket.get(record_id)
    if current is not None and current["v"] >= entry["v"]:
        return False
    bucket[record_id] = entry
    return True


def same_version(entry: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    """True if ``entry`` was made by an event of the same version and time as ``record``."""
    if entry is None:
        return False
    return entry["v"] == record["version"] and entry["t"] == _occurred_millis(record)


def _occurred_millis(record: dict[str, Any]) -> int:
    """A record's event time as epoch milliseconds (decoded datetime or already millis)."""
    occurred = record["occurred_at"]
    return epoch_millis(occurred) if isinstance(occurred, dt.datetime) else occurred


def live(bucket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Record id -> data of the records in ``bucket`` that are not deleted."""
    return {rid: e["d"] for rid, e in bucket.items() if e["d"] is not None}


def live_entries(bucket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Record id -> whole entry of the records in ``bucket`` that are not deleted."""
    return {rid: e for rid, e in bucket.items() if e["d"] is not None}
