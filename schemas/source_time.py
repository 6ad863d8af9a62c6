"""When the CRM change a message carries was published: its source time.

Every message a worker derives from another carries, in the Kafka header
:data:`HEADER` (epoch milliseconds as ASCII digits), the source time of the message it
came from: a message read from the inbound or control topic has its own Kafka timestamp
(its publish) as its source time; a message a worker derived has the header. So a result
row's message says when the CRM change that made it was published, and the sink and the
stages can tell how long after the change its effect landed
(``coselling_result_to_clickhouse_seconds``, ``coselling_stage_source_age_seconds``).

It is a measurement, not content: the outbox keeps no headers of this kind (see
:mod:`streams.outbox`), so a message sent again after a crash goes without it, and
nothing derived depends on it. A stage that coalesces several inputs' effects into one
message (the accounts stage sends one snapshot per account and batch) stamps it with
the source time of the input that made the message it kept, the batch's latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HEADER = "coselling.source-time"


def header(millis: int) -> tuple[str, bytes]:
    """The header that carries source time ``millis`` (epoch milliseconds)."""
    return HEADER, str(millis).encode()


def from_headers(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None
                 ) -> int | None:
    """The source time (epoch ms) in ``headers``; None without a readable one."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        if name == HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None  # someone else's header of that name: no measurement
    return None


def of_message(headers: Any, timestamp_ms: int | None) -> int | None:
    """A message's source time: its header, else its own Kafka timestamp (a publish)."""
    found = from_headers(headers)
    if found is not None:
        return found
    if timestamp_ms is not None and timestamp_ms >= 0:
        return timestamp_ms
    return None
