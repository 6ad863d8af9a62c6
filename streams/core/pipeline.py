"""The whole core in one process: stage two and three driven directly, no Kafka.

Used by the replay path and the tests. The Faust app runs the same stages on separate
partitions; because each company's results depend only on its current inputs, both give
the same current state. Messages stage two sends itself (touches and contacts placed
where their latest version counts, see :mod:`.homes`; touches on a deal going to the deal's
account, see :mod:`.opportunities`) go through a work queue here, where the stream sends
them back onto the by-account topic.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from schemas.catalog import CONTROL_TYPES, INBOUND_TYPES

from ..exceptions import NotAnInboundEventError, UnroutableEventError
from .accounts import AccountStage, SnapshotMessage, stored_entry
from .attribution import AttributionConfig
from .companies import CompanyStage, ResultChange, partnerships_key
from .records import apply_versioned, same_version
from .resolver import MatchInput, apply_input, apply_settings_event

#: What the settings state keeps of a tenant_settings event (its record id is the tenant).
_SETTINGS_FIELDS = ("tenant_id", "ignored_domains")


class Pipeline:
    """Stage two (accounts, with the resolver) and three (companies) on plain mappings."""

    def __init__(
        self,
        attribution: AttributionConfig | None = None,
        account_state: MutableMapping[str, Any] | None = None,
        company_state: MutableMapping[str, Any] | None = None,
        settings_state: MutableMapping[str, Any] | None = None,
        resolver_state: MutableMapping[str, Any] | None = None,
        typos: MutableMapping[str, Any] | None = None,
    ):
        self.accounts = AccountStage()
        self.companies = CompanyStage(attribution)
        self.account_state = account_state if account_state is not None else {}
        self.company_state = company_state if company_state is not None else {}
        #: Tenant id -> versioned entry of its latest settings event (see .records).
        self.settings_state = settings_state if settings_state is not None else {}
        #: Account matching's state (see .resolver).
        self.resolver_state = resolver_state if resolver_state is not None else {}
        #: The resolver's typo index, when kept apart from its state (see .resolver).
        self.typos = typos

    def apply(self, event_type: str, record: dict[str, Any]) -> list[ResultChange]:
        """Apply one decoded inbound or control event; return the result changes."""
        if event_type == "tenant_settings":
            return self.resolver_settings(record)
        if event_type in CONTROL_TYPES:
            return self.companies.apply_partnership(self.company_state, 0, record)
        if event_type not in INBOUND_TYPES:
            raise NotAnInboundEventError(f"{event_type} events are output, not input")
        messages = self.accounts.apply(self.account_state, event_type, record)
        if not messages:
            return []
        return self._work(messages)

    def step(self, msg: Any) -> list[Any]:
        """Apply one message of stage two (internal or match input); return what it causes.

        For tests and tools that deliver stage two's messages themselves, in their order.
        """
        if type(msg) is MatchInput:
            return list(apply_input(self.resolver_state, msg, self.typos))
        return self.accounts.apply_internal(self.account_state, msg)

    def _work(self, messages: list[Any]) -> list[ResultChange]:
        """Apply the messages and all they cause; return the result changes."""
        changes: list[ResultChange] = []
        accounts, apply_internal = self.account_state, self.accounts.apply_internal
        companies, apply_snapshot = self.company_state, self.companies.apply_snapshot
        for msg in messages:  # a work queue: what a message causes is appended to it
            if type(msg) is SnapshotMessage:
                found = apply_snapshot(companies, 0, msg)
                if found:
                    changes += found
            elif type(msg) is MatchInput:
                messages += apply_input(self.resolver_state, msg, self.typos)
            else:
                messages += apply_internal(accounts, msg)
        return changes

    def resolver_settings(self, record: dict[str, Any]) -> list[ResultChange]:
        """Apply a tenant's settings (its latest version is kept); return the result changes.

        The resolver re-assigns the tenant's accounts whose domains it now ignores or no
        longer ignores; what moves is retracted and rebuilt.
        """
        if not apply_versioned(self.settings_state, record, _SETTINGS_FIELDS):
            return []
        return self._work(list(apply_settings_event(self.resolver_state, record, self.typos)))

    def holds(self, event_type: str, record: dict[str, Any]) -> bool:
        """True if this very version of the event's record is the one applied now.

        Applying such an event again changes nothing, wherever it falls in event-time
        order. An event the core rejects (no account to route by) also changes nothing.
        """
        if event_type == "tenant_settings":
            entry = self.settings_state.get(record["record_id"])
        elif event_type in CONTROL_TYPES:
            entry = (self.company_state.get(partnerships_key(0)) or {}).get(record["record_id"])
        else:
            try:
                entry = stored_entry(self.account_state, event_type, record)
            except UnroutableEventError:
                return True
        return same_version(entry, record)

    def run(self, events: Iterable[tuple[str, dict[str, Any]]]) -> list[ResultChange]:
        """Apply every event in order; return all result changes."""
        out: list[ResultChange] = []
        for event_type, record in events:
            out.extend(self.apply(event_type, record))
        return out

    def current(self) -> dict[str, dict[str, Any]]:
        """Result key -> row of every result active now (for tests and checks)."""
        return {
            result_key: r["row"]
            for state_key, company in self.company_state.items()
            if not state_key.startswith("~")
            for result_key, r in company["results"].items() if r["a"]
        }
