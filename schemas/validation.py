"""The event contract beyond the Avro schema: one validator for files and the stream.

The schema says which fields an event has and their types; this module says which values
the pipeline accepts as input. ``publish`` (and its dry run), ``replay`` and the ingest
stage of the stream workers all call :meth:`EventValidator.check` on every parsed or
decoded event, so the same rows are rejected everywhere, with the same field and reason.

Rules:

- only inbound CRM events and control events (partnerships, tenant settings) are input;
  result types (``overlap``, ``intro``, ``attribution``) are pipeline output;
- ids (event, tenant, record, account, opportunity, partnership ids) are non-empty, at most
  :attr:`EventLimits.max_id_length` characters, without control characters or surrounding
  blanks;
- every other text (names, websites, stages, titles, campaign, source...) is at most
  :attr:`EventLimits.max_text_length` characters of valid Unicode;
- versions are 0 or more;
- timestamps and dates lie in ``[earliest_event_time, latest_event_time)``;
- a contact names its account; a partner touch names its opportunity, its account or both;
- tenant settings are the tenant's own (``record_id`` is the ``tenant_id``), and each of
  their ``ignored_domains`` is a plausible host name (``acme.com``, ``shop.acme.co.uk``;
  not a URL, an address, an IP address or a single label), at most
  :data:`MAX_IGNORED_DOMAINS` of them;
- a ``DELETE`` is checked on its envelope (event and tenant id, record id, version, event
  time, source) and the ids it is routed by only (an opportunity's or contact's account; a
  touch's opportunity or account): its other fields carry no data and may be left empty.

Pure and cheap: the per-type field lists are worked out once from the schemas, so a check
is a few comparisons per field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .catalog import CONTROL_TYPES, INBOUND_TYPES, OUTBOUND_TYPES, Catalog, default_catalog
from .exceptions import InvalidEventError

INPUT_TYPES: tuple[str, ...] = INBOUND_TYPES + CONTROL_TYPES

#: Fields holding an id (of an event, tenant, record or partnership).
ID_FIELDS = frozenset({
    "event_id", "tenant_id", "record_id", "account_record_id", "opportunity_record_id",
    "partner_tenant_id", "partnership_id", "tenant_a", "tenant_b",
})

#: Per type, the ids besides the envelope's that a DELETE still needs (it is routed by them).
DELETE_ROUTING_IDS: dict[str, tuple[str, ...]] = {
    "opportunity": ("account_record_id",),
    "contact": ("account_record_id",),
    "partner_touch": ("opportunity_record_id", "account_record_id"),
}
_DELETE_IDS = ("event_id", "tenant_id", "record_id")

#: The most domains one tenant's settings may ignore.
MAX_IGNORED_DOMAINS = 1000
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

_UTC = dt.UTC


@dataclass(frozen=True)
class EventLimits:
    """Bounds on input values (from the settings: ``COSELLING_MAX_ID_LENGTH`` and so on).

    :param max_id_length: longest id, tenant id included.
    :param max_text_length: longest name or other text.
    :param earliest_event_time: first accepted timestamp (inclusive; dates: its day).
    :param latest_event_time: end of the accepted timestamps (exclusive; dates: its day).
    """

    max_id_length: int = 256
    max_text_length: int = 2000
    earliest_event_time: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=_UTC)
    latest_event_time: dt.datetime = dt.datetime(2100, 1, 1, tzinfo=_UTC)


@dataclass(frozen=True, slots=True)
class _Fields:
    """What to check in one event type, worked out once from its schema."""

    ids: tuple[str, ...]  # required, non-null
    optional_ids: tuple[str, ...]  # nullable
    texts: tuple[str, ...]  # strings, nullable or not
    times: tuple[str, ...]  # timestamp-millis, nullable or not
    dates: tuple[str, ...]  # date, nullable or not
    nested_ids: tuple[tuple[str, str], ...]  # (array field, id field of its records)


class EventValidator:
    """Checks parsed or decoded input events against :class:`EventLimits`.

    :param limits: the bounds; the defaults when not given.
    :param catalog: the schemas the field lists are taken from.
    """

    def __init__(self, limits: EventLimits | None = None, catalog: Catalog | None = None):
        self.limits = limits or EventLimits()
        if self.limits.earliest_event_time >= self.limits.latest_event_time:
            raise ValueError("earliest_event_time must be before latest_event_time")
        catalog = catalog or default_catalog()
        self._fields = {t: _fields_of(catalog.current(t).source) for t in INPUT_TYPES}
        self._first_day = self.limits.earliest_event_time.date()
        self._last_day = self.limits.latest_event_time.date()
        self._extra: dict[str, Callable[[dict[str, Any]], None]] = {
            "contact": _contact_names_account,
            "partner_touch": _touch_names_opportunity_or_account,
            "tenant_settings": self._tenant_settings,
        }

    def check(self, event_type: str, record: dict[str, Any]) -> None:
        """Raise :class:`InvalidEventError` naming the field if ``record`` is not accepted."""
        fields = self._fields.get(event_type)
        if fields is None:
            what = "pipeline output, not input" if event_type in OUTBOUND_TYPES else "not input"
            raise InvalidEventError("type", f"{event_type!r} events are {what}; input types: "
                                    f"{', '.join(INPUT_TYPES)}")
        if not isinstance(record, dict):
            raise InvalidEventError("type", f"a {event_type} event must be a record")
        version = record.get("version")
        if type(version) is not int or version < 0:
            raise InvalidEventError("version", f"must be an integer of 0 or more, got {version!r}")
        if record.get("op") == "DELETE":
            self._delete(event_type, record)
            return
        for name in fields.ids:
            self._id(name, record.get(name))
        for name in fields.optional_ids:
            value = record.get(name)
            if value is not None:
                self._id(name, value)
        for name in fields.texts:
            self._text(name, record.get(name))
        for name in fields.times:
            self._time(name, record.get(name))
        for name in fields.dates:
            self._date(name, record.get(name))
        for array, name in fields.nested_ids:
            items = record.get(array)
            if not isinstance(items, list):
                raise InvalidEventError(array, "must be an array")
            for i, item in enumerate(items):
                self._id(f"{array}[{i}].{name}", item.get(name) if isinstance(item, dict)
                         else None)
        extra = self._extra.get(event_type)
        if extra is not None:
            extra(record)

    def _delete(self, event_type: str, record: dict[str, Any]) -> None:
        for name in _DELETE_IDS:
            self._id(name, record.get(name))
        self._text("source", record.get("source"))
        self._time("occurred_at", record.get("occurred_at"))
        for name in DELETE_ROUTING_IDS.get(event_type, ()):
            value = record.get(name)
            if event_type != "partner_touch" and not value:
                raise InvalidEventError(name, f"a DELETE ({event_type}) must still name its "
                                        f"{name} (the pipeline routes it by that id)")
            if value is not None:
                self._id(name, value)
        extra = self._extra.get(event_type)
        if extra is not None:
            extra(record)

    def _tenant_settings(self, record: dict[str, Any]) -> None:
        if record.get("record_id") != record.get("tenant_id"):
            raise InvalidEventError("record_id", "tenant settings are the tenant's own: "
                                    "record_id must be the tenant_id")
        domains = record.get("ignored_domains", [])
        if not isinstance(domains, list):
            raise InvalidEventError("ignored_domains", "must be an array")
        if len(domains) > MAX_IGNORED_DOMAINS:
            raise InvalidEventError("ignored_domains", f"lists {len(domains)} domains; at most "
                                    f"{MAX_IGNORED_DOMAINS}")
        for i, domain in enumerate(domains):
            name = f"ignored_domains[{i}]"
            self._text(name, domain)
            problem = host_name_problem(domain)
            if problem:
                raise InvalidEventError(name, f"{domain!r} is not a host name: {problem}")

    def _id(self, name: str, value: Any) -> None:
        if type(value) is not str:
            raise InvalidEventError(name, f"must be a string id, got {_kind(value)}")
        if not value or value.isspace():
            raise InvalidEventError(name, "must not be empty")
        if len(value) > self.limits.max_id_length:
            raise InvalidEventError(name, f"is {len(value)} characters long; ids are at most "
                                    f"{self.limits.max_id_length} (COSELLING_MAX_ID_LENGTH)")
        if not value.isprintable():
            _check_unicode(name, value)
            raise InvalidEventError(name, "contains control or invisible characters")
        if value[0].isspace() or value[-1].isspace():
            raise InvalidEventError(name, "starts or ends with blanks")

    def _text(self, name: str, value: Any) -> None:
        if value is None:
            return
        if type(value) is not str:
            raise InvalidEventError(name, f"must be text, got {_kind(value)}")
        if len(value) > self.limits.max_text_length:
            raise InvalidEventError(name, f"is {len(value)} characters long; text is at most "
                                    f"{self.limits.max_text_length} (COSELLING_MAX_TEXT_LENGTH)")
        if not value.isascii():
            _check_unicode(name, value)

    def _time(self, name: str, value: Any) -> None:
        if value is None and name != "occurred_at":
            return
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise InvalidEventError(name, f"must be a timestamp with a time zone, got "
                                    f"{_kind(value)}")
        if not self.limits.earliest_event_time <= value < self.limits.latest_event_time:
            raise InvalidEventError(name, f"{_iso(value)} is outside the accepted time window "
                                    f"{_iso(self.limits.earliest_event_time)} to "
                                    f"{_iso(self.limits.latest_event_time)} "
                                    "(COSELLING_EARLIEST_EVENT_TIME, "
                                    "COSELLING_LATEST_EVENT_TIME)")

    def _date(self, name: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise InvalidEventError(name, f"must be a date, got {_kind(value)}")
        if not self._first_day <= value < self._last_day:
            raise InvalidEventError(name, f"{value.isoformat()} is outside the accepted dates "
                                    f"{self._first_day.isoformat()} to "
                                    f"{self._last_day.isoformat()} "
                                    "(COSELLING_EARLIEST_EVENT_TIME, "
                                    "COSELLING_LATEST_EVENT_TIME)")


def _check_unicode(name: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEventError(name, "is not valid UTF-8 text (undecodable byte or lone "
                                f"surrogate at character {exc.start + 1})") from None


def host_name_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a plausible host name (``acme.com``); None: nothing.

    Letters outside ASCII are accepted as an internationalized name (IDNA).
    """
    if type(value) is not str or not value:
        return "expected a non-empty host name such as acme.com"
    if any(c in value for c in "/:@ ?#") or value != value.strip():
        return "a bare host name such as acme.com, without scheme, path, port or address"
    labels = value.removesuffix(".").lower().split(".")
    if len(labels) < 2:
        return "needs at least two labels, such as acme.com"
    if "" in labels:
        return "an empty label (two dots in a row, or a leading dot)"
    try:
        labels = [label if label.isascii() else label.encode("idna").decode("ascii")
                  for label in labels]
    except UnicodeError:
        return "not a valid internationalized domain name"
    if len(".".join(labels)) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return "labels are 1 to 63 letters, digits or inner hyphens, 253 characters in all"
    if labels[-1].isdigit():
        return "an IP address names no company"
    return None


