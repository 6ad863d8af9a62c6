"""The chaos test: while about 20k events flow over 4 partitions through two workers and a
sink, a third worker joins, a worker is SIGKILLed and restarted, the broker is stopped for
10 s and started again on its log folder, and the sink is SIGKILLed and restarted. Once
every consumer group has caught up, every current-state view and ``crm_events`` must hold
exactly what ``coselling replay`` of the same events writes (0 lost, 0 doubled, 0 extra
rows), and the commit audit must show no commit past an event no worker processed.

The run starts a broker of its own (it is restarted mid-stream), in a fresh folder.
``tests/stress/chaos.py`` runs :func:`run_chaos` many times and counts the passes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from sinks.clickhouse import ClickHouseWriter, views_snapshot
from sinks.tables import CURRENT_STATE_VIEWS
from streams.commit_audit import UnprocessedCommit, read_audit, unprocessed_commits
from streams.localkafka.broker import LocalKafka
from streams.settings import Settings
from tests.conftest import require_java_and_maven
from tests.integration.conftest import (
    Processes,
    WorkerProcess,
    consumer_lag,
    new_settings,
    publish,
    read_chdb,
    replayed_into,
    topic_size,
    wait_for_no_lag,
    wait_until_assigned,
)
from tests.scenario import scenario

pytestmark = pytest.mark.integration

#: Companies of the generated scenario: about 20k events.
COMPANIES = 1140
#: The events are published in this many waves, a pause apart, so that every fault
#: strikes while events are still arriving.
WAVES = 10
WAVE_PAUSE_SECONDS = 2.0
BROKER_DOWN_SECONDS = 10.0
#: How long the pipeline may take to catch up after the last fault, at most; it fails
#: sooner once no committed offset has moved for ``STUCK_SECONDS``.
CATCH_UP_SECONDS = 1800.0
STUCK_SECONDS = 120.0
#: crm_events without ``ingest_time`` (when the pipeline received the event; replay and
#: the stream receive it at different times).
EVENT_COLUMNS = ("tenant_id, event_type, source, record_id, record_version, op, event_id, "
                 "event_time, record")


@dataclass(frozen=True)
class Difference:
    """How the streamed rows of one table or view differ from the replayed ones.

    ``lost``: replayed rows missing from the stream (or there fewer times); ``doubled``:
    replayed rows the stream holds more often; ``extra``: streamed rows replay never wrote.
    """

    name: str
    expected: int
    lost: int
    doubled: int
    extra: int
    #: A few of the rows behind the counts, ("lost" | "doubled" | "extra", row).
    samples: tuple[tuple[str, tuple], ...] = ()

    @property
    def ok(self) -> bool:
        return self.expected > 0 and not (self.lost or self.doubled or self.extra)

    def __str__(self) -> str:
        return "\n      ".join([
            f"{self.name}: {self.expected} rows, {self.lost} lost, {self.doubled} doubled, "
            f"{self.extra} extra", *(f"{kind}: {row!r}" for kind, row in self.samples)])


#: Rows of each kind of difference a report shows.
SAMPLES = 3


def frozen(value):
    """``value`` with every list (ClickHouse arrays) made a tuple, so a row can be counted."""
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


def difference(name: str, expected: Sequence[tuple], actual: Sequence[tuple]) -> Difference:
    """Compare two lists of rows as multisets."""
    want, got = Counter(map(frozen, expected)), Counter(map(frozen, actual))
    lost = want - got
    doubled = {row: n - want[row] for row, n in got.items() if row in want and n > want[row]}
    extra = {row: n for row, n in got.items() if row not in want}
    samples = [(kind, row) for kind, rows in (("lost", lost), ("doubled", doubled),
                                              ("extra", extra))
               for row in sorted(rows, key=repr)[:SAMPLES]]
    return Difference(name, len(expected), lost=sum(lost.values()),
                      doubled=sum(doubled.values()), extra=sum(extra.values()),
                      samples=tuple(samples))


@dataclass(frozen=True)
class Fault:
    """A fault injected ``at`` seconds after publishing began, with ``lag`` messages not
    yet committed by the consumer groups just before it."""

    what: str
    at: float
    lag: int


@dataclass
class ChaosOutcome:
    """What one chaos run found."""

    events: int
    seconds: float
    faults: list[Fault]
    differences: list[Difference]
    unprocessed: list[UnprocessedCommit]
    dead_letters: int
    notes: list[str] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(getattr(d, what) for d in self.differences)

    @property
    def passed(self) -> bool:
        return (all(d.ok for d in self.differences) and not self.unprocessed
                and not self.dead_letters and all(f.lag > 0 for f in self.faults))

    def report(self) -> str:
        lines = [f"{self.events} events, {self.seconds:.0f}s"]
        lines += [f"  fault at {f.at:5.1f}s with {f.lag} messages not yet committed: {f.what}"
                  for f in self.faults]
        lines += [f"  {d}" for d in self.differences]
        lines.append(f"  commits past an unprocessed event: {len(self.unprocessed)}")
        lines += [f"    {u}" for u in self.unprocessed[:10]]
        lines.append(f"  dead-lettered: {self.dead_letters}")
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def current_state(writer: ClickHouseWriter) -> dict[str, list[tuple]]:
    """Every current-state view the analysts use, and ``crm_events``."""
    return {**views_snapshot(writer, CURRENT_STATE_VIEWS),
            "crm_events": writer.query(f"SELECT {EVENT_COLUMNS} FROM crm_events FINAL")}


def total_lag(settings: Settings, timeout: float = 60) -> int:
    """Messages the consumer groups have not committed yet (asking again while the broker,
    just restarted, cannot say; -1 if it never could)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return sum(consumer_lag(settings).values())
        except KafkaError:
            if time.monotonic() > deadline:
                return -1
            time.sleep(1)


