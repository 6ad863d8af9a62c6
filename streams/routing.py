"""Where each decoded inbound event goes next, and under which key. Pure: no I/O.

Stage one of the pipeline re-keys CRM events by (tenant, account) so an account and its
opportunities are handled by one partition; a contact or partner touch is keyed by its own
home (tenant, event type, record id) instead, because a later version may name another
account or deal (stage two places it at the key its latest version names, see
:mod:`streams.core.homes`); control events go to the control topic, a partnership keyed by
its partnership id, a tenant's settings by its tenant id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from schemas.catalog import CONTROL_TYPES, INBOUND_TYPES

from .core.statekeys import state_key
from .exceptions import CosellingError, NotAnInboundEventError


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
        return Route(Destination.CONTROL, control_key(event_type, record))
    if event_type not in INBOUND_TYPES:
        raise NotAnInboundEventError(
            f"{event_type} events are pipeline output; they cannot be published as input"
        )
    return Route(Destination.BY_ACCOUNT, state_key(event_type, record).encode())


def control_key(event_type: str, record: dict[str, Any]) -> bytes:
    """The control-topic key of a control event: partnership id, or tenant id."""
    return (record["partnership_id"] if event_type == "partnership"
            else record["tenant_id"]).encode()


def message_key(event_type: str, record: dict[str, Any]) -> bytes:
    """The Kafka key to publish an inbound event under: its route key.

    An event published under its route key lands on the partition that holds its state
    (when the inbound and by-account topics have the same partition count), and the
    accounts stage applies it there without forwarding it. A record with no route key (one
    that will be dead-lettered) gets ``tenant|record_id``; any key works, only less directly.
    """
    try:
        return route(event_type, record).key
    except (CosellingError, KeyError, TypeError):
        return f"{record.get('tenant_id')}|{record.get('record_id')}".encode()


class KeyPartitions:
    """Memo of the partition each message key hashes to on one topic.

    Kafka's default partitioner (murmur2) is pure Python, 4-17 us a key (the worker's,
    :mod:`streams.partitioner`, or the Kafka client's), and the accounts stage asks for
    every event and every internal message it makes.
    ``compute(key)`` is the partitioner; ``count`` (the topic's partition count, passed
    with each lookup) invalidates everything when it changes. At most ``limit`` keys are
    kept; the memo is emptied when full (the keys of one batch are what repeats).
    """

    __slots__ = ("_compute", "_count", "_known", "_limit")

    def __init__(self, compute, limit: int = 1 << 17):
        self._compute = compute
        self._limit = limit
        self._count: int | None = None
        self._known: dict[bytes, int] = {}

    def __call__(self, key: bytes, count: int | None) -> int | None:
        """The partition of ``key`` on a topic of ``count`` partitions (None: unknown)."""
        if count != self._count:
            self._known.clear()
            self._count = count
        found = self._known.get(key)
        if found is None:
            found = self._compute(key)
            if found is not None and count is not None:
                if len(self._known) >= self._limit:
                    self._known.clear()
                self._known[key] = found
        return found
