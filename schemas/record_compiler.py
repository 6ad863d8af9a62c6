"""Avro record schemas compiled into converters of JSON objects: the fast path of reading.

:func:`schemas.textformat.record_from_json` walks the schema beside every value it
converts, deciding each value's conversion again, and names the field and the reason of
whatever does not fit. Most rows fit. For them, :func:`compiled` turns a schema once into
nested functions, one per field, whose conversion was chosen when the schema was compiled;
they give the same values. At the first value that would not fit (and for what they
leave to the walker: unions of several types, the neutral values of a DELETE), they raise
:class:`Fallback`, and the caller converts the row again the slow way, which explains
the error exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

Convert = Callable[[Any], Any]
#: The value checks of the walker (``schemas.textformat``), shared: (value, avro, bad).
Checks = Mapping[str, Callable[..., Any]]


class Fallback(Exception):  # noqa: N818 - a signal, not an error anyone sees
    """The value does not fit (or is not handled here): convert the row the slow way."""


def compiled(parsed: dict, named: Mapping[str, Any], checks: Checks) -> Convert:
    """A converter of whole records of the (parsed) record schema ``parsed``.

    :param named: the named types of the schema, by full name.
    :param checks: ``timestamp``, ``date`` and ``decimal`` conversions of the walker,
        each ``(value, avro, bad)``, called with a ``bad`` that raises :class:`Fallback`.
    """
    return _Compiler(named, checks).record(parsed)


class _Compiler:
    def __init__(self, named: Mapping[str, Any], checks: Checks):
        self.named = named
        self.checks = checks
        self.compiling: set[str] = set()  # named records under way (recursive types)

    def record(self, avro: dict) -> Convert:
        name = avro.get("name", "")
        if name in self.compiling:  # a recursive type: left to the walker
            return _unhandled
        self.compiling.add(name)
        try:
            fields = [(f["name"], self.value(f["type"]), "default" in f, f.get("default"))
                      for f in avro["fields"]]
        finally:
            self.compiling.discard(name)
        names = frozenset(f[0] for f in fields)

        def convert(obj: Any) -> dict:
            if type(obj) is not dict or not names.issuperset(obj):
                raise Fallback
            out = {}
            for field, value_of, has_default, default in fields:
                if field in obj:
                    out[field] = value_of(obj[field])
                elif has_default:
                    out[field] = value_of(default)
                else:
                    raise Fallback
            return out
        return convert

    def value(self, avro: Any) -> Convert:
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            if len(branches) != 1:  # unions of several types: left to the walker
                return _unhandled
            inner = self.value(branches[0])
            if "null" not in avro:
                return inner
            return lambda v: None if v is None else inner(v)
        if isinstance(avro, str):
            avro = self.named.get(avro, {"type": avro})
        kind, logical = avro["type"], avro.get("logicalType")
        if logical in ("timestamp-millis", "date", "decimal"):
            check = self.checks[logical.split("-")[0]]
            return lambda v: check(v, avro, Fallback)
        return self._plain(kind, avro)

    def _plain(self, kind: str, avro: dict) -> Convert:
        if kind == "string":
            return _string
        if kind in ("int", "long"):
            limit = 2**31 if kind == "int" else 2**63
            low = -limit

            def integer(v: Any) -> int:
                if type(v) is not int or not low <= v < limit:
                    raise Fallback
                return v
            return integer
        if kind == "boolean":
            return _boolean
        if kind in ("double", "float"):
            return _number
        if kind == "enum":
            symbols = frozenset(avro["symbols"])

            def enum(v: Any) -> str:
                if type(v) is not str or v not in symbols:
                    raise Fallback
                return v
            return enum
        if kind == "array":
            item = self.value(avro["items"])

            def array(v: Any) -> list:
                if type(v) is not list:
                    raise Fallback
                return [item(x) for x in v]
            return array
        if kind == "record":
            return self.record(avro)
        return _unhandled


def _string(v: Any) -> str:
    if type(v) is not str:
        raise Fallback
    return v


def _boolean(v: Any) -> bool:
    if type(v) is not bool:
        raise Fallback
    return v


def _number(v: Any) -> float:
    if type(v) not in (int, float, Decimal):
        raise Fallback
    return float(v)


def _unhandled(_value: Any) -> Any:
    raise Fallback

