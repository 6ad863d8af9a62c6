"""The JSON Lines form of events: one JSON object per line, ``"type"`` plus the fields.

Timestamps are ISO-8601 strings with a UTC offset (``2026-11-02T10:00:00Z``) or integer
epoch milliseconds; dates are ``YYYY-MM-DD``; amounts are JSON numbers (or numeric
strings), read exactly as decimals. Unknown fields and missing required fields are
rejected with the line number and the field named. A ``DELETE`` event needs only the
envelope fields (event_id, tenant_id, source, record_id, version, occurred_at, op) plus
the ids the pipeline routes it by (see :data:`schemas.validation.DELETE_ROUTING_IDS`); the
rest of its fields are filled with neutral values, which the validator does not check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import orjson

from .catalog import ENVELOPE_FIELDS, Catalog, SchemaVersion, default_catalog
from .exceptions import CodecError, TextFormatError
from .record_compiler import Fallback, compiled

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


def parse_line(
    line: str, *, lineno: int | None = None, catalog: Catalog | None = None
) -> tuple[str, dict[str, Any]]:
    """Parse one JSON Lines event into ``(event_type, record)`` ready for the codec."""
    catalog = catalog or default_catalog()
    try:
        obj = json.loads(line, parse_float=Decimal)
    except ValueError as exc:
        raise TextFormatError(
            f"not valid JSON: {exc.msg} (column {exc.colno})", line=lineno
        ) from None
    except RecursionError:
        raise TextFormatError("not an event: JSON nested too deeply", line=lineno) from None
    if not isinstance(obj, dict):
        raise TextFormatError("expected a JSON object", line=lineno)
    event_type = obj.pop("type", None)
    if not isinstance(event_type, str):
        raise TextFormatError(
            'missing "type" (one of ' + ", ".join(catalog.event_types) + ")",
            line=lineno,
            field="type",
        )
    try:
        schema = catalog.current(event_type)
    except CodecError as exc:
        raise TextFormatError(str(exc), line=lineno, field="type") from None
    return event_type, record_from_json(schema, obj, lineno=lineno)


def parse_plain_line(raw: bytes, *, catalog: Catalog | None = None
                     ) -> tuple[str, dict[str, Any]] | None:
    """:func:`parse_line` of a line of UTF-8 bytes, faster; None where it cannot be sure.

    orjson reads the line. A line it reads as an object with a known ``"type"``, no float
    anywhere (orjson reads every number with a fraction or an exponent as a float, where
    an amount needs the exact decimal ``parse_float=Decimal`` gives) and values the
    schema's compiled converter takes gives what :func:`parse_line` gives. For every
    other line (not UTF-8, with a byte order mark, not JSON to orjson, a float, a
    ``DELETE``, a value the converter leaves to the walker) it returns None: the caller
    parses it with :func:`parse_line`, which also explains what is wrong with it.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not _floatless(obj.values()):
        return None
    event_type = obj.pop("type", None)
    if type(event_type) is not str or obj.get("op") == "DELETE":
        return None
    try:
        schema = (catalog or default_catalog()).current(event_type)
        return event_type, _compiled(schema)(obj)
    except (CodecError, Fallback):
        return None


def _floatless(values: Iterable[Any]) -> bool:
    for value in values:
        kind = type(value)
        if kind is float or (kind is list and not _floatless(value)) \
                or (kind is dict and not _floatless(value.values())):
            return False
    return True


def record_from_json(
    schema: SchemaVersion, obj: dict[str, Any], *, lineno: int | None = None
) -> dict[str, Any]:
    """Convert a JSON object's values to the Python types the Avro schema needs.

    Rows that fit go through the schema's compiled converter
    (:mod:`schemas.record_compiler`); the others, and DELETEs (whose missing fields get
    neutral values), are walked beside the schema, which names what does not fit.
    """
    deleting = obj.get("op") == "DELETE" and all(k in obj for k in ENVELOPE_FIELDS)
    if not deleting:
        try:
            return _compiled(schema)(obj)
        except Fallback:
            pass
    return _Converter(schema.named, lineno).record(schema.parsed, obj, "", fill_missing=deleting)


#: Compiled converters by schema (the schema is kept with its converter, so its id stays).
_COMPILED: dict[int, tuple[SchemaVersion, Callable[[Any], dict[str, Any]]]] = {}


def _compiled(schema: SchemaVersion) -> Callable[[Any], dict[str, Any]]:
    found = _COMPILED.get(id(schema))
    if found is None:
        checks = {"timestamp": lambda value, _avro, bad: _timestamp(value, bad),
                  "date": _date, "decimal": _decimal}
        found = _COMPILED[id(schema)] = (schema, compiled(schema.parsed, schema.named, checks))
    return found[1]


