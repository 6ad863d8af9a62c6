"""Stage three: per company, the overlaps, intros and attributions it yields, and changes.

State per company key: the snapshots of every tenant account at that company, the results
derived last time (kept after they end, as inactive, so an end is never forgotten) and a
version counter. Partnerships live beside them under ``~partnerships@<partition>``: every
partition of the company stream receives every partnership event.

Each input recomputes the company's results from its current inputs only, so the outcome
does not depend on the order inputs arrived in; the difference to the stored results is
what changed. Changed rows get the company's next version, so a replayed or duplicated
input rewrites identical rows (idempotent sinks) and a newer state always wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from .accounts import SnapshotMessage
from .attribution import AttributionConfig, attribution_rows
from .intros import intro_rows
from .overlaps import overlap_rows, pair_policies
from .policy import Partnership
from .records import apply_versioned, live
from .tenants import tenants_at

PARTNERSHIPS_PREFIX = "~partnerships@"

_CHANGE_WORDS = {
    "overlap": ("STARTED", "CHANGED", "ENDED"),
    "intro": ("RAISED", "UPDATED", "WITHDRAWN"),
    "attribution": ("RECORDED", "RECORDED", "RETRACTED"),
}
_OVERLAP_PRIVATE = ("counted_partner_populations", "visible")


@dataclass(frozen=True, slots=True)
class ResultChange:
    """One result row that changed: what goes to the sink, and maybe an outbound event."""

    kind: str
    key: str
    version: int
    active: bool
    row: dict[str, Any]
    #: STARTED/CHANGED/ENDED, RAISED/UPDATED/WITHDRAWN or RECORDED/RETRACTED; None when
    #: the change must not be announced (an overlap visible to nobody, before and after).
    change: str | None

    def to_json(self) -> dict[str, Any]:
        """The change as JSON data (what goes on the sink topic)."""
        return {"kind": self.kind, "key": self.key, "version": self.version,
                "active": self.active, "row": self.row, "change": self.change}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultChange:
        """Inverse of :meth:`to_json`."""
        return cls(data["kind"], data["key"], data["version"], data["active"], data["row"],
                   data["change"])


def partnerships_key(partition: int) -> str:
    """State key of the partnerships known to one partition."""
    return f"{PARTNERSHIPS_PREFIX}{partition}"


class CompanyStage:
    """Applies account snapshots and partnership events to company state.

    :param attribution: attribution window and half-life.
    """

    def __init__(self, attribution: AttributionConfig | None = None):
        self.attribution = attribution or AttributionConfig()

    def apply_snapshot(
        self, state: MutableMapping[str, Any], partition: int, msg: SnapshotMessage
    ) -> list[ResultChange]:
        """Apply one account snapshot (or retraction) to its company."""
        company = state.get(msg.company_key) or {
            "accounts": {}, "seqs": {}, "results": {}, "version": 0, "partition": partition,
        }
        if company["seqs"].get(msg.account_key, 0) >= msg.seq:
            return []
        company["seqs"][msg.account_key] = msg.seq
        if msg.snapshot is None:
            company["accounts"].pop(msg.account_key, None)
        else:
            company["accounts"][msg.account_key] = msg.snapshot
        company["partition"] = partition
        changes = self._recompute(msg.company_key, company, self._partnerships(state, partition))
        state[msg.company_key] = company
        return changes

    def apply_partnership(
        self, state: MutableMapping[str, Any], partition: int, record: dict[str, Any]
    ) -> list[ResultChange]:
        """Apply a partnership event; recompute every company of this partition it touches."""
        key = partnerships_key(partition)
        bucket = dict(state.get(key) or {})
        before = bucket.get(record["record_id"], {}).get("d")
        if not apply_versioned(bucket, record):
            return []
        state[key] = bucket
        after = bucket[record["record_id"]]["d"]
        tenants = {t for d in (before, after) if d for t in (d["tenant_a"], d["tenant_b"])}
        partnerships = [Partnership.from_record(d) for d in live(bucket).values()]
        changes: list[ResultChange] = []
        for company_key, company in list(state.items()):
            if company_key.startswith("~") or company.get("partition") != partition:
                continue
            present = {snap["tenant_id"] for snap in company["accounts"].values()}
            if len(present & tenants) < 2:
                continue  # active results always involve two present tenants
            found = self._recompute(company_key, company, partnerships)
            if found:
                state[company_key] = company
                changes.extend(found)
        return changes

    def _partnerships(self, state: MutableMapping[str, Any], partition: int) -> list[Partnership]:
        bucket = state.get(partnerships_key(partition)) or {}
        return [Partnership.from_record(d) for d in live(bucket).values()]

    def _recompute(
        self, company_key: str, company: dict[str, Any], partnerships: list[Partnership]
    ) -> list[ResultChange]:
        tenants = tenants_at(company["accounts"])
        pairs = pair_policies(tenants, partnerships)
        fresh: dict[str, tuple[str, dict[str, Any]]] = {}
        for kind, rows in (
            ("overlap", overlap_rows(company_key, tenants, pairs)),
            ("intro", intro_rows(company_key, tenants, pairs)),
            ("attribution", attribution_rows(company_key, tenants, self.attribution)),
        ):
            fresh.update({k: (kind, row) for k, row in rows.items()})
        results = company["results"]
        version = company["version"] + 1
        changes: list[ResultChange] = []
        for key in sorted(set(fresh) | {k for k, r in results.items() if r["a"]}):
            old = results.get(key)
            old_row = old["row"] if old and old["a"] else None
            if key in fresh:
                kind, row = fresh[key]
                if row == old_row:
                    continue
                change = _announce(kind, old_row, row)
                results[key] = {"k": kind, "v": version, "a": True, "row": row}
                changes.append(ResultChange(kind, key, version, True, row, change))
            else:
                kind = old["k"]
                results[key] = {"k": kind, "v": version, "a": False, "row": old_row}
                changes.append(ResultChange(kind, key, version, False, old_row,
                                            _announce(kind, old_row, None)))
        if changes:
            company["version"] = version
        return changes


def _announce(kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    """The outbound change word, or None when nothing visible changed."""
    started, changed, ended = _CHANGE_WORDS[kind]
    if kind == "overlap":
        old = old if old and old["visible"] else None
        new = new if new and new["visible"] else None
        if old and new and _public(old) == _public(new):
            return None
    if old is None and new is None:
        return None
    if old is None:
        return started
    if new is None:
        return ended
    return changed


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _OVERLAP_PRIVATE}
