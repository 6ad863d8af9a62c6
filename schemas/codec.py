"""Encode and decode events: fastavro for the Avro body, two framings around it.

- Avro single-object encoding (the default, no registry): ``C3 01`` + the 8-byte
  little-endian CRC-64-AVRO fingerprint of the writer schema + the Avro body.
- Confluent framing (Kafka Connect and the Confluent ecosystem): ``00`` + the 4-byte
  big-endian schema id from a schema registry + the Avro body.

:meth:`Codec.decode` recognises either framing by its first byte, so one consumer reads
both. The writer schema named by the header is resolved to the current schema of the same
event type, so events written with an earlier (archived or registered) version still
decode. Every failure is a :class:`~schemas.exceptions.CodecError` subclass.
"""

from __future__ import annotations

import enum
import io
import json
import struct
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

from .catalog import Catalog, SchemaVersion, default_catalog, schema_version
from .exceptions import (
    CodecError,
    FramingError,
    MissingFieldError,
    RegistryRequestError,
    SchemaMismatchError,
    TruncatedPayloadError,
    UnknownSchemaError,
)
from .registry_client import SchemaRegistryClient

SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = 0
_SOE_HEADER = len(SINGLE_OBJECT_MARKER) + 8
_CONFLUENT_HEADER = 5


