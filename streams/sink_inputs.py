"""What the sink makes of a message on each topic it reads: sink messages (JSON data).

The sink (``coselling sink``) reads more than the sink topic, so that nothing the
pipeline already has in Kafka is written to Kafka a second time:

- the inbound topic: the raw event log (``crm_events``). The sink makes the accounts
  stage's own decision on it (:func:`streams.ingest.triage`: decode and validate); an
  event the worker dead-letters gives no row and is not dead-lettered again here;
- the control topic: partnerships and tenant settings (:func:`streams.ingest.control_event`,
  the control stage's decision). A control event the worker forwarded there from the
  inbound topic (header ``coselling.forwarded-from``) was logged from the inbound topic
  and is skipped, so a control event gives one row whichever topic it was published to;
- the intro and attribution topics: their result rows, which the outbound events carry
  whole (:func:`streams.core.outbound.result_message`);
- the sink topic: everything else the workers derive (overlap rows), in their internal
  Avro schemas or as the JSON earlier workers wrote (:mod:`schemas.internal`).

A row's ``ingest_time`` is the Kafka timestamp of the message it came from, so reading
the message again (after a crash, before the commit) gives the very same row. Pure: no
Kafka, no ClickHouse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from schemas.codec import Codec
from schemas.exceptions import CosellingError
from schemas.raw_message import RawMessage
from schemas.validation import EventValidator
from sinks.clickhouse import sink_message
from sinks.exceptions import SinkDataError

from .core.eventlog import event_log_entry
from .core.outbound import result_message
from .ingest import HEADER_FORWARDED_FROM, Forward, control_event, triage
from .settings import Settings

Reader = Callable[[RawMessage], list[dict[str, Any]]]


def ingest_time(message: RawMessage) -> int:
    """The message's Kafka timestamp (epoch ms); now, for a message without one."""
    if message.timestamp is not None and message.timestamp >= 0:
        return message.timestamp
    return int(time.time() * 1000)


class SinkInputs:
    """Reads a message of any topic the sink consumes into sink messages (maybe none).

    Raises :class:`~sinks.exceptions.SinkDataError` for a message the sink cannot write
    (it goes to the dead-letter topic).

    :param codec: the codec the workers decode and encode with.
    :param validator: the validator the workers check inbound events with.
    :param settings: the topic names.
    """

    def __init__(self, codec: Codec, validator: EventValidator, settings: Settings):
        self.codec = codec
        self.validator = validator
        self._readers: dict[str, Reader] = {
            settings.topic_sink: sink_message,
            settings.topic_inbound: self.inbound,
            settings.topic_control: self.control,
            settings.topic_intros: self.outbound,
            settings.topic_attributions: self.outbound,
        }

    def __call__(self, message: RawMessage) -> list[dict[str, Any]]:
        """The sink messages of ``message`` (see class doc)."""
        return self._readers.get(message.topic, sink_message)(message)

    def inbound(self, message: RawMessage) -> list[dict[str, Any]]:
        """The event log entry of an inbound event the accounts stage accepts.

        Accepted is accepted wherever the worker applies it (where it was read, or
        forwarded to the by-account topic): one row either way.
        """
        decision = triage(self.codec, self.validator, message)
        if not isinstance(decision, Forward):
            return []  # dead-lettered by the worker
        decoded = decision.decoded
        return [event_log_entry(decoded.event_type, decoded.record, ingest_time(message))]

    def control(self, message: RawMessage) -> list[dict[str, Any]]:
        """The event log entry of a control event the control stage accepts.

        Nothing for one the worker forwarded from the inbound topic: logged from there.
        """
        if any(name == HEADER_FORWARDED_FROM for name, _ in message.headers):
            return []
        try:
            decoded = control_event(self.codec, self.validator, message.value)
        except CosellingError:
            return []  # dead-lettered by the worker
        return [event_log_entry(decoded.event_type, decoded.record, ingest_time(message))]

    def outbound(self, message: RawMessage) -> list[dict[str, Any]]:
        """The result row an intro or attribution event carries."""
        try:
            decoded = self.codec.decode(message.value or b"")
            return [result_message(decoded.event_type, decoded.record)]
        except (CosellingError, KeyError, TypeError, ValueError) as exc:
            raise SinkDataError(f"not an intro or attribution event: "
                                f"{type(exc).__name__}: {exc}") from exc
