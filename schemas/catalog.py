"""The event schemas: loading the .avsc files, their fingerprints and event type names.

The current schema of each event type is ``schemas/avro/<event_type>.avsc``. Earlier
versions that producers may still write with are kept in ``schemas/avro/archive/`` as
``<event_type>.<n>.avsc`` so their single-object fingerprints stay decodable after a
schema change (see the README, "Changing a schema").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from .exceptions import SchemaMismatchError, UnknownEventTypeError, UnknownSchemaError
from .logical import converter, strip_logical_types

SCHEMA_DIR = Path(__file__).with_name("avro")

INBOUND_TYPES: tuple[str, ...] = ("account", "opportunity", "contact", "partner_touch")
CONTROL_TYPES: tuple[str, ...] = ("partnership", "tenant_settings")
OUTBOUND_TYPES: tuple[str, ...] = ("overlap", "intro", "attribution")
EVENT_TYPES: tuple[str, ...] = INBOUND_TYPES + CONTROL_TYPES + OUTBOUND_TYPES

#: The attribution models, in the order results are computed: the symbols of the
#: ``AttributionModel`` enum in attribution.avsc.
ATTRIBUTION_MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "time_decay")

#: Fields every inbound and control event carries, in this order.
ENVELOPE_FIELDS: tuple[str, ...] = (
    "event_id",
    "tenant_id",
    "source",
    "record_id",
    "version",
    "occurred_at",
    "op",
)


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one event type's schema, parsed and fingerprinted."""

    event_type: str
    full_name: str
    source: Mapping[str, Any] = field(repr=False)
    parsed: Any = field(repr=False)
    canonical: str = field(repr=False)
    fingerprint: bytes = b""
    named: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: The schema without logical types (what the codec reads with) and the converter
    #: that turns its plain values into logical ones (see schemas.logical).
    plain: Any = field(default=None, repr=False, compare=False)
    convert: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def field_names(self) -> frozenset[str]:
        """Names of the record's top-level fields."""
        return frozenset(f["name"] for f in self.source["fields"])

    @property
    def text(self) -> str:
        """The schema as JSON text (what a schema registry stores)."""
        return json.dumps(self.source, separators=(",", ":"), sort_keys=True)


def schema_version(event_type: str, source: Mapping[str, Any]) -> SchemaVersion:
    """Parse ``source`` (an Avro record schema as JSON data) into a :class:`SchemaVersion`."""
    named: dict[str, Any] = {}
    try:
        parsed = parse_schema(dict(source), _write_hint=True, named_schemas=named)
        canonical = to_parsing_canonical_form(parsed)
        plain = parse_schema(strip_logical_types(dict(source)), named_schemas={})
        convert = converter(parsed, named)
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise SchemaMismatchError(f"schema for {event_type!r} is not valid Avro: {exc}") from exc
    full_name = parsed["name"] if isinstance(parsed, dict) else str(parsed)
    return SchemaVersion(
        event_type=event_type,
        full_name=full_name,
        source=source,
        parsed=parsed,
        canonical=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        named=named,
        plain=plain,
        convert=convert,
    )


class Catalog:
    """All known schema versions: the current one per event type plus archived ones.

    :param directory: folder holding ``<event_type>.avsc`` files and an optional
        ``archive/`` subfolder; defaults to the schemas shipped with the package.
    """

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory else SCHEMA_DIR
        self._current: dict[str, SchemaVersion] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        self._by_name: dict[str, str] = {}
        for path in sorted(self.directory.glob("*.avsc")):
            version = schema_version(path.stem, json.loads(path.read_text()))
            self._current[path.stem] = version
            self._by_name[version.full_name] = path.stem
            self._by_fingerprint[version.fingerprint] = version
        for path in sorted((self.directory / "archive").glob("*.avsc")):
            event_type = path.name.split(".", 1)[0]
            version = schema_version(event_type, json.loads(path.read_text()))
            self._by_fingerprint.setdefault(version.fingerprint, version)

    @property
    def event_types(self) -> tuple[str, ...]:
        """Event types with a current schema, sorted."""
        return tuple(sorted(self._current))

    def current(self, event_type: str) -> SchemaVersion:
        """The current (reader) schema of ``event_type``."""
        try:
            return self._current[event_type]
        except KeyError:
            known = ", ".join(self.event_types)
            raise UnknownEventTypeError(
                f"unknown event type {event_type!r}; known types: {known}"
            ) from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        """The schema version whose CRC-64-AVRO fingerprint is ``fp`` (8 bytes)."""
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(
                f"unknown schema fingerprint {fp.hex()}: not a schema this pipeline knows"
            ) from None

    def event_type_of(self, full_name: str) -> str:
        """The event type whose record is named ``full_name`` (e.g. coselling.events.Account)."""
        try:
            return self._by_name[full_name]
        except KeyError:
            raise UnknownSchemaError(
                f"schema {full_name!r} is not one of this pipeline's event schemas"
            ) from None

    def event_type_of_schema(self, source: Mapping[str, Any]) -> str:
        """The event type of an Avro record schema given as JSON data (name + namespace)."""
        try:
            full_name = source["name"]
        except (TypeError, KeyError):
            raise UnknownSchemaError("schema is not an Avro record (no name)") from None
        if source.get("namespace") and "." not in full_name:
            full_name = f"{source['namespace']}.{full_name}"
        return self.event_type_of(full_name)

    def versions(self) -> Iterable[SchemaVersion]:
        """Every known version, current and archived."""
        return self._by_fingerprint.values()


@cache
def default_catalog() -> Catalog:
    """The catalog of the schemas shipped with the package (loaded once)."""
    return Catalog()
