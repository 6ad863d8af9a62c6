"""Session-wide fixtures: a real Kafka broker, started once from the Apache Kafka jars.

Set ``KAFKA_BOOTSTRAP_SERVERS`` to use a broker that is already running instead. Without
Java or Maven the Kafka tests are skipped on a developer machine, but fail in CI (``CI``
set): integration tests must never be skipped there.
"""

from __future__ import annotations

import os
import shutil

import pytest

from streams.localkafka import broker as local_kafka

_BROKER_NOTE: list[str] = []


def require_java_and_maven() -> None:
    """Skip the test without Java or Maven (needed to start a broker); fail in CI."""
    missing = [tool for tool in ("java", "mvn") if not shutil.which(tool)]
    if missing:
        message = f"{' and '.join(missing)} not found: cannot start the test Kafka broker"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the Kafka tests)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of a real Kafka broker for this test session."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        _BROKER_NOTE.append(f"the broker at {existing} (KAFKA_BOOTSTRAP_SERVERS)")
        yield existing
        return
    require_java_and_maven()
    broker = local_kafka.LocalKafka()
    broker.start()
    _BROKER_NOTE.append(
        f"a real Apache Kafka broker started from the official jars at "
        f"{broker.bootstrap_servers} (pid {broker.process.pid})"
    )
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def registry_server():
    """A fresh Confluent-API schema registry (answers per the API docs) for one test."""
    from tests.registry_server import DocsRegistry

    with DocsRegistry() as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """Say plainly whether the Kafka integration tests ran, and against what."""
    reports = [
        r
        for key in ("passed", "failed", "skipped", "error")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "call") == "call" and "integration" in getattr(r, "keywords", {})
    ]
    if not reports:
        return
    counts = {o: sum(r.outcome == o for r in reports) for o in ("passed", "failed", "skipped")}
    where = _BROKER_NOTE[0] if _BROKER_NOTE else "a real Kafka broker"
    terminalreporter.write_line(
        f"Kafka integration tests on {where}: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['skipped']} skipped"
    )


@pytest.fixture
def cli_environment(monkeypatch, tmp_path):
    """The command line as a user with no COSELLING_ setting meets it, on a wide terminal,
    in an empty working folder."""
    for name in list(os.environ):
        if name.startswith("COSELLING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
