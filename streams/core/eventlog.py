"""The raw event log entry of one decoded inbound event (``crm_events``). Pure.

Built by the sink from the inbound and control topics (and by the replay path) so that
every decoded event lands in ClickHouse with its tenant, type, record, version, event time and
ingest time: the audit trail analysts rebuild past views from.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import orjson

from schemas.epoch import epoch_millis

from .records import to_plain

KIND = "crm_event"


def event_log_entry(event_type: str, record: dict[str, Any], ingested_at_ms: int) -> dict:
    """The sink message for one decoded event (JSON data, like ``ResultChange.to_json``)."""
    occurred = record["occurred_at"]
    return {
        "kind": KIND,
        "row": {
            "tenant_id": to_plain(record["tenant_id"]),
            "event_type": event_type,
            "source": to_plain(record.get("source")) or "",
            "record_id": to_plain(record["record_id"]),
            "record_version": to_plain(record["version"]),
            "op": to_plain(record.get("op")) or "",
            "event_id": to_plain(record["event_id"]),
            "event_time": occurred if isinstance(occurred, int) else epoch_millis(occurred),
            "ingest_time": ingested_at_ms,
            "record": record_json(record),
        },
    }


_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def record_json(record: dict[str, Any]) -> str:
    """``json.dumps(to_plain(record), sort_keys=True, separators=(",", ":"))``, faster.

    orjson writes it, ``to_plain`` converting what orjson leaves to it; it writes the
    same bytes for strings, integers, booleans, nulls, lists and objects (with string
    keys) and what ``to_plain`` turns into those, but not for floats (another notation),
    characters outside ASCII and DEL (``json`` escapes them). A record with any other
    value, a float or such a character, or one orjson cannot write, is written by
    ``json``.
    """
    if _same_in_orjson(record.values()):
        try:
            text = orjson.dumps(record, default=to_plain, option=_JSON_OPTIONS)
        except TypeError:
            pass
        else:
            if text.isascii() and b"\x7f" not in text:
                return text.decode()
    return json.dumps(to_plain(record), sort_keys=True, separators=(",", ":"))


_PLAIN_TYPES = frozenset({str, int, bool, type(None), Decimal, dt.datetime, dt.date})


def _same_in_orjson(values) -> bool:
    """Whether orjson writes ``values`` as ``json`` does (:func:`record_json`)."""
    for value in values:
        kind = type(value)
        if kind not in _PLAIN_TYPES and not (
                (kind is list or kind is tuple) and _same_in_orjson(value)
                or kind is dict and _same_in_orjson(value.values())):
            return False
    return True
