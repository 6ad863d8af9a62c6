"""``publish``, ``replay`` and ``roundtrip``: event files into Kafka, ClickHouse, the codec."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from schemas.exceptions import CosellingError, TextFormatError
from schemas.validation import EventValidator

from .. import gc_tuning
from ..event_files import EventFile
from ..exceptions import RetryableError
from .output import err, out, progress

#: Rows read between two moves of a progress bar.
PROGRESS_STEP = 1000


def event_file(args: argparse.Namespace, validator: EventValidator | None) -> EventFile:
    """The event file named by ``args`` (format, tenant and CSV mapping options).

    Rows are checked with ``validator`` (None: against the schema only).
    """
    overrides = {}
    for item in getattr(args, "map", None) or []:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            raise CosellingError(f"--map {item!r}: expected FIELD=COLUMN")
        overrides[name.strip()] = column.strip()
    return EventFile(Path(args.file), format=getattr(args, "format", None),
                     tenant=getattr(args, "tenant", None), mapping=getattr(args, "mapping", None),
                     overrides=overrides, currency=getattr(args, "currency", None) or "USD",
                     validator=validator)


def good_rows(source: EventFile, description: str, rejects: list[TextFormatError]
              ) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The file's good rows, with a progress bar; bad ones are appended to ``rejects``."""
    with progress(description, source.count(), "rows") as advance:
        read = 0
        for item in source.read():
            read += 1
            if read == PROGRESS_STEP:  # the bar moves in steps: it costs more than a row
                advance(read)
                read = 0
            if isinstance(item, TextFormatError):
                rejects.append(item)
            else:
                yield item
        advance(read)


def report_rejects(path: Path, rejects: list[TextFormatError]) -> None:
    """Every rejected row with its line number, field and reason, on stderr."""
    for exc in rejects:
        err.print(f"  rejected {path.name} {exc}", markup=False)


def exit_status(path: Path, rejected: int, accepted: int, done: str) -> int:
    """1 and a line on stderr saying how many rows were rejected, or 0 if none was."""
    if not rejected:
        return 0
    err.print(f"coselling: {rejected} of {rejected + accepted} rows of {path.name} rejected "
              f"(exit status 1); the {accepted} good rows were {done}", markup=False)
    return 1


