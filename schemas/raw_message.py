"""One consumed Kafka message, as the ingest stage triages it and a sink batches it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed Kafka message: where it was read and its undecoded key and value.

    ``timestamp``: the message's Kafka timestamp (epoch milliseconds), None when unknown.
    It is part of the message, so reading the message again gives the same value.
    ``headers``: the message's Kafka headers.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