class Framing(enum.StrEnum):
    """Wire framing of an encoded event."""

    SINGLE_OBJECT = "single-object"
    CONFLUENT = "confluent"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded event: its type, its fields and the schema it was written with."""

    event_type: str
    record: dict[str, Any]
    writer: SchemaVersion


class Codec:
    """Avro encoder/decoder for the pipeline's events.

    :param catalog: the known schemas; the package's own by default.
    :param framing: framing used by :meth:`encode`.
    :param registry: schema registry client; required to encode with Confluent framing
        and to decode Confluent-framed payloads.
    :param validate_on_encode: check each record against its schema before writing, so a
        wrong or missing value is a :class:`SchemaMismatchError` or
        :class:`MissingFieldError` instead of silently written data.
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        framing: Framing | str = Framing.SINGLE_OBJECT,
        registry: SchemaRegistryClient | None = None,
        *,
        validate_on_encode: bool = True,
    ):
        self.catalog = catalog or default_catalog()
        self.framing = Framing(framing)
        self.registry = registry
        self.validate_on_encode = validate_on_encode
        self._registered: dict[str, int] = {}
        self._by_id: dict[int, SchemaVersion] = {}
        if self.framing is Framing.CONFLUENT and registry is None:
            raise CodecError("Confluent framing needs a schema registry (set its URL)")

    # -- encoding -----------------------------------------------------------------------

    def encode(
        self, event_type: str, record: dict[str, Any], *, subject: str | None = None
    ) -> bytes:
        """Encode ``record`` as an ``event_type`` event in this codec's framing.

        :param subject: registry subject for Confluent framing; defaults to the record's
            full name (the RecordNameStrategy), so one topic can carry several types.
        """
        schema = self.catalog.current(event_type)
        if self.validate_on_encode:
            check_record(schema, record)
        if self.framing is Framing.SINGLE_OBJECT:
            header = SINGLE_OBJECT_MARKER + schema.fingerprint
        else:
            header = struct.pack(">bI", CONFLUENT_MAGIC, self._schema_id(schema, subject))
        out = io.BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, schema.parsed, record)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            raise SchemaMismatchError(f"{event_type}: cannot encode record: {exc}") from exc
        return out.getvalue()

    def _schema_id(self, schema: SchemaVersion, subject: str | None) -> int:
        subject = subject or schema.full_name
        key = f"{subject}\x00{schema.fingerprint.hex()}"
        if key not in self._registered:
            assert self.registry is not None
            schema_id = self.registry.register(subject, schema.text)
            self._registered[key] = schema_id
            self._by_id[schema_id] = schema
        return self._registered[key]

    # -- decoding -----------------------------------------------------------------------

    def decode(self, data: bytes) -> Decoded:
        """Decode one framed event (either framing) into its current-schema form."""
        if type(data) is not bytes:
            if not isinstance(data, bytearray | memoryview):
                raise FramingError(f"expected bytes, got {type(data).__name__}")
            data = bytes(data)
        if not data:
            raise TruncatedPayloadError("empty payload")
        if data[0] == SINGLE_OBJECT_MARKER[0]:
            if len(data) < _SOE_HEADER:
                raise TruncatedPayloadError(
                    f"single-object header needs {_SOE_HEADER} bytes, payload has {len(data)}"
                )
            if data[1] != SINGLE_OBJECT_MARKER[1]:
                raise FramingError(
                    f"second marker byte is 0x{data[1]:02x}, single-object encoding needs 0x01"
                )
            writer = self.catalog.by_fingerprint(data[2:_SOE_HEADER])
            offset = _SOE_HEADER
        elif data[0] == CONFLUENT_MAGIC:
            if len(data) < _CONFLUENT_HEADER:
                raise TruncatedPayloadError(
                    f"Confluent header needs {_CONFLUENT_HEADER} bytes, payload has {len(data)}"
                )
            writer = self._writer_by_id(struct.unpack(">I", data[1:5])[0])
            offset = _CONFLUENT_HEADER
        else:
            raise FramingError(
                f"unknown magic byte 0x{data[0]:02x}: expected 0xc3 (Avro single-object) "
                "or 0x00 (Confluent)"
            )
        reader = self.catalog.current(writer.event_type)
        return Decoded(writer.event_type, self._read_body(data, offset, writer, reader), writer)

    def _writer_by_id(self, schema_id: int) -> SchemaVersion:
        if schema_id in self._by_id:
            return self._by_id[schema_id]
        if self.registry is None:
            raise UnknownSchemaError(
                f"Confluent-framed payload with schema id {schema_id}, but no schema "
                "registry is configured"
            )
        try:
            text = self.registry.schema_by_id(schema_id)
        except RegistryRequestError as exc:
            if exc.status == 404:
                raise UnknownSchemaError(f"schema id {schema_id} is not in the registry") from exc
            raise
        try:
            source = json.loads(text)
        except ValueError as exc:
            raise UnknownSchemaError(f"schema id {schema_id} is not an Avro record") from exc
        writer = schema_version(self.catalog.event_type_of_schema(source), source)
        self._by_id[schema_id] = writer
        return writer

    @staticmethod
    def _read_body(
        data: bytes, offset: int, writer: SchemaVersion, reader: SchemaVersion
    ) -> dict[str, Any]:
        body = io.BytesIO(data)
        body.seek(offset)
        try:
            if writer.fingerprint == reader.fingerprint:
                record = schemaless_reader(body, writer.plain, None)
            else:
                record = schemaless_reader(body, writer.plain, reader.plain)
            if reader.convert is not None:
                record = reader.convert(record)
        except (EOFError, StopIteration, struct.error) as exc:
            raise TruncatedPayloadError(
                f"{writer.event_type}: Avro body ends early ({len(data) - offset} bytes)"
            ) from exc
        except Exception as exc:  # fastavro signals corrupt bodies with many types
            raise SchemaMismatchError(
                f"{writer.event_type}: Avro body does not match its schema: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if body.tell() != len(data):
            raise SchemaMismatchError(
                f"{writer.event_type}: {len(data) - body.tell()} bytes left over after the record"
            )
        if not isinstance(record, dict):
            raise SchemaMismatchError(f"{writer.event_type}: body is not a record")
        return record


def check_record(schema: SchemaVersion, record: Any) -> None:
    """Raise a typed error if ``record`` does not fit ``schema`` (names the field)."""
    if not isinstance(record, dict):
        raise SchemaMismatchError(
            f"{schema.event_type}: expected a dict of fields, got {type(record).__name__}"
        )
    unknown = set(record) - schema.field_names
    if unknown:
        raise SchemaMismatchError(
            f"{schema.event_type}: unknown field(s) {', '.join(sorted(unknown))}"
        )
    for f in schema.source["fields"]:
        if f["name"] not in record and "default" not in f:
            raise MissingFieldError(f"{schema.event_type}: missing required field {f['name']!r}")
    try:
        # First without errors: with raise_errors fastavro builds (and JSON-encodes) a
        # ValidationError for every union branch a value does not take, about 40 us of a
        # record's 60; then again with them, only to say what is wrong.
        if validate(record, schema.parsed, raise_errors=False):
            return
        validate(record, schema.parsed, raise_errors=True)
    except ValidationError as exc:
        raise SchemaMismatchError(f"{schema.event_type}: {exc}") from exc
    except Exception as exc:  # validate itself can trip over exotic values
        raise SchemaMismatchError(f"{schema.event_type}: invalid value: {exc}") from exc
    raise SchemaMismatchError(f"{schema.event_type}: does not fit its schema")
