"""The raw event log entry of one decoded inbound event (``crm_events``). Pure.

Sent by the ingest stage to the sink topic (and written by the replay path) so that every
decoded event lands in ClickHouse with its tenant, type, record, version, event time and
ingest time: the audit trail analysts rebuild past views from.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.epoch import epoch_millis

from .records import to_plain

KIND = "crm_event"


def event_log_entry(event_type: str, record: dict[str, Any], ingested_at_ms: int) -> dict:
    """The sink message for one decoded event (JSON data, like ``ResultChange.to_json``)."""
    plain = to_plain(record)
    occurred = record["occurred_at"]
    return {
        "kind": KIND,
        "row": {
            "tenant_id": plain["tenant_id"],
            "event_type": event_type,
            "source": plain.get("source") or "",
            "record_id": plain["record_id"],
            "record_version": plain["version"],
            "op": plain.get("op") or "",
            "event_id": plain["event_id"],
            "event_time": occurred if isinstance(occurred, int) else epoch_millis(occurred),
            "ingest_time": ingested_at_ms,
            "record": json.dumps(plain, sort_keys=True, separators=(",", ":")),
        },
    }
