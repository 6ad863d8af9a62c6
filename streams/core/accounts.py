"""Stage two: per (tenant, account) state and the account's snapshot for its company.

Everything a tenant's CRM says about one account (the account record, its
opportunities, contacts and partner touches on the account) meets on one partition, keyed
by ``tenant + US + account_record_id``. Contacts and partner touches are applied at their
own home key first, which places each at the key its latest version names and takes it
away from the key an older version named (see :mod:`.homes`). Touches on a deal are
placed at the deal's own key and forwarded to whichever account holds the deal (see
:mod:`.opportunities`). Each
change produces a fresh *snapshot* of the account, sent to the partition that owns the
account's company key. When the key changes (a new domain, say) the old company gets a
retraction and the new one the snapshot. Snapshots carry a per-account sequence number so
the company stage ignores stale or repeated ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .companykey import CompanyMatch, company_key
from .evidence import match_evidence
from .homes import RecordPlacement, apply_at_home, home_entry, new_home_state
from .opportunities import (
    InternalMessage,
    OpportunityLink,
    apply_forwarded,
    apply_link,
    apply_touch,
    forwarded_touches,
    new_opportunity_state,
)
from .records import KEPT_FIELDS, apply_entry, apply_versioned
from .statekeys import HOMED_TYPES, KEY_SEPARATOR, opportunity_key, opportunity_of, state_key

__all__ = ["KEY_SEPARATOR", "AccountStage", "SnapshotMessage", "latest_snapshots"]

_BUCKETS = {"opportunity": "opps", "contact": "contacts", "partner_touch": "touches"}


@dataclass(slots=True)
class SnapshotMessage:
    """One account's current snapshot (or its retraction) for one company.

    Not frozen: one or more are built per event, and a frozen dataclass is built about
    four times slower. Nothing changes a message once made (the same holds for the
    internal messages of :mod:`.homes` and :mod:`.opportunities`).
    """

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


Decision = list[SnapshotMessage | InternalMessage]


def latest_snapshots(decisions: list[Decision]) -> list[Decision]:
    """The messages of a batch's events without the snapshots a later one supersedes.

    A snapshot is the account's whole state for its company and carries the next sequence
    number, so the company stage applies the last snapshot of an (account, company) the
    same whether or not it saw the earlier ones: only that one is sent. An account that
    moved keeps one message per company (the retraction for the old, the snapshot for
    the new). Internal messages are all kept.
    """
    last: dict[tuple[str, str], tuple[int, int]] = {}
    for i, messages in enumerate(decisions):
        for j, m in enumerate(messages):
            if isinstance(m, SnapshotMessage):
                last[(m.company_key, m.account_key)] = (i, j)
    return [[m for j, m in enumerate(messages) if not isinstance(m, SnapshotMessage)
             or last[(m.company_key, m.account_key)] == (i, j)]
            for i, messages in enumerate(decisions)]


def stored_entry(
    state: MutableMapping[str, Any], event_type: str, record: dict[str, Any]
) -> dict[str, Any] | None:
    """The versioned entry (see :mod:`.records`) ``state`` holds for the event's record.

    For a touch or contact, its home's entry: the version applied, wherever it counts.
    """
    current = state.get(state_key(event_type, record))
    if current is None:
        return None
    if event_type in HOMED_TYPES:
        return home_entry(current, record["record_id"])
    bucket = current["account"] if event_type == "account" else current[_BUCKETS[event_type]]
    return bucket.get(record["record_id"])


def _new_state() -> dict[str, Any]:
    return {"account": {}, "opps": {}, "contacts": {}, "touches": {}, "linked": {}, "seq": 0,
            "company": None}


_OPP_FIELDS = KEPT_FIELDS["opportunity"]  # what a snapshot shows of a deal: all it keeps
_TOUCH_FIELDS = KEPT_FIELDS["partner_touch"][:6]  # what a snapshot shows of a touch


def _match(state: dict[str, Any], entry: dict[str, Any]) -> tuple[str, str] | None:
    """(company key, method) of the account entry; computed once per account version.

    Domain parsing is the dearest step of an update, and most updates (deals, touches,
    contacts) leave the account record as it was: the match is kept in the state beside
    the version it was computed from (``"match": [version, key, method]``, or
    ``[version]`` when the account matches no company).
    """
    cached = state.get("match")
    if cached is not None and cached[0] == entry["v"]:
        return (cached[1], cached[2]) if len(cached) == 3 else None
    account = entry["d"]
    found = company_key(domain=account.get("domain"), website=account.get("website"),
                        name=account.get("name"), country=account.get("country"))
    state["match"] = [entry["v"]] if found is None else [entry["v"], found.key, found.method]
    return None if found is None else (found.key, found.method)


def snapshot(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(company key, match method, snapshot) of an account state, or None if unmatched."""
    accounts = state["account"]
    if not accounts:
        return None
    if len(accounts) == 1:  # a key holds one account record
        (record_id, account_entry), = accounts.items()
        if account_entry["d"] is None:
            return None
    else:
        live_accounts = [(rid, e) for rid, e in accounts.items() if e["d"] is not None]
        if not live_accounts:
            return None
        (record_id, account_entry), = live_accounts
    match = _match(state, account_entry)
    if match is None:
        return None
    key, method = match
    account = account_entry["d"]
    last_activity = account_entry["t"]
    opps = []
    opp_entries = state["opps"].items()
    if len(opp_entries) > 1:
        opp_entries = sorted(opp_entries)
    for _, entry in opp_entries:
        opp = entry["d"]
        if opp is None:
            continue
        if entry["t"] > last_activity:
            last_activity = entry["t"]
        # Stored with the snapshot's fields; state saved before records kept only those
        # (a replay database) may hold whole records.
        opps.append(opp if len(opp) == len(_OPP_FIELDS) else
                    {k: opp.get(k) for k in _OPP_FIELDS})
    touches = []
    if state["touches"] or state.get("linked"):
        touch_entries = {rid: e for rid, e in state["touches"].items() if e["d"] is not None}
        if state.get("linked"):
            touch_entries.update(forwarded_touches(state))
        touch_items = sorted(touch_entries.items()) if len(touch_entries) > 1 else \
            touch_entries.items()
        for _, entry in touch_items:
            if entry["t"] > last_activity:
                last_activity = entry["t"]
            touch = entry["d"]
            touches.append({k: touch.get(k) for k in _TOUCH_FIELDS})
    contacts = 0
    for entry in state["contacts"].values():
        if entry["d"] is not None:
            contacts += 1
            if entry["t"] > last_activity:
                last_activity = entry["t"]
    return key, method, {
        "tenant_id": account["tenant_id"],
        "account_record_id": record_id,
        "name": account["name"],
        "relationship": account["relationship"],
        "match_method": method,
        "match_evidence": match_evidence(CompanyMatch(key, method), account),
        "opportunities": opps,
        "touches": touches,
        "contacts": contacts,
        "last_activity": last_activity,
    }