def _contact_names_account(record: dict[str, Any]) -> None:
    if record.get("account_record_id") is None:
        raise InvalidEventError("account_record_id", "a contact must name its account "
                                "(account_record_id is null)")


def _touch_names_opportunity_or_account(record: dict[str, Any]) -> None:
    if record.get("opportunity_record_id") is None and record.get("account_record_id") is None:
        raise InvalidEventError("account_record_id", "a partner touch must name its "
                                "opportunity_record_id, its account_record_id or both "
                                "(both are null)")


def _fields_of(source: dict[str, Any]) -> _Fields:
    ids, optional_ids, texts, times, dates, nested = [], [], [], [], [], []
    for f in source["fields"]:
        name, avro = f["name"], f["type"]
        nullable = isinstance(avro, list) and "null" in avro
        if isinstance(avro, list):
            avro = next(b for b in avro if b != "null")
        kind = avro if isinstance(avro, str) else avro.get("type")
        logical = avro.get("logicalType") if isinstance(avro, dict) else None
        if logical == "timestamp-millis":
            times.append(name)
        elif logical == "date":
            dates.append(name)
        elif kind == "string":
            if name in ID_FIELDS:
                (optional_ids if nullable else ids).append(name)
            else:
                texts.append(name)
        elif kind == "array" and isinstance(avro.get("items"), dict) \
                and avro["items"].get("type") == "record":
            nested.extend((name, sub["name"]) for sub in avro["items"]["fields"]
                          if sub["name"] in ID_FIELDS or sub["name"] == "from_tenant")
    return _Fields(tuple(ids), tuple(optional_ids), tuple(texts), tuple(times), tuple(dates),
                   tuple(nested))


def _iso(value: dt.datetime) -> str:
    return value.astimezone(_UTC).isoformat().replace("+00:00", "Z")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__
