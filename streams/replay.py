"""The replay path: the core over a file of events, in event-time order, without Kafka.

Reads JSON Lines, an Avro container file (one event type per container) or a CRM CSV
export as ``publish`` does (:mod:`streams.event_files`: every row checked by the event
contract's validator, rejected rows reported with their line), sorts by event
time (then version and event id, so equal times order the same way every run), runs the
accounts and companies stages in one process and writes the results (and every event, to
``crm_events``) to ClickHouse, a batch at a time in a thread of its own while the core
computes the next batch (:class:`sinks.background.BackgroundWrites`): a batch goes
as soon as it holds :data:`WRITE_BATCH` rows and the write before it is done, so batches
grow while the database is slower than the core (or still being opened) and the last one,
which nothing overlaps, stays small. Each event's ``crm_events`` row is the one
:func:`~.core.eventlog.event_log_entry` gives. Used
for backfills, the demo, and as the oracle the streaming path is checked against. This
module starts from empty state; ``coselling replay`` continues from what earlier replays
left in the database (:mod:`.incremental_replay`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.epoch import epoch_millis
from schemas.exceptions import CosellingError, TextFormatError
from schemas.validation import EventValidator
from sinks.background import BackgroundWrites

from .core.attribution import AttributionConfig
from .core.eventlog import event_log_entry
from .core.pipeline import Pipeline
from .event_files import EventFile

log = logging.getLogger(__name__)

#: Rows handed to a write once the write before it is done...
WRITE_BATCH = 10_000
#: ...and the most gathered while it is not, before the core waits for it.
MAX_PENDING = 100_000


@dataclass
class ReplayReport:
    """What a replay read, rejected and produced."""

    events: int = 0
    rejected: list[str] = field(default_factory=list)
    changes: int = 0
    rows_written: int = 0


def read_events(path: Path, report: ReplayReport, validator: EventValidator | None = None
                ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Events of an event file (as ``publish`` reads it); rejected rows go to ``report``."""
    source = EventFile(path, validator=validator or EventValidator())
    for item in source.read():
        if isinstance(item, TextFormatError):
            report.rejected.append(f"{path.name} {item}")
        else:
            yield item[1], item[2]


def event_time_order(event: tuple[str, dict[str, Any]]):
    """Sort key: event time, then version, then event id."""
    record = event[1]
    return record["occurred_at"], record["version"], record["event_id"]


def replay(
    path: Path, writer=None, *, attribution: AttributionConfig | None = None
) -> tuple[ReplayReport, Pipeline]:
    """Run the core over ``path``; write result changes with ``writer`` if given."""
    report = ReplayReport()
    events = sorted(read_events(path, report), key=event_time_order)
    return replay_events(events, writer, attribution=attribution, report=report)


def replay_events(
    events: list[tuple[str, dict[str, Any]]], writer=None, *,
    attribution: AttributionConfig | None = None, report: ReplayReport | None = None,
    progress: Callable[[int], None] | None = None, pipeline: Pipeline | None = None,
    writes: BackgroundWrites | None = None,
) -> tuple[ReplayReport, Pipeline]:
    """Run the core over ``events`` (already in event-time order); write with ``writer``.

    ``progress`` is called with the number of events done since its last call.
    ``pipeline`` continues from its state (see :mod:`.incremental_replay`); by default
    the core starts empty. ``writes``: the caller's background writes, which the last
    write is left running in (the caller waits for them, and counts the rows written);
    by default the writes are this call's own, done and counted when it returns.
    """
    report = report or ReplayReport()
    pipeline = pipeline if pipeline is not None else Pipeline(attribution)
    pending: list[dict[str, Any]] = []
    ingested_at = epoch_millis(dt.datetime.now(dt.UTC))
    own = writes is None
    with BackgroundWrites() if own else nullcontext(writes) as writes:
        for event_type, record in events:
            report.events += 1
            if progress is not None and report.events % 1000 == 0:
                progress(1000)
            try:
                found = pipeline.apply(event_type, record)
            except CosellingError as exc:
                report.rejected.append(f"{event_type} {record.get('record_id')}: {exc}")
                continue
            report.changes += len(found)
            pending.append(event_log_entry(event_type, record, ingested_at))
            pending.extend(change.to_json() for change in found)
            if writer is not None and len(pending) >= WRITE_BATCH \
                    and (not writes.busy or len(pending) >= MAX_PENDING):
                writes.submit(writer.write, pending)
                pending = []
        if writer is not None and pending:
            writes.submit(writer.write, pending)
        if own:
            writes.wait()
            report.rows_written += writes.rows
    if progress is not None:
        progress(report.events % 1000)
    return report, pipeline