def cmd_publish(args: argparse.Namespace, settings) -> int:
    """Validate every row of a file and send the good ones to the inbound topic."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from ..routing import message_key

    source = event_file(args, settings.event_validator)
    codec = settings.codec()
    rejects: list[TextFormatError] = []
    counts: Counter[str] = Counter()
    producer = None
    if not args.dry_run:
        try:
            producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                                     acks="all", linger_ms=20, retries=5,
                                     client_id=f"{settings.app_id}-publish")
        except KafkaError as exc:
            raise RetryableError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: "
                                 f"{exc}; is it running? (`coselling status`)") from None
    started = time.perf_counter()
    futures = []
    for lineno, event_type, record in good_rows(source, f"publishing {source.path.name}",
                                                rejects):
        try:
            payload = codec.encode(event_type, record)
        except CosellingError as exc:
            rejects.append(TextFormatError(str(exc), line=lineno))
            continue
        counts[event_type] += 1
        if producer is not None:
            futures.append(producer.send(settings.topic_inbound,
                                         key=message_key(event_type, record), value=payload))
    failed = 0
    if producer is not None:
        producer.flush()
        for future in futures:
            try:
                future.get(timeout=30)
            except KafkaError:
                failed += 1
        producer.close()
    elapsed = time.perf_counter() - started
    sent = sum(counts.values()) - failed
    verb = "checked (dry run, nothing sent)" if args.dry_run else \
        f"sent to {settings.topic_inbound}"
    report_rejects(source.path, rejects)
    out.print(f"{source.path}: {sum(counts.values())} events {verb} in {elapsed:.1f}s; "
              f"{len(rejects)} rows rejected" + (f"; {failed} sends failed" if failed else ""),
              markup=False)
    for event_type, n in sorted(counts.items()):
        out.print(f"  {event_type:<14} {n}", markup=False)
    if failed:
        raise RetryableError(f"{failed} of {sent + failed} events were not acknowledged by "
                             "Kafka; publish the file again (events are idempotent)")
    return exit_status(source.path, len(rejects), sum(counts.values()),
                       "checked" if args.dry_run else "sent")


def cmd_replay(args: argparse.Namespace, settings) -> int:
    """Run the core over an event file into ClickHouse, without Kafka.

    Continues from what earlier replays into the same database left there (see
    :mod:`streams.incremental_replay`).
    """
    from sinks.clickhouse import ClickHouseWriter, redact

    from ..incremental_replay import IncrementalReplay
    from ..replay import event_time_order

    source = event_file(args, settings.event_validator)
    rejects: list[TextFormatError] = []
    dsn = settings.clickhouse_dsn.get_secret_value()
    writer = ClickHouseWriter(dsn, settings.clickhouse_target())
    new = writer.new_database
    try:
        # The database is opened and migrated while the file is read (the engine releases
        # the GIL); its errors surface once the file is read. A new database is not waited
        # for: the core starts on the file at once, and the first write waits for it.
        # The collector is paced from the start: the events read are long-lived, and
        # the automatic collector would walk them again and again as more are read.
        with ThreadPoolExecutor(1, thread_name_prefix="migrate") as pool, \
                _quick_handoffs(), gc_tuning.Pacer() as pacer:
            migrated = pool.submit(writer.migrate, ttl_days=settings.crm_events_ttl_days)
            events = sorted((item[1:] for item in good_rows(
                source, f"reading {source.path.name}", rejects)), key=event_time_order)
            if not new:
                migrated.result()
            with IncrementalReplay(writer, attribution=settings.attribution(),
                                   stale_after=settings.replay_claim_stale_seconds,
                                   opening=migrated if new else None) as run:
                decision = run.plan(events)
                out.print(f"  {decision.mode}: {decision.reason}", markup=False)
                if decision.warning:
                    err.print(f"  warning: {decision.warning}", markup=False)
                with progress("replaying", len(run.events)) as advance:
                    outcome = run.run(progress=lambda done: (pacer.tick(done), advance(done)))
    finally:
        writer.close()
    report, held, elapsed = outcome.report, outcome.holdings, outcome.elapsed
    report_rejects(source.path, rejects)
    for problem in report.rejected:
        err.print(f"  rejected: {problem}", markup=False)
    logged = (f" (with {outcome.logged_events} events read back from crm_events)"
              if outcome.logged_events else "")
    out.print(f"{source.path}: {outcome.file_events} events replayed{logged} in "
              f"{elapsed:.1f}s ({report.events / max(elapsed, 1e-9):,.0f} events/s; "
              f"{len(rejects) + len(report.rejected)} rejected); {report.rows_written} rows "
              f"written to {redact(dsn)}", markup=False)
    out.print(f"  the database now holds: {held['events']} events in crm_events, "
              f"{held['overlaps']} overlaps ({held['visible']} visible), {held['intros']} "
              f"intros, {held['attributions']} attributions", markup=False)
    rejected = len(rejects) + len(report.rejected)
    return exit_status(source.path, rejected, outcome.file_events - len(report.rejected),
                       "replayed")


@contextmanager
def _quick_handoffs(interval: float = 0.0005):
    """Let threads take turns at the GIL every ``interval`` seconds (Python's default: 5 ms).

    The threads that open and migrate the database and that write to it wait for the GIL
    after each of their calls into the engine while the main thread reads the file and
    runs the core; at the default interval those waits made the opening take several
    times longer than the calls themselves.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def cmd_roundtrip(args: argparse.Namespace, settings) -> int:
    """Encode every event of a file and decode it back; report what happened."""
    codec = settings.codec()
    source = event_file(args, None)
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    total_bytes = 0
    for item in source.read():
        if isinstance(item, TextFormatError):
            raise item
        lineno, event_type, record = item
        payload = codec.encode(event_type, record)
        decoded = codec.decode(payload)
        if decoded.event_type != event_type or decoded.record != record:
            raise CosellingError(f"line {lineno}: {event_type} did not survive the round trip")
        counts[event_type] += 1
        total_bytes += len(payload)
    elapsed = time.perf_counter() - started
    out.print(f"{source.path}: {sum(counts.values())} events round-tripped through Avro "
              f"({codec.framing.value} framing), {total_bytes} bytes, all equal after "
              f"decoding, in {elapsed * 1000:.1f} ms", markup=False)
    for event_type, count in sorted(counts.items()):
        out.print(f"  {event_type:<14} {count}", markup=False)
    return 0
