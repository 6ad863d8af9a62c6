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

import pytest
from kafka import KafkaConsumer, KafkaProducer

from streams.settings import Settings
from streams.topics import ensure_topics
from tests.conftest import local_kafka

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with a fresh set of topics and consumer group for one test."""
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        app_id=f"coselling-test-{run}",
        topic_inbound=f"t{run}.crm-events",
        topic_control=f"t{run}.control",
        topic_by_account=f"t{run}.by-account",
        topic_dead_letter=f"t{run}.dead-letter",
        topic_partitions=4,
        store="memory",
        data_dir=str(tmp_path / "state"),
    )
    ensure_topics(settings)
    return settings


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a worker subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSELLING_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"COSELLING_{name.upper()}"] = str(getattr(value, "value", value))
    env.update(extra)
    return env


class WorkerProcess:
    """A ``coselling worker`` subprocess with its own web port and log file."""

    def __init__(self, settings: Settings, log_path: Path):
        self.log_path = log_path
        env = settings_env(settings, COSELLING_WEB_PORT=str(local_kafka.free_port()))
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "-l", "info"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

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


@pytest.fixture
def start_worker(
    pipeline_settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(settings: Settings | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            settings or pipeline_settings, tmp_path / f"worker-{len(workers)}.log"
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    yield p
    p.close()


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
