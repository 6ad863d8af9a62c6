"""Event files as ``publish`` and ``replay`` read them: JSON Lines, Avro, CRM CSV exports.

The format is taken from ``--format`` or else the file: Avro container files by their
magic bytes, ``.csv`` files as CRM exports (:mod:`streams.crm_csv`), anything else as
JSON Lines. Reading never stops at a bad row: each yields a
:class:`~schemas.exceptions.TextFormatError` with its line number (record number for
Avro) and the caller reports it and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from schemas.catalog import default_catalog
from schemas.exceptions import CodecError, TextFormatError
from schemas.textformat import parse_line

from .crm_csv import CsvReader
from .exceptions import StreamConfigError

FORMATS = ("jsonl", "avro", "csv")
AVRO_MAGIC = b"Obj\x01"

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
    """

    path: Path
    format: str | None = None
    tenant: str | None = None
    mapping: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not self.path.is_file():
            raise StreamConfigError(f"{self.path}: no such file")
        if self.format is None:
            self.format = self._detect()
        if self.format not in FORMATS:
            raise StreamConfigError(f"unknown format {self.format!r} (one of "
                                    f"{', '.join(FORMATS)})")
        if self.format == "csv" and not self.tenant:
            raise StreamConfigError(f"{self.path}: a CSV export names no tenant; "
                                    "give --tenant TENANT")

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
        with self.path.open("rb") as f:
            lines = sum(1 for _ in f)
        return max(0, lines - 1) if self.format == "csv" else lines

    def read(self) -> Iterator[Item]:
        """``(line, event type, record)`` per good row; a TextFormatError per bad one."""
        if self.format == "avro":
            yield from self._avro()
        elif self.format == "csv":
            reader = CsvReader(self.tenant or "", self.mapping, self.overrides, self.currency)
            with self.path.open(encoding="utf-8-sig", newline="") as lines:
                yield from reader.read(lines)
        else:
            with self.path.open(encoding="utf-8") as lines:
                for lineno, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        event_type, record = parse_line(line, lineno=lineno)
                    except TextFormatError as exc:
                        yield exc
                        continue
                    yield lineno, event_type, record

    def _avro(self) -> Iterator[Item]:
        with self.path.open("rb") as f:
            reader = fastavro.reader(f)
            try:
                event_type = default_catalog().event_type_of_schema(reader.writer_schema)
            except CodecError as exc:
                raise StreamConfigError(f"{self.path}: {exc}") from None
            for n, record in enumerate(reader, start=1):
                yield n, event_type, record
