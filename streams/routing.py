"""Where each decoded inbound event goes next, and under which key. Pure: no I/O.

Stage one of the pipeline re-keys CRM events by (tenant, account) so an account and its
opportunities, contacts and partner touches are handled by one partition; a partner touch
that names an opportunity is keyed by (tenant, opportunity) instead (stage two forwards it
to the deal's account, see :mod:`streams.core.opportunities`); partnership control events
go to the control topic keyed by partnership id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from schemas.catalog import CONTROL_TYPES, INBOUND_TYPES

from .core.accounts import account_key_of
from .exceptions import NotAnInboundEventError


class Destination(enum.StrEnum):
    """The internal stream a routed event is sent to."""

    BY_ACCOUNT = "by_account"
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class Route:
    """Destination stream and message key of one event."""

    destination: Destination
    key: bytes


def route(event_type: str, record: dict[str, Any]) -> Route:
    """Decide where a decoded inbound or control event goes.

    Events that cannot reach a company (a contact without account, a touch naming neither
    an opportunity nor an account) raise :class:`UnroutableEventError` (dead-lettered).
    """
    if event_type in CONTROL_TYPES:
        return Route(Destination.CONTROL, record["partnership_id"].encode())
    if event_type not in INBOUND_TYPES:
        raise NotAnInboundEventError(
            f"{event_type} events are pipeline output; they cannot be published as input"
        )
    return Route(Destination.BY_ACCOUNT, account_key_of(event_type, record).encode())
