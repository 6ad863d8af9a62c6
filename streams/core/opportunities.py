"""Partner touches on a deal, and which account holds the deal. Part of stage two.

A touch that names an opportunity counts for that opportunity wherever the opportunity
is, so its home (see :mod:`.homes`) places it at the opportunity's key
(:func:`~.statekeys.opportunity_key`), not its account's: CRM exports such as Salesforce
campaign influence or HubSpot deal associations name only the deal. The opportunity
key's state holds

- the touches placed there (versioned, like every record; a touch that moved on to
  another deal or account, or was deleted, is a tombstone), and
- the link to the account that holds the opportunity's highest version (or none once the
  opportunity is deleted), learnt from :class:`OpportunityLink` messages that the account
  stage sends whenever an opportunity event changes an account's state.

It forwards the touches to the linked account in :class:`OpportunityTouches` messages;
an account that no longer (or never validly) holds the opportunity gets a retraction,
which also drops that account's outdated copy of the opportunity. So a touch that came
before its opportunity waits here and counts once the opportunity arrives, and an
opportunity that moves to another account takes its touches along and leaves nothing at
the old one.

At-least-once delivery: links carry the opportunity's version (the highest wins) and
forwarded touches a per-opportunity sequence number (the highest wins), so duplicated or
reordered messages leave the same final state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.internal import is_internal

from .homes import RecordPlacement
from .records import apply_entry, apply_versioned, live_entries, shown_touch
from .resolver import Assignment


@dataclass(slots=True)  # not frozen: see accounts.SnapshotMessage
class OpportunityLink:
    """Account -> opportunity key: this account now holds this version of the opportunity.

    ``present`` is False when the version is a delete.
    """

    key: str
    opportunity_id: str
    version: int
    account_key: str
    present: bool

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes back onto the by-account topic)."""
        return {"kind": "link", "opportunity_id": self.opportunity_id,
                "version": self.version, "account_key": self.account_key,
                "present": self.present}


@dataclass(slots=True)  # not frozen: see accounts.SnapshotMessage
class OpportunityTouches:
    """Opportunity key -> account: the opportunity's live touches, or a retraction.

    ``touches`` (record id -> versioned entry) when the account holds the opportunity;
    None when it does not (any more): the account forgets the forwarded touches and drops
    its copy of the opportunity if older than ``version``.
    """

    key: str
    opportunity_id: str
    seq: int
    version: int
    touches: dict[str, dict[str, Any]] | None

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes back onto the by-account topic)."""
        return {"kind": "touches", "opportunity_id": self.opportunity_id, "seq": self.seq,
                "version": self.version, "touches": self.touches}


#: Messages the by-account topic carries besides inbound events (an :class:`Assignment`
#: comes from the resolver, see :mod:`.resolver`).
InternalMessage = OpportunityLink | OpportunityTouches | RecordPlacement | Assignment


def is_internal_payload(value: bytes) -> bool:
    """Whether a by-account message is an internal message, not an inbound event.

    Internal messages start with ``{`` (JSON, as earlier versions wrote them) or the
    internal Avro marker (see :mod:`schemas.internal`); inbound events are Avro with a
    framing header starting with 0x00 or 0xC3.
    """
    return is_internal(value)


def internal_message_from_json(key: str, data: dict[str, Any]) -> InternalMessage:
    """Inverse of ``to_json`` of any internal message, with the message key."""
    if data["kind"] == "placed":
        return RecordPlacement.from_json(key, data)
    if data["kind"] == "link":
        return OpportunityLink(key, data["opportunity_id"], data["version"],
                               data["account_key"], data["present"])
    if data["kind"] == "assigned":
        return Assignment.from_json(key, data)
    if data["kind"] == "touches":
        return OpportunityTouches(key, data["opportunity_id"], data["seq"], data["version"],
                                  data["touches"])
    raise ValueError(f"unknown internal message kind {data['kind']!r}")


def new_opportunity_state(opportunity_id: str) -> dict[str, Any]:
    """Empty state of an opportunity key."""
    return {"opportunity_id": opportunity_id, "touches": {}, "link": None, "seq": 0}


def apply_touch(state: dict[str, Any], msg: RecordPlacement) -> list[OpportunityTouches] | None:
    """Apply a touch placed by its home to the opportunity's state; None if no change.

    Otherwise the message forwarding the touches to the deal's account, if it has one.
    """
    if not apply_entry(state["touches"], msg.record_id, msg.entry):
        return None
    target = state["link"]["to"] if state["link"] else None
    return [] if target is None else [_send(state, target, live_entries(state["touches"]))]


def apply_link(state: dict[str, Any], msg: OpportunityLink) -> list[OpportunityTouches]:
    """Apply an account's link message; say which accounts must update their touches."""
    link = state["link"]
    if link is None or msg.version > link["v"]:
        before = link["to"] if link else None
        after = msg.account_key if msg.present else None
        state["link"] = {"v": msg.version, "to": after}
        if before == after:  # a new version on the same account: nothing to forward
            return []
        out = []
        if before is not None:
            out.append(_send(state, before, None))
        if after is not None and state["touches"]:
            touches = live_entries(state["touches"])
            if touches:
                out.append(_send(state, after, touches))
        return out
    if msg.present and msg.account_key != link["to"]:
        # An older version still held by another account (delivered after the move).
        return [_send(state, msg.account_key, None)]
    return []


def apply_forwarded(account_state: dict[str, Any], msg: OpportunityTouches) -> bool:
    """Apply forwarded touches (or their retraction) to an account; True if it changed."""
    linked = account_state.setdefault("linked", {})
    known = linked.get(msg.opportunity_id)
    if known is not None and known["seq"] >= msg.seq:
        return False
    linked[msg.opportunity_id] = {"seq": msg.seq, "touches": None if msg.touches is None else
                                  {rid: shown_touch(e) for rid, e in msg.touches.items()}}
    if msg.touches is None:
        apply_versioned(account_state["opps"], {
            "record_id": msg.opportunity_id, "version": msg.version, "op": "DELETE",
            "occurred_at": 0})
    return True


def forwarded_touches(account_state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Record id -> entry of every touch forwarded to an account by its opportunities."""
    out: dict[str, dict[str, Any]] = {}
    for forwarded in account_state.get("linked", {}).values():
        if forwarded["touches"]:
            out.update(forwarded["touches"])
    return out


def _send(state: dict[str, Any], to: str, touches: dict[str, Any] | None) -> OpportunityTouches:
    state["seq"] += 1
    return OpportunityTouches(to, state["opportunity_id"], state["seq"], state["link"]["v"],
                              touches)
