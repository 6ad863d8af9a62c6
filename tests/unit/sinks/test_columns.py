"""Columns for bulk inserts hold what the rows of the streaming sink hold."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.epoch import epoch_millis, from_millis
from sinks.columns import table_columns
from sinks.exceptions import SinkDataError
from sinks.rows import table_rows
from streams.core.eventlog import event_log_entry
from streams.demo_data import generate
from streams.replay import event_time_order, replay_events
from tests.factories import account

NOW = dt.datetime(2026, 12, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)


class Keep:
    """A writer that keeps the sink messages it is given."""

    def __init__(self):
        self.messages: list[dict] = []

    def write(self, messages):
        self.messages.extend(messages)
        return len(messages)


def demo_messages() -> list[dict]:
    keep = Keep()
    replay_events(sorted(generate(companies=60), key=event_time_order), keep)
    return keep.messages


def test_columns_are_the_rows_of_every_table_turned_on_their_side():
    messages = demo_messages()
    assert {m["kind"] for m in messages} == {"crm_event", "overlap", "intro", "attribution"}
    expected: dict[str, list[list]] = {}
    for message in messages:
        for table, values in table_rows(message, now=NOW):
            expected.setdefault(table.name, []).append(values)
    got = {table.name: (table, columns)
           for table, columns in table_columns(messages, written_ms=epoch_millis(NOW))}
    assert got.keys() == expected.keys()
    for name, rows in expected.items():
        table, columns = got[name]
        as_rows = [list(row) for row in zip(*columns, strict=True)]
        for i, ch_type in enumerate(table.column_types):
            if ch_type.startswith("DateTime64(3"):  # epoch milliseconds, written as ticks
                for row in as_rows:
                    row[i] = from_millis(row[i])
        assert as_rows == rows, name


@pytest.mark.parametrize("change, reason", [
    (lambda m: m["row"].pop("tenant_id"), "KeyError"),
    (lambda m: m["row"].update(record_version=-1), "is not a UInt64"),
    (lambda m: m["row"].update(event_time=None), "TypeError"),
    (lambda m: m["row"].update(event_time=10**18), "outside the years 1-9999"),
    (lambda m: m.update(kind="gossip"), "KeyError"),
    (lambda m: m.update(row=[1, 2]), "row is not an object"),
])
def test_a_message_that_does_not_fit_raises_a_sink_data_error(change, reason):
    message = event_log_entry(*account("acme", "a1"), epoch_millis(NOW))
    change(message)
    with pytest.raises(SinkDataError, match=reason):
        table_columns([message], written_ms=0)


def test_an_amount_that_does_not_fit_decimal_18_4_is_refused():
    intro = next(m for m in demo_messages() if m["kind"] == "intro")
    intro["row"]["amount"] = "1e15"
    with pytest.raises(SinkDataError, match="does not fit Decimal"):
        table_columns([intro], written_ms=0)
