"""CSV exports of Salesforce and HubSpot accounts and opportunities, as events.

A CSV export has no tenant and no event envelope; this module maps each row to an
``account`` or ``opportunity`` event of the given tenant. The mapping is chosen from the
header row (or named), and any field's column can be overridden (``--map field=Column``).
The built-in mappings (documented in the README) follow the column names of Salesforce
Data Loader / report exports and HubSpot's "Export" of companies and deals:

========================  =========================  ==========================
field                     Salesforce                 HubSpot
========================  =========================  ==========================
record_id                 Id                         Record ID
name                      Name                       Company name / Deal Name
modified (version, time)  SystemModstamp             Last Modified Date
deleted                   IsDeleted                  (none)
website / domain          Website / -                Website URL / Company Domain Name
country                   BillingCountry             Country/Region
industry                  Industry                   Industry
relationship              Type                       Lifecycle Stage
account_record_id         AccountId                  Associated Company IDs
stage                     StageName                  Deal Stage
is_closed / is_won        IsClosed / IsWon           (from the deal stage)
amount / currency         Amount / CurrencyIsoCode   Amount / Currency
close_date / created_at   CloseDate / CreatedDate    Close Date / Create Date
========================  =========================  ==========================

The record version and event time are the modification stamp (epoch milliseconds), so a
newer export of the same record wins and publishing the same file twice changes nothing.
Timestamps without an offset are read as UTC. Each row becomes a JSON-like object that is
then checked against the Avro schema like any JSON Lines event, so a bad row fails with
its line number and the field named.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from schemas.catalog import default_catalog
from schemas.exceptions import TextFormatError
from schemas.textformat import record_from_json

from .exceptions import StreamConfigError

_SF_TYPES = {"customer": "CUSTOMER", "customer - direct": "CUSTOMER",
             "customer - channel": "CUSTOMER", "prospect": "PROSPECT",
             "former customer": "FORMER_CUSTOMER", "customer - former": "FORMER_CUSTOMER"}
_HS_LIFECYCLE = {"customer": "CUSTOMER", "evangelist": "CUSTOMER", "lead": "PROSPECT",
                 "subscriber": "PROSPECT", "marketingqualifiedlead": "PROSPECT",
                 "marketing qualified lead": "PROSPECT", "salesqualifiedlead": "PROSPECT",
                 "sales qualified lead": "PROSPECT", "opportunity": "PROSPECT",
                 "former customer": "FORMER_CUSTOMER"}
_WON = {"closed won", "closedwon"}
_LOST = {"closed lost", "closedlost"}


@dataclass(frozen=True)
class CsvMapping:
    """How one kind of CSV export maps to one event type."""

    name: str
    event_type: str
    source: str
    columns: Mapping[str, str]
    required: tuple[str, ...]
    optional_columns: frozenset[str] = field(default_factory=frozenset)

    def with_overrides(self, overrides: Mapping[str, str]) -> CsvMapping:
        """A copy of the mapping with some fields read from other columns."""
        unknown = sorted(set(overrides) - set(self.columns))
        if unknown:
            raise StreamConfigError(f"--map {unknown[0]}=...: {self.name} has no field "
                                    f"{unknown[0]!r} (fields: {', '.join(self.columns)})")
        return CsvMapping(self.name, self.event_type, self.source,
                          {**self.columns, **overrides}, self.required, self.optional_columns)


MAPPINGS = {m.name: m for m in (
    CsvMapping("salesforce-account", "account", "salesforce", {
        "record_id": "Id", "name": "Name", "modified": "SystemModstamp",
        "deleted": "IsDeleted", "website": "Website", "country": "BillingCountry",
        "industry": "Industry", "relationship": "Type"},
        required=("record_id", "name", "modified"),
        optional_columns=frozenset({"deleted", "website", "country", "industry",
                                    "relationship"})),
    CsvMapping("salesforce-opportunity", "opportunity", "salesforce", {
        "record_id": "Id", "account_record_id": "AccountId", "name": "Name",
        "modified": "SystemModstamp", "deleted": "IsDeleted", "stage": "StageName",
        "is_closed": "IsClosed", "is_won": "IsWon", "amount": "Amount",
        "currency": "CurrencyIsoCode", "close_date": "CloseDate", "created_at": "CreatedDate"},
        required=("record_id", "account_record_id", "name", "modified", "stage"),
        optional_columns=frozenset({"deleted", "currency", "close_date", "created_at",
                                    "is_closed", "is_won", "amount"})),
    CsvMapping("hubspot-company", "account", "hubspot", {
        "record_id": "Record ID", "name": "Company name", "modified": "Last Modified Date",
        "domain": "Company Domain Name", "website": "Website URL",
        "country": "Country/Region", "industry": "Industry",
        "relationship": "Lifecycle Stage"},
        required=("record_id", "name", "modified"),
        optional_columns=frozenset({"domain", "website", "country", "industry",
                                    "relationship"})),
    CsvMapping("hubspot-deal", "opportunity", "hubspot", {
        "record_id": "Record ID", "account_record_id": "Associated Company IDs",
        "name": "Deal Name", "modified": "Last Modified Date", "stage": "Deal Stage",
        "amount": "Amount", "currency": "Currency", "close_date": "Close Date",
        "created_at": "Create Date"},
        required=("record_id", "account_record_id", "name", "modified", "stage"),
        optional_columns=frozenset({"currency", "close_date", "created_at", "amount"})),
)}


def detect_mapping(header: list[str]) -> CsvMapping:
    """The built-in mapping whose required columns the header has (most specific first)."""
    present = set(header)
    for mapping in sorted(MAPPINGS.values(), key=lambda m: -len(m.required)):
        if all(mapping.columns[f] in present for f in mapping.required):
            return mapping
    raise StreamConfigError(
        "cannot tell which CRM export this CSV is (header: " + ", ".join(header[:8])
        + "); name it with --mapping (" + ", ".join(MAPPINGS) + ") and map missing "
        "columns with --map field=Column")


@dataclass
class CsvReader:
    """Reads one CSV export into events of ``tenant``.

    :param tenant: the tenant the export belongs to.
    :param mapping: a built-in mapping name; default: detected from the header.
    :param overrides: field -> column overrides.
    :param currency: currency of opportunities whose export has no currency column.
    """

    tenant: str
    mapping: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    currency: str = "USD"

    def read(self, lines: IO[str]) -> Iterator[tuple[int, str, dict[str, Any]] | TextFormatError]:
        """``(line number, event type, record)`` per good row, a TextFormatError per bad one."""
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise StreamConfigError("the CSV file is empty (no header row)") from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        chosen = MAPPINGS.get(self.mapping) if self.mapping else detect_mapping(header)
        if chosen is None:
            raise StreamConfigError(f"unknown mapping {self.mapping!r} "
                                    f"(one of {', '.join(MAPPINGS)})")
        chosen = chosen.with_overrides(self.overrides)
        missing = [f"{f} ({chosen.columns[f]!r})" for f in chosen.required
                   if chosen.columns[f] not in header]
        if missing:
            raise StreamConfigError(f"{chosen.name}: the header lacks required column(s) "
                                    + ", ".join(missing) + "; map them with --map field=Column")
        index = {name: i for i, name in enumerate(header)}
        schema = default_catalog().current(chosen.event_type)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # an over-long field, a stray quote at the end
                yield TextFormatError(f"not a CSV row: {exc}", line=reader.line_num)
                continue
            lineno = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            undecodable = next((i for i, cell in enumerate(row) if not _utf8(cell)), None)
            if undecodable is not None:  # the file is read with surrogateescape
                column = header[undecodable] if undecodable < len(header) else \
                    f"#{undecodable + 1}"
                yield TextFormatError(f"not UTF-8 text in column {column!r}; save the file "
                                      "as UTF-8", line=lineno)
                continue
            cells = {f: row[index[c]].strip() if c in index and index[c] < len(row) else ""
                     for f, c in chosen.columns.items()}
            try:
                obj = _event_json(chosen, cells, self.tenant, self.currency, lineno)
                yield lineno, chosen.event_type, record_from_json(schema, obj, lineno=lineno)
            except TextFormatError as exc:
                yield exc


def _utf8(cell: str) -> bool:
    """False if ``cell`` holds bytes that were not UTF-8 (lone surrogates)."""
    if cell.isascii():
        return True
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _event_json(m: CsvMapping, cells: dict[str, str], tenant: str, currency: str,
                lineno: int) -> dict[str, Any]:
    def need(name: str) -> str:
        value = cells.get(name, "")
        if not value:
            raise TextFormatError(f"empty {name} (column {m.columns[name]!r})", line=lineno,
                                  field=name)
        return value

    def opt(name: str) -> str | None:
        return cells.get(name) or None

    modified = _millis(need("modified"), "modified", m, lineno)
    record_id = need("record_id")
    deleted = _bool(opt("deleted") or "false", "deleted", m, lineno)
    obj: dict[str, Any] = {
        "event_id": f"{m.source}:{tenant}:{record_id}:{modified}", "tenant_id": tenant,
        "source": m.source, "record_id": record_id, "version": modified,
        "occurred_at": modified, "op": "DELETE" if deleted else "UPSERT",
        "name": need("name")}
    if m.event_type == "account":
        kinds = _SF_TYPES if m.source == "salesforce" else _HS_LIFECYCLE
        obj.update(website=opt("website"), domain=opt("domain"), country=opt("country"),
                   industry=opt("industry"),
                   relationship=kinds.get((opt("relationship") or "").lower(), "OTHER"))
        return obj
    stage = need("stage")
    account = need("account_record_id").split(";")[0].strip()
    if m.source == "hubspot" or not cells.get("is_closed"):
        closed, won = stage.lower() in _WON | _LOST, stage.lower() in _WON
    else:
        closed = _bool(cells["is_closed"], "is_closed", m, lineno)
        won = _bool(cells.get("is_won") or "false", "is_won", m, lineno)
    created = opt("created_at")
    obj.update(account_record_id=account, stage=stage, is_closed=closed, is_won=won,
               amount=(opt("amount") or "0").replace(",", ""),
               currency=(opt("currency") or currency).upper(),
               close_date=_date(opt("close_date"), m, lineno),
               created_at=_millis(created, "created_at", m, lineno) if created else None)
    return obj


def _millis(value: str, name: str, m: CsvMapping, lineno: int) -> int:
    text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TextFormatError(f"{name} {value!r} (column {m.columns[name]!r}) is not a "
                              "timestamp like 2026-11-02T10:00:00Z", line=lineno,
                              field=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _date(value: str | None, m: CsvMapping, lineno: int) -> str | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(value[:10], fmt).date().isoformat()
        except ValueError:
            continue
    raise TextFormatError(f"close_date {value!r} (column {m.columns['close_date']!r}) is not "
                          "a date like 2026-11-02 or 11/02/2026", line=lineno,
                          field="close_date")


def _bool(value: str, name: str, m: CsvMapping, lineno: int) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise TextFormatError(f"{name} {value!r} (column {m.columns[name]!r}) is not true or false",
                          line=lineno, field=name)
