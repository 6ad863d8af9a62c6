"""Sink messages to table rows. Pure: no ClickHouse, no Kafka.

A sink message is JSON data: a result change (``ResultChange.to_json``: kind overlap,
intro or attribution) or a raw event log entry (kind ``crm_event``). Each becomes one
row per table of its kind, values in the table's column order. Anything that does not fit
raises :class:`SinkDataError` (the message goes to the dead-letter topic).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.epoch import from_millis

from .exceptions import SinkDataError
from .tables import TABLES_OF_KIND, Table

_TIME_COLUMNS = {"occurred_at", "closed_at", "event_time", "ingest_time", "written_at"}
_DECIMAL_COLUMNS = {"amount", "attributed_amount"}
_DECIMAL_LIMIT = Decimal(10) ** 14  # Decimal(18, 4): 14 digits before the point
_UINT64 = 2**64


def table_rows(message: dict[str, Any], *, now: dt.datetime | None = None
               ) -> list[tuple[Table, list[Any]]]:
    """(table, values) for every row ``message`` writes."""
    try:
        kind = message["kind"]
        tables = TABLES_OF_KIND[kind]
        row = message["row"]
        if not isinstance(row, dict):
            raise TypeError("row is not an object")
        meta = {} if kind == "crm_event" else {
            "active": 1 if message["active"] else 0, "version": message["version"]}
        written = now or dt.datetime.now(dt.UTC)
        return [(t, [_value(t, name, row, meta, written) for name in t.column_names])
                for t in tables]
    except SinkDataError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation, OverflowError) as exc:
        raise SinkDataError(f"not a valid sink message ({type(exc).__name__}: {exc})") \
            from exc


def _value(table: Table, name: str, row: dict, meta: dict, written: dt.datetime) -> Any:
    if name in meta:
        value = meta[name]
    elif name == "written_at":
        return written
    elif name in row or name not in table.default_values:
        value = row[name]
    else:  # a message made before the column was added
        return table.default_values[name]
    if name in _TIME_COLUMNS:
        return from_millis(int(value))
    if name in _DECIMAL_COLUMNS:
        amount = Decimal(value)
        if not amount.is_finite() or abs(amount) >= _DECIMAL_LIMIT:
            raise SinkDataError(f"{table.name}.{name} = {value!r} does not fit Decimal(18, 4)")
        return amount
    if name in ("visible", "active"):
        return 1 if value else 0
    if name in ("version", "record_version"):
        if not isinstance(value, int) or not 0 <= value < _UINT64:
            raise SinkDataError(f"{table.name}.{name} = {value!r} is not a UInt64")
    return value
