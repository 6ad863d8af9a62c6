"""A JSON Lines file of good events mixed with bad rows, and what each bad row is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ENVELOPE = {"source": "salesforce", "version": 1, "occurred_at": "2026-10-02T10:00:00Z",
            "op": "UPSERT"}


def _event(event_type: str, event_id: str, **fields) -> dict:
    return {"type": event_type, "event_id": event_id, "tenant_id": "acme", **ENVELOPE,
            **fields}


def _account(event_id: str, record_id: str, **fields) -> dict:
    return _event("account", event_id, **{
        "record_id": record_id, "name": f"Company {record_id}",
        "website": f"https://{record_id}.example.com", "relationship": "CUSTOMER", **fields})


@dataclass(frozen=True)
class Row:
    """One line of the mixed file: its bytes, and the field and reason if it is bad."""

    data: bytes
    field: str | None = None
    reason: str | None = None  # a part of the reason every path must give

    @property
    def bad(self) -> bool:
        return self.reason is not None

    @property
    def event(self) -> dict | None:
        """The row as JSON data, if it is JSON."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


def _json(obj: dict) -> bytes:
    return json.dumps(obj).encode()


def mixed_rows() -> list[Row]:
    """Good events with bad rows between them (every kind the validator refuses)."""
    return [
        Row(_json(_event("partnership", "good-p", record_id="acme-globex",
                         partnership_id="acme-globex", tenant_a="acme", tenant_b="globex",
                         status="ACTIVE", sharing=[{"from_tenant": "acme",
                                                    "population": "CUSTOMER",
                                                    "level": "FULL"}]))),
        Row(_json(_account("good-a1", "a1"))),
        Row(_json(_account("bad-version", "a2", version=-1)), "version", "0 or more"),
        Row(_json(dict(_account("bad-tenant", "a3"), tenant_id="")), "tenant_id",
            "must not be empty"),
        Row(_json(_account("bad-name", "a4", name="N" * 5_000_000)), "name",
            "5000000 characters long"),
        Row(_json(_account("good-1970", "a5", occurred_at="1970-01-01T00:00:01Z"))),
        Row(_json(_account("bad-9999", "a6", occurred_at="9999-01-01T00:00:00Z")),
            "occurred_at", "outside the accepted time window"),
        Row(_json(_account("bad-1969", "a7", occurred_at="1969-12-31T23:59:59Z")),
            "occurred_at", "outside the accepted time window"),
        Row(b'{"type": "account", "event_id": "bad-utf8", "name": "Caf\xe9"}', None,
            "not UTF-8 text"),
        Row(_json(_account("good-2099", "a8", occurred_at="2099-06-01T00:00:00Z"))),
        Row(_json({"type": "overlap", "event_id": "bad-overlap", "tenant_id": "acme",
                   "partner_tenant_id": "globex", "partnership_id": "acme-globex",
                   "company_key": "d:a1.example.com", "match_method": "domain",
                   "change": "STARTED", "version": 1,
                   "occurred_at": "2026-10-02T10:00:00Z"}), "type", "pipeline output"),
        Row(_json(_event("partner_touch", "bad-touch", record_id="t1",
                         partner_tenant_id="globex", touch_type="REFERRAL")),
            "account_record_id", "must name its opportunity_record_id"),
        Row(_json(_event("contact", "bad-contact", record_id="c1", title="CTO")),
            "account_record_id", "a contact must name its account"),
        Row(_json(_account("bad-id", "a\u001f9")), "record_id", "control"),
        Row(b'{"type": "account", "event_id": ', None, "not valid JSON"),
        Row(_json(_event("opportunity", "good-o1", record_id="o1", account_record_id="a1",
                         name="Deal", stage="Proposal", is_closed=False, is_won=False,
                         amount=1200, currency="USD", close_date="2026-12-01"))),
        Row(_json(_event("contact", "good-c1", record_id="c2", account_record_id="a1",
                         title="CTO"))),
        Row(_json(_event("partner_touch", "good-t1", record_id="t2", account_record_id="a1",
                         partner_tenant_id="globex", touch_type="REFERRAL"))),
    ]


def write_mixed_file(path: Path) -> list[Row]:
    """Write :func:`mixed_rows` to ``path`` (one per line); return them."""
    rows = mixed_rows()
    path.write_bytes(b"\n".join(r.data for r in rows) + b"\n")
    return rows
