"""Fixtures for tests on the real broker: fresh topics per test, worker subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from schemas.codec import Codec
from schemas.textformat import write_jsonl
from sinks.clickhouse import ClickHouseWriter
from streams.replay import replay
from streams.routing import message_key
from streams.settings import Settings
from streams.topics import consumer_groups, ensure_topics
from tests.conftest import local_kafka

pytestmark = pytest.mark.integration

T = TypeVar("T")


def new_settings(bootstrap: str, folder: Path, **update) -> Settings:
    """Settings with a fresh set of topics and consumer group, state and chDB in ``folder``.

    Creates the topics on the broker at ``bootstrap``; ``update`` overrides any setting.
    """
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        app_id=f"coselling-test-{run}",
        topic_inbound=f"t{run}.crm-events",
        topic_control=f"t{run}.control",
        topic_by_account=f"t{run}.by-account",
        topic_dead_letter=f"t{run}.dead-letter",
        topic_by_company=f"t{run}.by-company",
        topic_matching=f"t{run}.matching",
        topic_sink=f"t{run}.sink-rows",
        topic_overlaps=f"t{run}.overlaps",
        topic_intros=f"t{run}.intros",
        topic_attributions=f"t{run}.attributions",
        clickhouse_dsn=f"chdb://{folder / 'chdb-stream'}",
        topic_partitions=4,
        kafka_session_timeout_seconds=8,
        stall_seconds=12,
        store="rocksdb",
        data_dir=str(folder / "state"),  # each WorkerProcess uses a folder of its own
    ).model_copy(update=update)
    ensure_topics(settings)
    return settings


@pytest.fixture
def pipeline_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with a fresh set of topics and consumer group for one test."""
    return new_settings(kafka_bootstrap, tmp_path)


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a worker subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSELLING_")}
    return {**env, **settings.environment(**extra)}


