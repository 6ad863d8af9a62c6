"""Epoch milliseconds: how timestamps travel (Avro timestamp-millis, state, sink rows)."""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_millis(value: int) -> dt.datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + dt.timedelta(milliseconds=value)
