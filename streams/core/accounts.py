"""Stage two: per (tenant, account) state and the account's snapshot for its company.

Everything a tenant's CRM says about one account (the account record, its
opportunities, contacts and partner touches on the account) meets on one partition, keyed
by ``tenant + US + account_record_id``. Contacts and partner touches are applied at their
own home key first, which places each at the key its latest version names and takes it
away from the key an older version named (see :mod:`.homes`). Touches on a deal are
placed at the deal's own key and forwarded to whichever account holds the deal (see
:mod:`.opportunities`). Each
change produces a fresh *snapshot* of the account, sent to the partition that owns the
account's company key. The company key is the one the resolver assigned (see
:mod:`.resolver`): when the account's match inputs (domains, normalized name, country)
change, or the account is deleted, the stage sends them in a :class:`~.resolver.MatchInput`,
and the resolver answers with an :class:`~.resolver.Assignment` for every account whose
company changed (another account's record can merge or split companies). Until the
first assignment an account has no company; a deleted one has none at once. When the key
changes the old company gets a retraction and the new one the snapshot. Snapshots and
assignments carry a per-account sequence number so stale or repeated ones are ignored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .companykey import normalize_name, registrable_domain
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
from .records import KEPT_FIELDS, apply_entry, apply_versioned, shown_touch, shown_touch_data
from .resolver import Assignment, MatchInput
from .statekeys import HOMED_TYPES, KEY_SEPARATOR, opportunity_key, opportunity_of, state_key

__all__ = ["KEY_SEPARATOR", "AccountStage", "SnapshotMessage", "latest_snapshots",
           "match_input"]

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


Decision = list[SnapshotMessage | InternalMessage | MatchInput]


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


def match_input(state: dict[str, Any], entry: dict[str, Any] | None) -> list[Any]:
    """[domains, name, country]: the match inputs of an account entry (None: deleted).

    ``domains``: [registrable domain, field] pairs, ``domain`` before ``website`` (a
    website's with its text as a third item, for the evidence). Domain
    parsing is the dearest step of an update, and most updates (deals, touches, contacts)
    leave the account record as it was: the inputs are kept in the state beside the
    version they were computed from (``"inputs": [version, domains, name, country]``),
    and carried to a new version of the record that leaves the fields they come from
    (see :func:`_carry_inputs`).
    """
    if entry is None or entry["d"] is None:
        return [[], None, ""]
    cached = state.get("inputs")
    if cached is not None and cached[0] == entry["v"]:
        return cached[1:]
    account = entry["d"]
    domains: list[list[str]] = []
    for field in ("domain", "website"):
        found = registrable_domain(account.get(field))
        if found and all(found != d[0] for d in domains):
            # A website's own text is quoted in the evidence: kept beside its domain.
            domains.append([found, field] if field == "domain" else
                           [found, field, str(account[field])[:_QUOTED_WEBSITE]])
    country = (account.get("country") or "").strip().upper().replace(KEY_SEPARATOR, "")
    inputs = [domains, normalize_name(account.get("name")), country]
    state["inputs"] = [entry["v"], *inputs]
    return inputs


#: The account fields :func:`match_input` reads.
_MATCHED_FIELDS = ("domain", "website", "name", "country")


def _carry_inputs(state: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> None:
    """Let the match inputs cached for entry ``before`` stand for its new version ``after``.

    Only when the new version leaves the fields the inputs come from as they were (a
    relationship changed, say): :func:`match_input` then finds them without parsing the
    domains and name again.
    """
    cached = state.get("inputs")
    old, new = before["d"], after["d"]
    if (cached is not None and cached[0] == before["v"] and old is not None
            and new is not None and all(old.get(f) == new.get(f) for f in _MATCHED_FIELDS)):
        cached[0] = after["v"]


def _legacy_assignment(state: dict[str, Any]) -> list[str] | None:
    """The company a state saved before the resolver existed matched (until assigned).

    Such a state keeps ``"match": [version, key, method]``: the account stays where it
    was until the resolver's first assignment, rather than leaving its company meanwhile.
    """
    match = state.get("match")
    return [match[1], match[2], ""] if match and len(match) == 3 else None


def _live_account(state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(record id, entry) of the account record a key holds, unless deleted or absent."""
    accounts = state["account"]
    if len(accounts) == 1:  # a key holds one account record
        (record_id, entry), = accounts.items()
        return None if entry["d"] is None else (record_id, entry)
    live_accounts = [(rid, e) for rid, e in accounts.items() if e["d"] is not None]
    return live_accounts[0] if live_accounts else None


def snapshot(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(company key, match method, snapshot) of an account state, or None if unmatched.

    The company is the one the resolver last assigned (:mod:`.resolver`); an account it
    has not assigned yet (or assigned none) has no snapshot.
    """
    return _snapshot(state, _live_account(state))


def _snapshot(
    state: dict[str, Any], live: tuple[str, dict[str, Any]] | None
) -> tuple[str, str, dict[str, Any]] | None:
    """:func:`snapshot`, given the state's live account record (:func:`_live_account`)."""
    assigned = state.get("assigned") if "assigned" in state else _legacy_assignment(state)
    if live is None or assigned is None:
        return None
    record_id, account_entry = live
    key, method, evidence = assigned
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
            # Kept with the snapshot's fields (see shown_touch); state saved before
            # accounts trimmed them holds more.
            touches.append(shown_touch_data(entry["d"]))
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
        "match_evidence": evidence,
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
    ) -> Decision:
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
        # the key's one account record before this version (see _carry_inputs)
        before = bucket.get(record["record_id"]) \
            if event_type == "account" and len(bucket) == 1 else None
        if not apply_versioned(bucket, record, KEPT_FIELDS[event_type]):
            return []
        if before is not None:
            _carry_inputs(st, before, bucket[record["record_id"]])
        out: Decision = []
        if event_type == "opportunity":
            out.append(OpportunityLink(
                opportunity_key(record["tenant_id"], record["record_id"]), record["record_id"],
                record["version"], key, record["op"] != "DELETE"))
        out.extend(_snapshots(key, st, event_type == "account"))
        state[key] = st
        return out

    def apply_internal(
        self, state: MutableMapping[str, Any], msg: InternalMessage
    ) -> Decision:
        """Apply a message this stage sent itself; return the messages it causes."""
        current = state.get(msg.key)
        out: list[SnapshotMessage | InternalMessage | MatchInput]
        if isinstance(msg, Assignment):
            st = _new_state() if current is None else current
            if msg.seq <= st.get("aseq", 0):
                return []
            st["aseq"] = msg.seq
            st["assigned"] = None if msg.company_key is None else \
                [msg.company_key, msg.method, msg.evidence]
            out = list(_snapshots(msg.key, st, False))
        elif isinstance(msg, OpportunityLink):
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
                entry = shown_touch(msg.entry) if msg.event_type == "partner_touch" \
                    else msg.entry
                changed = apply_entry(st[_BUCKETS[msg.event_type]], msg.record_id, entry)
            else:
                changed = apply_forwarded(st, msg)
            if not changed:
                return []
            out = list(_snapshots(msg.key, st, False))
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
            if isinstance(msg, SnapshotMessage | MatchInput) or not here(msg.key):
                out.append(msg)
            else:
                work.extend(self.apply_internal(state, msg))
        return out


def _snapshots(
    key: str, st: dict[str, Any], account_changed: bool
) -> list[SnapshotMessage | MatchInput]:
    """The messages of a changed account state.

    Its match inputs for the resolver if they changed; the retraction from a former
    company and the snapshot for the current one. The inputs come from the account
    record alone: unless ``account_changed`` (an account event was applied), those
    sent stand and are not looked at again.
    """
    out: list[SnapshotMessage | MatchInput] = []
    live = _live_account(st)
    # The company is the resolver's last assignment, kept as it is while the account is
    # deleted (a deleted account has no snapshot): the resolver answers the deletion's
    # inputs if its company changes. Clearing it here would part the two whenever the
    # inputs of a re-creation reach the resolver before those of the deletion: it sees
    # the inputs it had (no new assignment), then the deletion's as stale.
    if account_changed or "sent" not in st:
        inputs = match_input(st, None if live is None else live[1])
        if inputs != st.get("sent", _NO_INPUTS):
            st["sent"] = inputs
            st["mseq"] = st.get("mseq", 0) + 1
            tenant = live[1]["d"]["tenant_id"] if live else key.split(KEY_SEPARATOR, 1)[0]
            out.append(MatchInput(key, tenant, inputs[0], inputs[1], inputs[2],
                                  st["mseq"]))
    snap = _snapshot(st, live)
    new_company = snap[0] if snap else None
    if st["company"] is not None and st["company"] != new_company:
        st["seq"] += 1
        out.append(SnapshotMessage(st["company"], key, st["seq"], None))
    if snap is not None:
        st["seq"] += 1
        out.append(SnapshotMessage(new_company, key, st["seq"], snap[2]))
    st["company"] = new_company
    return out


_NO_INPUTS: list[Any] = [[], None, ""]
#: How much of a website's text the match inputs keep (the evidence quotes less).
_QUOTED_WEBSITE = 200