class AccountStage:
    """Applies inbound CRM events to account state and says which messages to send.

    Its output: :class:`SnapshotMessage` for the company stage, and internal messages
    (:class:`RecordPlacement`, :class:`OpportunityLink`, :class:`OpportunityTouches`) for
    this stage again, under their own keys (the stream sends them back onto the by-account topic).
    """

    def apply(
        self, state: MutableMapping[str, Any], event_type: str, record: dict[str, Any]
    ) -> list[SnapshotMessage | InternalMessage]:
        """Apply one decoded event; return the messages it causes (maybe none)."""
        key = state_key(event_type, record)
        current = state.get(key)
        if event_type in HOMED_TYPES:
            home = current or new_home_state()
            placed = apply_at_home(home, event_type, record)
            if placed is None:
                return []
            state[key] = home
            return list(placed)
        st = _new_state() if current is None else current
        bucket = st["account"] if event_type == "account" else st[_BUCKETS[event_type]]
        if not apply_versioned(bucket, record, KEPT_FIELDS[event_type]):
            return []
        out: list[SnapshotMessage | InternalMessage] = []
        if event_type == "opportunity":
            out.append(OpportunityLink(
                opportunity_key(record["tenant_id"], record["record_id"]), record["record_id"],
                record["version"], key, record["op"] != "DELETE"))
        out.extend(_snapshots(key, st))
        state[key] = st
        return out

    def apply_internal(
        self, state: MutableMapping[str, Any], msg: InternalMessage
    ) -> list[SnapshotMessage | InternalMessage]:
        """Apply a message this stage sent itself; return the messages it causes."""
        current = state.get(msg.key)
        out: list[SnapshotMessage | InternalMessage]
        if isinstance(msg, OpportunityLink):
            st = current or new_opportunity_state(msg.opportunity_id)
            out = list(apply_link(st, msg))
        elif isinstance(msg, RecordPlacement) and (deal := opportunity_of(msg.key)) is not None:
            st = current or new_opportunity_state(deal)
            forwarded = apply_touch(st, msg)
            if forwarded is None:
                return []
            out = list(forwarded)
        else:
            st = _new_state() if current is None else current
            if isinstance(msg, RecordPlacement):
                changed = apply_entry(st[_BUCKETS[msg.event_type]], msg.record_id, msg.entry)
            else:
                changed = apply_forwarded(st, msg)
            if not changed:
                return []
            out = list(_snapshots(msg.key, st))
        state[msg.key] = st
        return out


    def settle(
        self, state: MutableMapping[str, Any], messages: Decision, here: Callable[[str], bool]
    ) -> Decision:
        """Apply at once the internal messages for keys ``here`` owns; return the rest.

        ``here(key)``: the key's state is on this partition. Sending such a message back
        onto the by-account topic only for this partition to read it again is a write that
        derives nothing new: applying it now is the order the replay path uses (see
        :class:`~.pipeline.Pipeline`), and internal messages tolerate any order and
        repetition. What it causes is settled the same way; snapshots are all returned.
        """
        out: Decision = []
        work = deque(messages)
        while work:
            msg = work.popleft()
            if isinstance(msg, SnapshotMessage) or not here(msg.key):
                out.append(msg)
            else:
                work.extend(self.apply_internal(state, msg))
        return out


def _snapshots(key: str, st: dict[str, Any]) -> list[SnapshotMessage]:
    """The snapshot (and retraction from a former company) of a changed account state."""
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
    return out
