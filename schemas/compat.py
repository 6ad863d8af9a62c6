"""Schema evolution checks with the Apache ``avro`` package's compatibility checker.

Backward compatibility is what the pipeline needs: a consumer using the new schema must
read every event written with an older one. (fastavro does the byte work; ``avro`` is used
here only, off the hot path.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from .exceptions import SchemaCompatibilityError


def _parse(schema: str | Mapping[str, Any]) -> avro.schema.Schema:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    try:
        return avro.schema.parse(text)
    except Exception as exc:  # avro raises SchemaParseException and others
        raise SchemaCompatibilityError(f"not a valid Avro schema: {exc}") from exc


def backward_incompatibilities(
    new: str | Mapping[str, Any], old: str | Mapping[str, Any]
) -> list[str]:
    """Why a reader using ``new`` cannot read data written with ``old`` (empty if it can)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(_parse(new), _parse(old))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({str(k.value).replace("_", " ") for k in result.incompatibilities}))
    messages = ", ".join(sorted(result.messages))
    locations = ", ".join(sorted(result.locations))
    return [f"{kinds or 'incompatible'}: {messages} (at {locations})"]


def check_backward_compatible(
    new: str | Mapping[str, Any], old: str | Mapping[str, Any], *, name: str = "schema"
) -> None:
    """Raise :class:`SchemaCompatibilityError` unless ``new`` can read ``old``'s data."""
    problems = backward_incompatibilities(new, old)
    if problems:
        raise SchemaCompatibilityError(
            f"{name}: new version cannot read data written with the previous one: "
            + "; ".join(problems)
        )