class _Converter:
    """Walks an Avro schema beside a JSON value, converting and checking as it goes."""

    def __init__(self, named: Mapping[str, Any], lineno: int | None):
        self.named = named
        self.lineno = lineno

    def error(self, message: str, path: str | None) -> TextFormatError:
        return TextFormatError(message, line=self.lineno, field=path or None)

    def record(self, avro: dict, obj: Any, path: str, *, fill_missing: bool = False) -> dict:
        if not isinstance(obj, dict):
            raise self.error(f"expected an object, got {_kind(obj)}", path.rstrip("."))
        fields = {f["name"]: f for f in avro["fields"]}
        unknown = sorted(set(obj) - set(fields))
        if unknown:
            name = f"{path}{unknown[0]}"
            raise self.error(f"unknown field {name!r}", name)
        out: dict[str, Any] = {}
        for name, f in fields.items():
            where = f"{path}{name}"
            if name in obj:
                out[name] = self.value(f["type"], obj[name], where)
            elif "default" in f:
                out[name] = self.value(f["type"], f["default"], where)
            elif fill_missing:
                out[name] = _neutral(self.resolve(f["type"]), self.resolve)
            else:
                raise self.error(f"missing required field {where!r}", where)
        return out

    def resolve(self, avro: Any) -> Any:
        if isinstance(avro, str):
            return self.named.get(avro, {"type": avro})
        return avro

    def value(self, avro: Any, value: Any, path: str) -> Any:
        def bad(expected: str) -> TextFormatError:
            return self.error(f"field {path!r}: expected {expected}, got {_kind(value)}", path)

        if isinstance(avro, list):  # union: our unions are [null, X]
            if value is None and "null" in avro:
                return None
            branches = [b for b in avro if b != "null"]
            if len(branches) == 1:
                return self.value(branches[0], value, path)
            raise bad("one of " + ", ".join(map(str, avro)))
        avro = self.resolve(avro)
        kind, logical = avro["type"], avro.get("logicalType")
        if logical == "timestamp-millis":
            return _timestamp(value, bad)
        if logical == "date":
            return _date(value, avro, bad)
        if logical == "decimal":
            return _decimal(value, avro, bad)
        if kind == "string":
            if not isinstance(value, str):
                raise bad("a string")
            return value
        if kind in ("int", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("an integer")
            limit = 2**31 if kind == "int" else 2**63
            if not -limit <= value < limit:
                raise bad(f"an integer that fits an Avro {kind}")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise bad("true or false")
            return value
        if kind in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise bad("a number")
            return float(value)
        if kind == "enum":
            if value not in avro["symbols"]:
                raise bad("one of " + ", ".join(avro["symbols"]))
            return value
        if kind == "array":
            if not isinstance(value, list):
                raise bad("an array")
            return [self.value(avro["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
        if kind == "record":
            return self.record(avro, value, f"{path}.")
        if kind == "null":
            if value is not None:
                raise bad("null")
            return None
        raise bad(f"a value of Avro type {kind}")


def _timestamp(value: Any, bad) -> dt.datetime:
    if isinstance(value, bool):
        raise bad("an ISO-8601 timestamp with offset or epoch milliseconds")
    if isinstance(value, int):
        try:
            return _EPOCH + dt.timedelta(milliseconds=value)
        except OverflowError:
            raise bad("epoch milliseconds within years 1-9999") from None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise bad("an ISO-8601 timestamp with offset or epoch milliseconds") from None
        if parsed.tzinfo is None:
            raise bad("a timestamp with a UTC offset (e.g. ...Z or +02:00)")
        try:
            utc = parsed.astimezone(_UTC)
        except OverflowError:
            raise bad("a timestamp within years 1-9999 in UTC") from None
        # Avro timestamp-millis keeps milliseconds; drop finer digits here, visibly.
        return utc.replace(microsecond=parsed.microsecond // 1000 * 1000)
    raise bad("an ISO-8601 timestamp with offset or epoch milliseconds")


def _date(value: Any, _avro: dict, bad) -> dt.date:
    if not isinstance(value, str):
        raise bad("a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad("a date YYYY-MM-DD") from None


def _decimal(value: Any, avro: dict, bad) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise bad("a number")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise bad("a number") from None
    if not number.is_finite():
        raise bad("a finite number")
    scale, precision = avro.get("scale", 0), avro["precision"]
    if abs(number) >= Decimal(10) ** (precision - scale):
        raise bad(f"a number below 10^{precision - scale}")
    quantized = number.quantize(Decimal(1).scaleb(-scale))
    if quantized != number:
        raise bad(f"a number with at most {scale} decimal places")
    return quantized


def _neutral(avro: Any, resolve) -> Any:
    if isinstance(avro, list):
        return None if "null" in avro else _neutral(resolve(avro[0]), resolve)
    logical = avro.get("logicalType")
    if logical == "decimal":
        return Decimal(0).quantize(Decimal(1).scaleb(-avro.get("scale", 0)))
    if logical == "timestamp-millis":
        return _EPOCH
    if logical == "date":
        return dt.date(1970, 1, 1)
    return {
        "string": "",
        "int": 0,
        "long": 0,
        "boolean": False,
        "double": 0.0,
        "float": 0.0,
        "array": [],
        "enum": (avro.get("default") or avro.get("symbols", [""])[0]),
    }.get(avro["type"])


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {"list": "an array", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def read_jsonl(
    lines: Iterable[str], *, catalog: Catalog | None = None
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Parse every non-blank line; yields ``(lineno, event_type, record)``.

    Raises :class:`TextFormatError` at the first bad line; callers that want to go on past
    bad lines use :func:`parse_line` per line.
    """
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            event_type, record = parse_line(line, lineno=lineno, catalog=catalog)
            yield lineno, event_type, record


def to_json(event_type: str, record: dict[str, Any]) -> str:
    """One event as a JSON Lines line (no newline): the inverse of :func:`parse_line`."""
    return json.dumps({"type": event_type, **record}, default=_json_default, ensure_ascii=False)


def write_jsonl(out: IO[str], events: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Write events as JSON Lines; returns how many were written."""
    n = 0
    for event_type, record in events:
        out.write(to_json(event_type, record) + "\n")
        n += 1
    return n


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
