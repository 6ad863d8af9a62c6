"""Hypothesis strategies that generate valid records for any of the project's Avro schemas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from schemas.catalog import SchemaVersion

UTC = dt.UTC


def _timestamps() -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
    )


def _decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    bound = 10**precision - 1
    return st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale))


def for_type(avro: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(avro, list):
        return st.one_of(*[for_type(branch, named) for branch in avro])
    if isinstance(avro, str):
        if avro in named:
            return for_type(named[avro], named)
        avro = {"type": avro}
    kind, logical = avro["type"], avro.get("logicalType")
    if logical == "timestamp-millis":
        return _timestamps()
    if logical == "date":
        return st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1))
    if logical == "decimal":
        return _decimals(avro["precision"], avro.get("scale", 0))
    simple = {
        "null": st.none(),
        "string": st.text(max_size=40),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
        "float": st.floats(allow_nan=False, width=32),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        return st.lists(for_type(avro["items"], named), max_size=5)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: for_type(f["type"], named) for f in avro["fields"]}
        )
    raise NotImplementedError(kind)


def records(schema: SchemaVersion) -> st.SearchStrategy[dict[str, Any]]:
    """Valid records of ``schema`` (all fields present)."""
    return for_type(schema.parsed, dict(schema.named))
