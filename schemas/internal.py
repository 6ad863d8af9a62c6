"""Internal messages (worker to worker, worker to sink) as versioned Avro schemas.

The schemas are ``schemas/avro/internal/<kind>.v<n>.avsc`` (namespace
``coselling.internal``). Each declares its kind (``coselling.kind``), version
(``coselling.version``) and a one-byte id (``coselling.id``), unique across kinds and
versions and never reused: a new version of a kind gets a new id, and the schemas of older
versions stay so that what they wrote still decodes.

Wire format: ``CA`` (:data:`MARKER`), the schema id byte, then the schemaless Avro body
(fastavro). The data is what the core's ``to_json`` makes of a message; its ``kind`` is
the schema's, not in the body. A message written before this format is JSON (``{`` first:
what ``json.dumps`` of an object starts with), so a reader tells the two apart by the first
byte, which neither shares with the inbound framings (``00`` Confluent, ``C3``
single-object): :meth:`InternalCodec.decode` reads both, so a worker or sink of this version
reads what an older worker left in the topics. A value the schema cannot hold exactly (an
integer outside Avro's long, a field the schema does not declare) is written as JSON
instead, so nothing is dropped or changed on the way. Workers of an earlier version read
JSON only: an upgrade while they run writes JSON first (``write="json"``, the setting
``COSELLING_INTERNAL_FORMAT=json``) and Avro once none of them is left.

Schemas are parsed once (:func:`internal_codec`) and compiled into writers
(:mod:`schemas.avro_writer`: the same bytes as fastavro's, several times faster);
fastavro reads them.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from .avro_writer import UnsupportedSchema, Writer, compile_writer
from .exceptions import InternalMessageFormatError, UnknownEventTypeError

log = logging.getLogger(__name__)

INTERNAL_SCHEMA_DIR = Path(__file__).with_name("avro") / "internal"
#: The formats an internal message can be written in (both are read).
INTERNAL_FORMATS = ("avro", "json")
#: First byte of an internal message in the Avro format.
MARKER = 0xCA
_MARKER_BYTE = bytes([MARKER])
#: Kinds whose data (``to_json``) carries no ``kind`` field: a snapshot's topic says it.
_NO_KIND_FIELD = frozenset({"snapshot"})
#: What fastavro raises for a value its schema cannot hold (the message goes as JSON).
_UNFIT = (ValueError, TypeError, OverflowError, KeyError, AttributeError)
#: What fastavro raises for a body that does not decode.
_UNREADABLE = (ValueError, TypeError, EOFError, IndexError, KeyError, OverflowError,
               UnicodeDecodeError, AttributeError)


@dataclass(frozen=True)
class InternalSchema:
    """One version of one internal message kind's schema, parsed."""

    kind: str
    version: int
    schema_id: int
    full_name: str
    parsed: Any = field(repr=False)
    prefix: bytes = field(repr=False, default=b"")
    #: The compiled writer of the body (:mod:`schemas.avro_writer`); None: fastavro's.
    writer: Writer | None = field(repr=False, default=None)


