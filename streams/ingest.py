"""Inbound messages: decode, route good ones, dead-letter bad ones.

:func:`triage` is pure (bytes in, decisions out) so it is tested without Kafka; the
accounts stage in :mod:`streams.app` feeds it batches and performs the sends it asks for.
:func:`place` then decides where an accepted event is applied: at once, when its route key
belongs to the very partition it was read from (:class:`ApplyHere`), else forwarded. A decoded
event is checked by the same :class:`~schemas.validation.EventValidator` as ``publish``
and ``replay`` use, so a row they reject is dead-lettered here with the same reason.
:func:`control_event` is the same decision for the control topic.

The sink (:mod:`streams.sink_inputs`) makes these same decisions on the same messages to
log the accepted events in ``crm_events``: an event the worker dead-letters is never
logged, and the sink does not dead-letter it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.catalog import CONTROL_TYPES
from schemas.codec import Codec, Decoded
from schemas.exceptions import CosellingError, TruncatedPayloadError
from schemas.raw_message import RawMessage
from schemas.validation import EventValidator

from .deadletter import dead_letter_headers
from .routing import Destination, Route, route

#: Header of a message the accounts stage forwards from the inbound topic (to the
#: by-account or control topic): the topic it was read from. The sink logs a control event
#: from the inbound topic and skips the copy forwarded to the control topic.
HEADER_FORWARDED_FROM = "coselling.forwarded-from"


@dataclass(frozen=True, slots=True)
class Forward:
    """Send the (unchanged) encoded event to ``route``."""

    route: Route
    value: bytes
    decoded: Decoded


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Send the original message to the dead-letter topic with these headers."""

    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]
    error: Exception


@dataclass(frozen=True, slots=True)
class ApplyHere:
    """Apply the accepted event to the account state of the partition it was read from."""

    decoded: Decoded


def place(decision: Forward | DeadLetter, partition: int,
          owner: Callable[[bytes], int | None]) -> Forward | DeadLetter | ApplyHere:
    """Where an inbound event read from ``partition`` is applied.

    ``owner(key)`` is the by-account partition of a route key (Kafka's default partitioner,
    as the producer uses), or None when it cannot be told or when the inbound and
    by-account topics are not co-partitioned (different partition counts: partition p of
    each may then belong to different workers). An accepted event for the by-account topic
    whose key the very partition it was read from owns is applied there at once
    (:class:`ApplyHere`): forwarding it would only bring it back to the same partition of
    the same worker. Anything else stays as :func:`triage` decided.
    """
    if (isinstance(decision, Forward)
            and decision.route.destination is Destination.BY_ACCOUNT
            and owner(decision.route.key) == partition):
        return ApplyHere(decision.decoded)
    return decision


def triage(codec: Codec, validator: EventValidator, message: RawMessage
           ) -> Forward | DeadLetter:
    """Decode, check and route one message; any problem becomes a :class:`DeadLetter`."""
    try:
        if message.value is None:
            raise TruncatedPayloadError("message has no value (tombstone)")
        decoded = codec.decode(message.value)
        validator.check(decoded.event_type, decoded.record)
        return Forward(route(decoded.event_type, decoded.record), message.value, decoded)
    except Exception as exc:  # noqa: BLE001 - a bad message must never stop the worker
        headers = dead_letter_headers(
            exc, topic=message.topic, partition=message.partition, offset=message.offset
        )
        return DeadLetter(message.key, message.value or b"", headers, exc)


def control_event(codec: Codec, validator: EventValidator, value: bytes | None
                  ) -> Decoded:
    """The control event (a partnership or tenant settings) a control-topic message carries.

    Checked like an inbound one. Raises a :class:`~schemas.exceptions.CosellingError` when
    the message is not a valid control event (the message is dead-lettered).
    """
    if value is None:
        raise TruncatedPayloadError("message has no value (tombstone)")
    decoded = codec.decode(value)
    if decoded.event_type not in CONTROL_TYPES:
        raise CosellingError(f"{decoded.event_type} on the control topic")
    validator.check(decoded.event_type, decoded.record)  # also when sent here directly
    return decoded