class WorkerProcess:
    """A ``coselling worker`` subprocess with its own web port and log file."""

    def __init__(self, settings: Settings, log_path: Path,
                 command: tuple[str, ...] | None = None):
        self.log_path = log_path
        self.web_port, self.metrics_port = local_kafka.free_ports(2)
        env = settings_env(settings, COSELLING_WEB_PORT=str(self.web_port),
                           COSELLING_SINK_WEB_PORT=str(self.metrics_port),
                           COSELLING_DATA_DIR=str(Path(settings.data_dir) / log_path.stem))
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *(command or ("worker", "-l", "info"))],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class Processes:
    """Starts ``coselling`` worker and sink subprocesses, each logging to a file of its own
    in ``folder`` (``worker-0.log``, ``sink-1.log``, ...); :meth:`stop_all` stops them."""

    def __init__(self, settings: Settings, folder: Path):
        self.settings = settings
        self.folder = folder
        self.started: list[WorkerProcess] = []

    def start(self, settings: Settings | None = None,
              command: tuple[str, ...] | None = None) -> WorkerProcess:
        """Start a worker (or, with ``command=("sink", ...)``, a sink)."""
        name = (command or ("worker",))[0]
        process = WorkerProcess(settings or self.settings,
                                self.folder / f"{name}-{len(self.started)}.log", command)
        self.started.append(process)
        return process

    def sink(self, settings: Settings | None = None) -> WorkerProcess:
        """Start a sink."""
        return self.start(settings, command=("sink", "-l", "info"))

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def start_worker(
    pipeline_settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    processes = Processes(pipeline_settings, tmp_path)
    yield processes.start
    processes.stop_all()


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    yield p
    p.close()


def inbound_key(n: int, event_type: str, record: dict) -> bytes:
    """The key the ``n``-th test event is published under: mostly its route key.

    Every third one gets its record id instead, as a CRM that does not key by route key
    would: such an event is forwarded to the by-account topic unless the two keys happen
    to hash to the same partition, so the tests see both ways in.
    """
    return record["record_id"].encode() if n % 3 == 2 else message_key(event_type, record)


def publish(producer: KafkaProducer, settings: Settings, events, *, chunks: int = 1,
            pause: float = 0.0, on_chunk: Callable[[int], None] | None = None) -> None:
    """Publish ``events`` to the inbound topic in ``chunks`` waves, ``pause`` s apart.

    Keyed by :func:`inbound_key`. ``on_chunk(n)`` is called after the n-th wave (from 1)
    was flushed.
    """
    codec = Codec()
    size = -(-len(events) // chunks)
    for number, start in enumerate(range(0, len(events), size), 1):
        for n, (event_type, record) in enumerate(events[start:start + size], start):
            producer.send(settings.topic_inbound, key=inbound_key(n, event_type, record),
                          value=codec.encode(event_type, record))
        producer.flush()
        if on_chunk:
            on_chunk(number)
        time.sleep(pause)


def read_chdb(dsn: str, read: Callable[[ClickHouseWriter], T]) -> T:
    """``read(writer)`` on the ClickHouse (chDB) at ``dsn``, closed afterwards."""
    writer = ClickHouseWriter(dsn)
    try:
        return read(writer)
    finally:
        writer.close()


def replayed_into(folder: Path, events: list[tuple[str, dict[str, Any]]],
                  read: Callable[[ClickHouseWriter], T]) -> T:
    """``read(writer)`` on a fresh chDB in ``folder`` after ``coselling replay`` of ``events``
    (none may be rejected)."""
    path = folder / "events.jsonl"
    with path.open("w") as f:
        write_jsonl(f, events)

    def replay_and_read(oracle: ClickHouseWriter) -> T:
        oracle.migrate()
        report, _ = replay(path, oracle)
        assert not report.rejected
        return read(oracle)

    return read_chdb(f"chdb://{folder / 'chdb-replay'}", replay_and_read)


def consume_until(
    bootstrap: str,
    topics: list[str],
    done: Callable[[list], bool],
    *,
    timeout: float = 90,
    on_idle: Callable[[], None] | None = None,
) -> list:
    """Read ``topics`` from the beginning until ``done(messages)`` or the timeout."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    messages: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(messages):
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                messages.extend(records)
            if not batch and on_idle:
                on_idle()
    finally:
        consumer.close()
    return messages


def _end_offsets(consumer: KafkaConsumer, topics: list[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics``."""
    tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    return consumer.end_offsets(tps)


def topic_size(bootstrap: str, topic: str) -> int:
    """How many messages ``topic`` holds (sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return sum(_end_offsets(consumer, [topic]).values())
    finally:
        consumer.close()


def group_offsets(settings: Settings) -> dict[str, tuple[int, int]]:
    """``topic[partition]`` (the workers' group) or ``topic[partition]@sink`` (the sink's)
    -> (committed offset, end offset) for every partition the two groups read."""
    groups = consumer_groups(settings)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    offsets: dict[str, tuple[int, int]] = {}
    try:
        for group, topics in groups.items():
            committed = admin.list_group_offsets({group: None}).get(group, {})
            for tp, end in _end_offsets(consumer, topics).items():
                done = committed.get(tp)
                where = "" if group == settings.app_id else "@sink"
                offsets[f"{tp.topic}[{tp.partition}]{where}"] = (done.offset if done else 0,
                                                                 end)
    finally:
        consumer.close()
        admin.close()
    return offsets


def consumer_lag(settings: Settings) -> dict[str, int]:
    """Messages not yet committed by the workers' and the sink's consumer groups, by topic."""
    return {tp: end - done for tp, (done, end) in group_offsets(settings).items()
            if end - done}


def wait_for_no_lag(settings: Settings, processes, *, timeout: float = 90,
                    settle: float = 3.0, stuck_after: float | None = None) -> dict[str, int]:
    """Wait until every consumer group has committed everything, stably.

    With ``stuck_after``, ``timeout`` is for the whole wait and it fails early once no
    committed offset has moved for ``stuck_after`` seconds (a slow, loaded machine gets
    the time it needs; a pipeline that stopped committing does not).
    """
    deadline = time.monotonic() + timeout
    quiet_since = None
    lag: dict[str, int] = {}
    committed, moved, stuck = -1, time.monotonic(), False
    while time.monotonic() < deadline and not stuck:
        for proc in processes:
            assert proc.alive(), f"{proc.log_path.name} exited:\n{proc.log()[-4000:]}"
        try:
            offsets = group_offsets(settings)
            lag = {tp: end - done for tp, (done, end) in offsets.items() if end - done}
        except KafkaError as exc:  # group coordinator not ready yet, ...
            offsets, lag = {}, {"(not known yet)": 1, str(exc)[:80]: 0}
        if sum(done for done, _ in offsets.values()) > committed:
            committed, moved = sum(done for done, _ in offsets.values()), time.monotonic()
        if sum(lag.values()) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return lag
        else:
            quiet_since = None
            stuck = stuck_after is not None and time.monotonic() - moved > stuck_after
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.log_path.name} (last lines) ---\n{p.log()[-3000:]}"
                      for p in processes)
    why = f"no commit moved for {stuck_after}s" if stuck else f"after {timeout}s"
    raise AssertionError(f"consumers still lagging ({why}): {lag}\n{tails}")


def wait_until_assigned(workers, *, timeout: float = 60, settle: float = 4.0) -> None:
    """Wait until every worker has finished a rebalance and none started since ``settle``s."""
    deadline = time.monotonic() + timeout
    last_change, last_logs = time.monotonic(), None
    while time.monotonic() < deadline:
        logs = [w.log() for w in workers]
        for w in workers:
            assert w.alive(), f"{w.log_path.name} exited:\n{w.log()[-4000:]}"
        ready = all(log.rsplit("Setting newly assigned", 1)[-1].count("Worker ready") or
                    "Recovery]: Resuming" in log.rsplit("Setting newly assigned", 1)[-1]
                    for log in logs) and all("Setting newly assigned" in log for log in logs)
        counts = [log.count("Setting newly assigned") for log in logs]
        if counts != last_logs:
            last_logs, last_change = counts, time.monotonic()
        if ready and time.monotonic() - last_change >= settle:
            return
        time.sleep(0.5)
    raise AssertionError("workers did not settle into one consumer group")
