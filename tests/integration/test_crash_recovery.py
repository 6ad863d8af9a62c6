"""Crashes and outages end in the same ClickHouse state as the replay path: nothing lost,
nothing doubled."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sinks.clickhouse import views_snapshot
from sinks.tables import CURRENT_STATE_VIEWS
from tests.integration.conftest import (
    consumer_lag,
    publish,
    read_chdb,
    replayed_into,
    topic_size,
    wait_for_no_lag,
    wait_until_assigned,
)
from tests.scenario import scenario, with_merges_and_splits

pytestmark = pytest.mark.integration

EVENT_COUNT_SQL = "SELECT count() FROM crm_events FINAL"


def replayed(tmp_path: Path, events) -> tuple[dict, list]:
    """What the replay path writes for ``events``: current-state views and event count."""
    return replayed_into(tmp_path, events, lambda oracle: (
        views_snapshot(oracle, CURRENT_STATE_VIEWS), oracle.query(EVENT_COUNT_SQL)))


def assert_streamed_equals(settings, expected: tuple[dict, list]) -> None:
    views, events = expected
    streamed_events, actual = read_chdb(settings.clickhouse_dsn.get_secret_value(), lambda w: (
        w.query(EVENT_COUNT_SQL), views_snapshot(w, CURRENT_STATE_VIEWS)))
    assert streamed_events == events, "crm_events lost or doubled events"
    for view in views:
        assert views[view], f"the scenario must fill {view}"
        assert actual[view] == views[view], f"{view} differs between streaming and replay"


def test_sigkilled_worker_and_sink_end_equal_to_replay(pipeline_settings, start_worker,
                                                       producer, tmp_path):
    settings = pipeline_settings
    # Brands, name joins and typo clusters spread over the stream: a restarted worker
    # builds the resolver's typo index again from its recovered table, and names sent
    # after a kill must still find the names sent before it.
    events = with_merges_and_splits(scenario(companies=40), seed=5)
    expected = replayed(tmp_path, events)
    assert any("name_typo" in str(row) for row in expected[0]["overlaps_current"])

    worker = start_worker()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_until_assigned([worker])
    publisher = threading.Thread(target=publish, args=(producer, settings, events),
                                 kwargs={"chunks": 30, "pause": 0.4})
    publisher.start()
    kills = []

    def results() -> int:
        # Results are overlap rows on the sink topic and the outbound events (the sink
        # builds intro and attribution rows from those).
        return sum(topic_size(settings.kafka_bootstrap_servers, t)
                   for t in (settings.topic_sink, settings.topic_overlaps,
                             settings.topic_intros, settings.topic_attributions))

    for round_ in range(4):  # kill in the middle of the stream, restart at once
        time.sleep(2.5)
        deadline = time.monotonic() + 30
        while round_ == 0 and not results() and time.monotonic() < deadline:
            time.sleep(0.5)  # a loaded machine: the first kill waits for the first results
        kills.append((publisher.is_alive(), results()))
        worker.kill()
        worker = start_worker()
        if round_ % 2:
            sink.kill()
            sink = start_worker(command=("sink", "-l", "info"))
    publisher.join()
    assert sum(alive for alive, _ in kills) >= 3, "the kills must hit a running stream"
    assert kills[0][1] > 0, "the first kill must come after results started flowing"

    wait_for_no_lag(settings, [worker, sink], timeout=240)
    assert topic_size(settings.kafka_bootstrap_servers, settings.topic_dead_letter) == 0
    worker.stop()
    sink.stop()
    assert_streamed_equals(settings, expected)


@contextlib.contextmanager
def unwritable(folder: Path):
    """Make chDB's table folders refuse new parts (root ignores modes: chattr +i then)."""
    dirs = [str(d) for d in folder.glob("store/*/*") if d.is_dir()]
    assert dirs, f"no table folders under {folder}"
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *dirs], check=True)
    else:
        for d in dirs:
            os.chmod(d, 0o555)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *dirs], check=True)
        else:
            for d in dirs:
                os.chmod(d, 0o755)


def test_clickhouse_outage_pauses_the_sink_and_loses_nothing(pipeline_settings, start_worker,
                                                             producer, tmp_path):
    settings = pipeline_settings
    events = scenario(companies=40)
    expected = replayed(tmp_path, events)
    half = len(events) // 2

    worker = start_worker()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_until_assigned([worker])
    publish(producer, settings, events[:half])
    wait_for_no_lag(settings, [worker, sink])

    chdb_folder = Path(settings.clickhouse_dsn.get_secret_value()[len("chdb://"):])
    with unwritable(chdb_folder):
        publish(producer, settings, events[half:])
        deadline = time.monotonic() + 60
        while "consumption paused" not in sink.log() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "consumption paused" in sink.log(), sink.log()[-3000:]
        time.sleep(5)  # an outage of a while: several retries
        lag = consumer_lag(settings)
        assert any(k.endswith("@sink") for k in lag), lag  # nothing committed
        assert sink.alive() and worker.alive()

    wait_for_no_lag(settings, [worker, sink], timeout=120)  # lag recovered
    assert sink.alive(), "the sink must not crash during an outage"
    assert sink.log().count("ClickHouse write failed") >= 2
    worker.stop()
    sink.stop()
    assert_streamed_equals(settings, expected)
