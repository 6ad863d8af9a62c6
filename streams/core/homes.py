"""Homes of partner touches and contacts: one key per record, whatever it names. Stage two.

A touch or contact counts under the key its latest version names (see
:func:`~.statekeys.target_key`: a contact's account, a touch's deal or else its account),
and a later version may name another one, or be a delete naming only some of the ids.
So the event is not applied at the key it names but at the record's *home*
(:func:`~.statekeys.home_key`), whose state holds

- the record's highest version (a tombstone once deleted), and
- the key that version was placed at (none while deleted).

Whenever the highest version changes, the home places it at its target with a
:class:`RecordPlacement` message; when the target changes or the record is deleted, the
former target gets a placement of a tombstone of that same version, so nothing stays at
the old key. The target keeps each record's highest placed version
(:func:`~.records.apply_entry`); a home sends at most one placement per target and
version, so the version orders them and duplicated or reordered placements leave the
same final state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .records import KEPT_FIELDS, apply_versioned
from .statekeys import target_key


@dataclass(slots=True)  # not frozen: see accounts.SnapshotMessage
class RecordPlacement:
    """Home -> target key: this version of the record counts here, or (``d`` None) not.

    ``entry`` is a versioned entry (see :mod:`.records`).
    """

    key: str
    event_type: str
    record_id: str
    entry: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes back onto the by-account topic)."""
        return {"kind": "placed", "event_type": self.event_type,
                "record_id": self.record_id, "entry": self.entry}

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> RecordPlacement:
        """Inverse of :meth:`to_json`, with the message key."""
        return cls(key, data["event_type"], data["record_id"], data["entry"])


def new_home_state() -> dict[str, Any]:
    """Empty state of a home key."""
    return {"record": {}, "at": None}


def home_entry(state: dict[str, Any], record_id: str) -> dict[str, Any] | None:
    """The versioned entry a home holds for its record."""
    return state["record"].get(record_id)


def apply_at_home(
    state: dict[str, Any], event_type: str, record: dict[str, Any]
) -> list[RecordPlacement] | None:
    """Apply a touch or contact event at its home; None if it changed nothing.

    Otherwise the placements it causes: a tombstone for the former target if the record
    left it, and the new version for the current target.
    """
    if not apply_versioned(state["record"], record, KEPT_FIELDS[event_type]):
        return None
    record_id = record["record_id"]
    entry = state["record"][record_id]
    target = None if entry["d"] is None else target_key(event_type, entry["d"])
    out = []
    if state["at"] is not None and state["at"] != target:
        out.append(RecordPlacement(state["at"], event_type, record_id, {**entry, "d": None}))
    if target is not None:
        out.append(RecordPlacement(target, event_type, record_id, entry))
    state["at"] = target
    return out
