"""Where each decoded inbound event goes next, and under which key. Pure: no I/O.

Stage one of the pipeline re-keys CRM events by (tenant, account) so an account and its
opportunities, contacts and partner touches are handled by one partition; partnership
control events go to the control topic keyed by partnership id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from schemas.catalog import CONTROL_TYPES, INBOUND_TYPES

from .exceptions import NotAnInboundEventError

KEY_SEPARATOR = "\x1f"  # ASCII unit separator: never part of a tenant or record id


class Destination(enum.StrEnum):
    """The internal stream a routed event is sent to."""

    BY_ACCOUNT = "by_account"
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class Route:
    """Destination stream and message key of one event."""

    destination: Destination
    key: bytes


def account_key(tenant_id: str, account_record_id: str) -> bytes:
    """The key of the (tenant, account) partition."""
    return f"{tenant_id}{KEY_SEPARATOR}{account_record_id}".encode()


def route(event_type: str, record: dict[str, Any]) -> Route:
    """Decide where a decoded inbound or control event goes.

    Events that reference no account (a contact without account, a touch on a deal only)
    are keyed by their own record so they still land on one stable partition.
    """
    if event_type in CONTROL_TYPES:
        return Route(Destination.CONTROL, record["partnership_id"].encode())
    if event_type not in INBOUND_TYPES:
        raise NotAnInboundEventError(
            f"{event_type} events are pipeline output; they cannot be published as input"
        )
    tenant = record["tenant_id"]
    if event_type == "account":
        return Route(Destination.BY_ACCOUNT, account_key(tenant, record["record_id"]))
    account = record.get("account_record_id")
    if account:
        return Route(Destination.BY_ACCOUNT, account_key(tenant, account))
    return Route(
        Destination.BY_ACCOUNT, account_key(tenant, f"~{event_type}:{record['record_id']}")
    )