class _Waves:
    """How many waves the publisher has flushed; lets the fault schedule wait for one."""

    def __init__(self) -> None:
        self.done = 0
        self._changed = threading.Condition()

    def flushed(self, number: int) -> None:
        with self._changed:
            self.done = number
            self._changed.notify_all()

    def wait_for(self, number: int, timeout: float = 300) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.done >= number, timeout):
                raise AssertionError(f"wave {number} not published within {timeout:.0f}s")


def wait_until_joined(worker: WorkerProcess, timeout: float = 180) -> None:
    """Wait until ``worker`` has been given its partitions in the consumer group."""
    deadline = time.monotonic() + timeout
    while "Setting newly assigned" not in worker.log():
        assert worker.alive(), f"{worker.log_path.name} exited:\n{worker.log()[-4000:]}"
        assert time.monotonic() < deadline, f"{worker.log_path.name} did not join in {timeout}s"
        time.sleep(0.5)


def run_chaos(folder: Path, *, companies: int = COMPANIES,
              say: Callable[[str], None] = lambda line: None) -> ChaosOutcome:
    """One chaos run in ``folder`` (a broker, two then three workers and a sink)."""
    started = time.monotonic()
    events = scenario(companies=companies)
    folder.mkdir(parents=True, exist_ok=True)
    audit_path = folder / "commits.jsonl"
    broker = LocalKafka(data_dir=folder / "kafka").start()
    say(f"broker at {broker.bootstrap_servers}, {len(events)} events")
    try:
        settings = new_settings(broker.bootstrap_servers, folder,
                                commit_audit_file=str(audit_path))
        processes = Processes(settings, folder)
        try:
            faults, running = _stream_with_faults(broker, settings, processes, events, say)
            say("waiting until every consumer group has caught up")
            wait_for_no_lag(settings, running, timeout=CATCH_UP_SECONDS,
                            stuck_after=STUCK_SECONDS)
            inbound = topic_size(settings.kafka_bootstrap_servers, settings.topic_inbound)
            assert inbound == len(events), f"published {inbound} of {len(events)} events"
            dead_letters = topic_size(settings.kafka_bootstrap_servers,
                                      settings.topic_dead_letter)
        finally:
            processes.stop_all()
    finally:
        broker.stop()
    say("comparing with replay")
    streamed = read_chdb(settings.clickhouse_dsn.get_secret_value(), current_state)
    expected = replayed_into(folder, events, current_state)
    return ChaosOutcome(
        events=len(events),
        seconds=time.monotonic() - started,
        faults=faults,
        differences=[difference(name, expected[name], streamed[name]) for name in expected],
        unprocessed=unprocessed_commits(read_audit(audit_path)),
        dead_letters=dead_letters,
        notes=[f"{p.log_path.name} never joined the group" for p in processes.started
               if p.log_path.name.startswith("worker")
               and "Setting newly assigned" not in p.log()])


def _stream_with_faults(broker: LocalKafka, settings: Settings, processes: Processes,
                        events, say: Callable[[str], None]
                        ) -> tuple[list[Fault], list[WorkerProcess]]:
    """Publish ``events`` in waves and inject the faults between them.

    Returns the faults and the processes running at the end.
    """
    workers = [processes.start(), processes.start()]
    sink = processes.sink()
    wait_until_assigned(workers, timeout=180)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                             linger_ms=5)
    waves = _Waves()
    failed: list[BaseException] = []

    def publisher() -> None:
        try:
            publish(producer, settings, events, chunks=WAVES, pause=WAVE_PAUSE_SECONDS,
                    on_chunk=waves.flushed)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failed.append(exc)
            waves.flushed(WAVES)

    begun = time.monotonic()
    faults: list[Fault] = []

    def fault(what: str, wave: int) -> None:
        waves.wait_for(wave)
        faults.append(Fault(what, time.monotonic() - begun, total_lag(settings)))
        say(f"after wave {wave}: {what} ({faults[-1].lag} messages not yet committed)")

    thread = threading.Thread(target=publisher, name="publisher", daemon=True)
    thread.start()
    try:
        fault("a third worker joins", 2)
        workers.append(processes.start())
        wait_until_joined(workers[-1])
        fault("a worker is SIGKILLed and restarted", 4)
        workers[0].kill()
        workers[0] = processes.start()
        # A worker refuses to start while the broker is unreachable: let it join first.
        wait_until_joined(workers[0])
        fault(f"the broker stops for {BROKER_DOWN_SECONDS:.0f}s and restarts", 6)
        broker.restart(down_seconds=BROKER_DOWN_SECONDS)
        fault("the sink is SIGKILLed and restarted", 8)
        sink.kill()
        sink = processes.sink()
        thread.join()
    finally:
        thread.join()
        producer.close()
    if failed:
        raise failed[0]
    return faults, [*workers, sink]


@pytest.fixture
def chaos_folder(tmp_path: Path) -> Path:
    """The run's folder; the run's own broker needs Java and Maven, as the session's does."""
    require_java_and_maven()
    return tmp_path / "chaos"


def test_chaos_run_ends_equal_to_replay(chaos_folder):
    outcome = run_chaos(chaos_folder, say=print)
    report = outcome.report()
    assert all(f.lag > 0 for f in outcome.faults), "every fault must hit a running stream\n" + report
    assert outcome.unprocessed == [], "a commit passed an unprocessed event\n" + report
    assert outcome.dead_letters == 0, report
    assert all(d.ok for d in outcome.differences), report
    assert len(outcome.differences) == len(CURRENT_STATE_VIEWS) + 1
