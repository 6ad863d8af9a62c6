"""Sink messages to table columns, for bulk inserts (the replay path). Pure.

The rows :func:`sinks.rows.table_rows` gives, built a column at a time: the conversion of
a column is chosen once from its ClickHouse type, not per value, and ``DateTime64(3)``
columns go to the driver as epoch milliseconds, which it writes as they are (the ticks of
that precision) instead of turning each into a datetime and back. Anything that does not
fit raises :class:`SinkDataError`, as ``table_rows`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from .exceptions import SinkDataError
from .tables import TABLES_OF_KIND, Table

_DECIMAL_LIMIT = Decimal(10) ** 14  # Decimal(18, 4): 14 digits before the point
_UINT64 = 2**64
#: Epoch milliseconds of 0001-01-01 and 9999-12-31 23:59:59.999, the datetimes Python has.
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_799_999

Columns = list[list[Any]]


def table_columns(messages: Sequence[dict[str, Any]], *, written_ms: int
                  ) -> list[tuple[Table, Columns]]:
    """(table, columns in its column order) for every table ``messages`` write rows into.

    :param written_ms: the ``written_at`` of result rows, in epoch milliseconds.
    """
    by_kind: dict[str, list[dict[str, Any]]] = {}
    try:
        for message in messages:
            kind = message["kind"]
            if kind not in TABLES_OF_KIND:
                raise KeyError(kind)
            if not isinstance(message["row"], dict):
                raise TypeError("row is not an object")
            by_kind.setdefault(kind, []).append(message)
        return [(table, [_column(table, name, kind_type, group, written_ms)
                         for name, kind_type in table.columns])
                for kind, group in by_kind.items() for table in TABLES_OF_KIND[kind]]
    except SinkDataError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation, OverflowError) as exc:
        raise SinkDataError(f"not a valid sink message ({type(exc).__name__}: {exc})") \
            from exc


def _column(table: Table, name: str, ch_type: str, messages: list[dict[str, Any]],
            written_ms: int) -> list[Any]:
    result = messages[0]["kind"] != "crm_event"
    if name == "written_at":
        return [written_ms] * len(messages)
    if result and name == "active":
        return [1 if m["active"] else 0 for m in messages]
    if name in table.default_values:  # messages made before the column was added lack it
        default = table.default_values[name]
        values = [m["row"].get(name, default) for m in messages]
    elif result and name == "version":
        values = [m["version"] for m in messages]
    else:
        values = [m["row"][name] for m in messages]
    if ch_type.startswith("DateTime64(3"):
        millis = [int(v) for v in values]
        if millis and not _MIN_MS <= min(millis) <= max(millis) <= _MAX_MS:
            raise SinkDataError(f"{table.name}.{name}: a time outside the years 1-9999")
        return millis
    if ch_type.startswith("Decimal(18, 4)"):
        return [_decimal(table, name, v) for v in values]
    if ch_type == "UInt8":
        return [1 if v else 0 for v in values]
    if ch_type == "UInt64":
        for v in values:
            if not isinstance(v, int) or not 0 <= v < _UINT64:
                raise SinkDataError(f"{table.name}.{name} = {v!r} is not a UInt64")
    return values


def _decimal(table: Table, name: str, value: Any) -> Decimal:
    amount = Decimal(value)
    if not amount.is_finite() or abs(amount) >= _DECIMAL_LIMIT:
        raise SinkDataError(f"{table.name}.{name} = {value!r} does not fit Decimal(18, 4)")
    return amount