class InternalCodec:
    """Encodes internal messages in their current Avro schema; decodes Avro or JSON.

    :param directory: where the ``.avsc`` files are (default: ``schemas/avro/internal``).
    :param write: ``avro``, or ``json`` to write what earlier versions read (an upgrade's
        first step, while they still run).
    """

    def __init__(self, directory: Path = INTERNAL_SCHEMA_DIR, write: str = "avro"):
        if write not in INTERNAL_FORMATS:
            raise ValueError(f"internal format {write!r} is not one of {INTERNAL_FORMATS}")
        self.write_json = write == "json"
        self.by_id: dict[int, InternalSchema] = {}
        self.current: dict[str, InternalSchema] = {}
        #: Messages written as JSON because their schema could not hold them exactly.
        self.json_fallbacks = 0
        self._warned: set[str] = set()
        for path in sorted(directory.glob("*.avsc")):
            source = json.loads(path.read_text())
            schema_id = int(source["coselling.id"])
            if not 0 < schema_id < 256 or schema_id in self.by_id:
                raise ValueError(f"{path.name}: schema id {schema_id} is not a free byte")
            parsed = parse_schema(source)
            try:
                writer = compile_writer(parsed, ignore=("kind",))
            except UnsupportedSchema as exc:
                log.info("%s is written with fastavro: %s", path.name, exc)
                writer = None
            version = InternalSchema(
                kind=source["coselling.kind"], version=int(source["coselling.version"]),
                schema_id=schema_id, full_name=f"{source['namespace']}.{source['name']}",
                parsed=parsed, prefix=_MARKER_BYTE + bytes([schema_id]), writer=writer)
            self.by_id[schema_id] = version
            latest = self.current.get(version.kind)
            if latest is None or latest.version < version.version:
                self.current[version.kind] = version

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind with a schema."""
        return frozenset(self.current)

    def encode(self, kind: str, data: dict[str, Any]) -> bytes:
        """``data`` (a message's ``to_json``) in ``kind``'s current schema.

        JSON (the format before the schemas) when the schema cannot hold it exactly.
        """
        schema = self.current.get(kind)
        if schema is None:
            raise UnknownEventTypeError(f"no internal schema for kind {kind!r}")
        if self.write_json:
            return json.dumps(data).encode()
        try:
            if schema.writer is not None:  # the compiled writer: it leaves out ``kind``
                out = bytearray(schema.prefix)
                schema.writer(data, out)
                return bytes(out)
            body = data
            if "kind" in data:
                body = {k: v for k, v in data.items() if k != "kind"}
            stream = io.BytesIO()
            stream.write(schema.prefix)
            schemaless_writer(stream, schema.parsed, body, strict=True)
            return stream.getvalue()
        except _UNFIT as exc:
            self.json_fallbacks += 1
            # Read fine, but the schema lags what the core makes: say so, once per kind.
            if kind not in self._warned:
                self._warned.add(kind)
                log.warning("internal %s message written as JSON (its schema %s v%d cannot "
                            "hold it: %s); further ones are not logged", kind,
                            schema.full_name, schema.version, exc)
            return json.dumps(data).encode()

    def decode(self, value: bytes) -> dict[str, Any]:
        """The data of an internal message in either format (see module doc).

        Raises :class:`~schemas.exceptions.InternalMessageFormatError` if it is neither.
        """
        first = value[:1]
        if first == b"{":
            try:
                data = json.loads(value)
            except ValueError as exc:
                raise InternalMessageFormatError(f"internal message is not JSON: {exc}") \
                    from exc
            if not isinstance(data, dict):
                raise InternalMessageFormatError("internal JSON message is not an object")
            return data
        if first != _MARKER_BYTE:
            raise InternalMessageFormatError(
                f"internal message is neither a JSON object nor internal Avro (marker "
                f"{MARKER:02x}): it starts with {value[:1].hex() or 'nothing'}")
        schema = self.by_id.get(value[1]) if len(value) > 1 else None
        if schema is None:
            raise InternalMessageFormatError(
                f"internal message names unknown schema id {value[1:2].hex() or 'none'}")
        body = io.BytesIO(value)
        body.seek(2)
        try:
            data = schemaless_reader(body, schema.parsed, None)
        except _UNREADABLE as exc:
            raise InternalMessageFormatError(
                f"internal message does not decode as {schema.full_name} "
                f"v{schema.version}: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(value):
            raise InternalMessageFormatError(
                f"internal message has {len(value) - body.tell()} bytes after its "
                f"{schema.full_name} v{schema.version} body")
        if schema.kind in _NO_KIND_FIELD:
            return data
        return {"kind": schema.kind, **data}


def is_internal(value: bytes | None) -> bool:
    """Whether ``value`` is an internal message (Avro or JSON), not an inbound event."""
    return value is not None and value[:1] in (b"{", _MARKER_BYTE)


@cache
def internal_codec(write: str = "avro") -> InternalCodec:
    """The codec of the schemas in ``schemas/avro/internal`` (parsed once per process).

    :param write: the format it writes (see :class:`InternalCodec`).
    """
    return InternalCodec(write=write)
