"""Event files as ``publish`` and ``replay`` read them: JSON Lines, Avro, CRM CSV exports.

The format is taken from ``--format`` or else the file: Avro container files by their
magic bytes, ``.csv`` files as CRM exports (:mod:`streams.crm_csv`), anything else as
JSON Lines. Every row is parsed and then checked by the event contract's validator
(:class:`~schemas.validation.EventValidator`, the one the stream workers use too).
Reading never stops at a bad row: each yields a :class:`~schemas.exceptions.TextFormatError`
with its line number (record number for Avro), the field and the reason, and the caller
reports it and goes on. A line that is not UTF-8 is such a row; a file that is not text at
all (NUL bytes or mostly undecodable bytes near its start), or an Avro file whose header
cannot be read or names a schema that is none of ours, is refused as a whole, when it is
opened (before anything else is done with it), with a
:class:`~streams.exceptions.StreamConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from schemas.catalog import default_catalog
from schemas.codec import check_record
from schemas.exceptions import CodecError, InvalidEventError, TextFormatError
from schemas.textformat import parse_line, parse_plain_line
from schemas.validation import EventValidator

from .crm_csv import CsvReader
from .exceptions import StreamConfigError

FORMATS = ("jsonl", "avro", "csv")
AVRO_MAGIC = b"Obj\x01"
TEXT_SAMPLE_BYTES = 8192
#: Share of undecodable or control bytes in the sample above which a file is not text.
BINARY_SHARE = 0.1
COUNT_CHUNK_BYTES = 1 << 20

Item = tuple[int, str, dict[str, Any]] | TextFormatError


@dataclass
class EventFile:
    """One event file and how to read it.

    :param path: the file.
    :param format: jsonl, avro or csv (default: from the file).
    :param tenant: tenant of a CSV export (CSV rows carry none).
    :param mapping: CSV mapping name (default: detected from the header).
    :param overrides: CSV field -> column overrides.
    :param currency: currency of CSV opportunities without a currency column.
    :param validator: the event contract every parsed row is checked against (the
        default limits if not given); None checks the schema only (the codec round trip).
    """

    path: Path
    format: str | None = None
    tenant: str | None = None
    mapping: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    currency: str = "USD"
    validator: EventValidator | None = field(default_factory=EventValidator)

    def __post_init__(self) -> None:
        if not self.path.is_file():
            raise StreamConfigError(f"{self.path}: no such file")
        try:
            self._check()
        except OSError as exc:
            raise StreamConfigError(f"{self.path}: cannot read it: {exc.strerror}") from None

    def _check(self) -> None:
        if self.format is None:
            self.format = self._detect()
        if self.format not in FORMATS:
            raise StreamConfigError(f"unknown format {self.format!r} (one of "
                                    f"{', '.join(FORMATS)})")
        if self.format == "csv" and not self.tenant:
            raise StreamConfigError(f"{self.path}: a CSV export names no tenant; "
                                    "give --tenant TENANT")
        if self.format == "avro":
            with self.path.open("rb") as f:
                self._avro_header(f)
        else:
            problem = not_text(self.path)
            if problem:
                raise StreamConfigError(f"{self.path}: not a text file ({problem}); expected "
                                        "JSON Lines or CSV in UTF-8, or an Avro container file")

    def _detect(self) -> str:
        with self.path.open("rb") as f:
            if f.read(4) == AVRO_MAGIC:
                return "avro"
        return "csv" if self.path.suffix.lower() == ".csv" else "jsonl"

    def count(self) -> int:
        """Rows (or Avro records) in the file, for progress bars; cheap, nothing decoded."""
        if self.format == "avro":
            with self.path.open("rb") as f:
                return sum(block.num_records for block in fastavro.block_reader(f))
        lines, last = 0, b"\n"
        with self.path.open("rb") as f:
            while chunk := f.read(COUNT_CHUNK_BYTES):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        lines += last != b"\n"  # a last line without a newline
        return max(0, lines - 1) if self.format == "csv" else lines

    def read(self) -> Iterator[Item]:
        """``(line, event type, record)`` per good row; a TextFormatError per bad one."""
        for item in self._parsed():
            if self.validator is not None and not isinstance(item, TextFormatError):
                try:
                    self.validator.check(item[1], item[2])
                except InvalidEventError as exc:
                    item = TextFormatError(str(exc), line=item[0], field=exc.field)
            yield item

    def _parsed(self) -> Iterator[Item]:
        if self.format == "avro":
            yield from self._avro()
        elif self.format == "csv":
            reader = CsvReader(self.tenant or "", self.mapping, self.overrides, self.currency)
            # Undecodable bytes become lone surrogates, which the validator rejects by row.
            with self.path.open(encoding="utf-8-sig", errors="surrogateescape",
                                newline="") as lines:
                yield from reader.read(lines)
        else:
            yield from self._jsonl()

    def _jsonl(self) -> Iterator[Item]:
        catalog = default_catalog()
        with self.path.open("rb") as f:
            for lineno, raw in enumerate(f, start=1):
                plain = parse_plain_line(raw, catalog=catalog)
                if plain is not None:  # most rows: read faster, the same values
                    yield lineno, plain[0], plain[1]
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield TextFormatError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                                          f"column {exc.start + 1}); save the file as UTF-8",
                                          line=lineno)
                    continue
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                try:
                    event_type, record = parse_line(line, lineno=lineno)
                except TextFormatError as exc:
                    yield exc
                    continue
                yield lineno, event_type, record

    def _avro_header(self, f) -> tuple[fastavro.reader, str]:
        """The reader of an Avro container file and its event type (checked on open too)."""
        try:
            reader = fastavro.reader(f)
            return reader, default_catalog().event_type_of_schema(reader.writer_schema)
        except CodecError as exc:
            raise StreamConfigError(f"{self.path}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types
            raise StreamConfigError(f"{self.path}: not a readable Avro container file "
                                    f"({type(exc).__name__}: {exc})") from None

    def _avro(self) -> Iterator[Item]:
        with self.path.open("rb") as f:
            reader, event_type = self._avro_header(f)
            schema = default_catalog().current(event_type)
            n = 0
            records = iter(reader)
            while True:
                n += 1
                try:
                    record = next(records)
                except StopIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - a corrupt block ends the file
                    yield TextFormatError(f"record {n} and after: unreadable Avro data "
                                          f"({type(exc).__name__}: {exc})", line=n)
                    return
                try:
                    check_record(schema, record)
                except CodecError as exc:
                    yield TextFormatError(str(exc), line=n)
                    continue
                yield n, event_type, record


def not_text(path: Path) -> str | None:
    """Why the start of ``path`` is not text (NUL bytes, mostly undecodable), or None."""
    with path.open("rb") as f:
        sample = f.read(TEXT_SAMPLE_BYTES)
    nul = sample.find(b"\x00")
    if nul >= 0:
        return f"a NUL byte at offset {nul}"
    text = sample.decode("utf-8", errors="replace")
    if len(sample) == TEXT_SAMPLE_BYTES:  # a character cut at the end of the sample
        text = text[:-3]
    odd = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f"))
    if text and odd / len(text) > BINARY_SHARE:
        return f"{odd} of its first {len(text)} characters are undecodable or control bytes"
    return None
