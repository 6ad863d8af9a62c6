"""Stage two: per (tenant, account) state and the account's snapshot for its company.

Everything a tenant's CRM says about one account (the account record, its
opportunities, contacts and partner touches) meets on one partition, keyed by
``tenant + US + account_record_id``. Each change produces a fresh *snapshot* of the
account, sent to the partition that owns the account's company key. When the key changes
(a new domain, say) the old company gets a retraction and the new one the snapshot.
Snapshots carry a per-account sequence number so the company stage ignores stale or
repeated ones.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import UnroutableEventError
from .companykey import company_key
from .records import apply_versioned, live

KEY_SEPARATOR = "\x1f"  # ASCII unit separator: never part of a tenant or record id
_BUCKETS = {"opportunity": "opps", "contact": "contacts", "partner_touch": "touches"}


@dataclass(frozen=True, slots=True)
class SnapshotMessage:
    """One account's current snapshot (or its retraction) for one company."""

    company_key: str
    account_key: str
    seq: int
    snapshot: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes on the by-company topic)."""
        return {"account_key": self.account_key, "seq": self.seq, "snapshot": self.snapshot}

    @classmethod
    def from_json(cls, company_key: str, data: dict[str, Any]) -> SnapshotMessage:
        """Inverse of :meth:`to_json`."""
        return cls(company_key, data["account_key"], data["seq"], data["snapshot"])


def account_key_of(event_type: str, record: dict[str, Any]) -> str:
    """The state key an inbound event belongs to."""
    account = record["record_id"] if event_type == "account" else record["account_record_id"]
    if not account:
        raise UnroutableEventError(
            f"{event_type} {record['record_id']!r} of tenant {record['tenant_id']!r} has no "
            "account_record_id: it cannot be matched to a company"
        )
    return f"{record['tenant_id']}{KEY_SEPARATOR}{account}"


def stored_entry(
    state: MutableMapping[str, Any], event_type: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The versioned entry (see :mod:`.records`) ``state`` holds for the event's record."""
    current = state.get(account_key_of(event_type, record))
    if current is None:
        return None
    bucket = current["account"] if event_type == "account" else current[_BUCKETS[event_type]]
    return bucket.get(record["record_id"])


def _new_state() -> dict[str, Any]:
    return {"account": {}, "opps": {}, "contacts": {}, "touches": {}, "seq": 0, "company": None}


def snapshot(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(company key, match method, snapshot) of an account state, or None if unmatched."""
    accounts = live(state["account"])
    if not accounts:
        return None
    (record_id, account), = accounts.items()
    match = company_key(domain=account.get("domain"), website=account.get("website"),
                        name=account.get("name"), country=account.get("country"))
    if match is None:
        return None
    entries = [state["account"][record_id]]
    opps = []
    for rid, opp in sorted(live(state["opps"]).items()):
        entries.append(state["opps"][rid])
        opps.append({k: opp.get(k) for k in (
            "record_id", "name", "stage", "is_closed", "is_won", "amount", "currency",
            "close_date", "created_at", "occurred_at")})
    touches = []
    for rid, touch in sorted(live(state["touches"]).items()):
        entries.append(state["touches"][rid])
        touches.append({k: touch.get(k) for k in (
            "record_id", "opportunity_record_id", "partner_tenant_id", "touch_type",
            "partner_sourced", "occurred_at")})
    contacts = live(state["contacts"])
    entries.extend(state["contacts"][rid] for rid in contacts)
    return match.key, match.method, {
        "tenant_id": account["tenant_id"],
        "account_record_id": record_id,
        "name": account["name"],
        "relationship": account["relationship"],
        "match_method": match.method,
        "opportunities": opps,
        "touches": touches,
        "contacts": len(contacts),
        "last_activity": max(e["t"] for e in entries),
    }


class AccountStage:
    """Applies inbound CRM events to account state and says which snapshots to send."""

    def apply(
        self, state: MutableMapping[str, Any], event_type: str, record: dict[str, Any]
    ) -> list[SnapshotMessage]:
        """Apply one decoded event; return the snapshot messages it causes (maybe none)."""
        key = account_key_of(event_type, record)
        current = state.get(key)
        st = _new_state() if current is None else current
        bucket = st["account"] if event_type == "account" else st[_BUCKETS[event_type]]
        if not apply_versioned(bucket, record):
            return []
        out: list[SnapshotMessage] = []
        snap = snapshot(st)
        new_company = snap[0] if snap else None
        if st["company"] is not None and st["company"] != new_company:
            st["seq"] += 1
            out.append(SnapshotMessage(st["company"], key, st["seq"], None))
        if snap is not None:
            st["seq"] += 1
            out.append(SnapshotMessage(new_company, key, st["seq"], snap[2]))
        st["company"] = new_company
        state[key] = st
        return out
