"""No commit of any worker ever moves past an event no worker processed, through joins,
SIGKILLs and the rebalances they cause (read from the workers' commit audit)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

from streams.commit_audit import COMMITTED, read_audit, unprocessed_commits
from tests.integration.conftest import (
    publish,
    topic_size,
    wait_for_no_lag,
    wait_until_assigned,
)
from tests.scenario import scenario

pytestmark = pytest.mark.integration


def test_no_commit_passes_an_unprocessed_event(pipeline_settings, start_worker, producer,
                                               tmp_path):
    audit_path = tmp_path / "commits.jsonl"
    settings = pipeline_settings.model_copy(update={"commit_audit_file": str(audit_path)})
    events = scenario(companies=40)

    first = start_worker(settings)
    sink = start_worker(settings, command=("sink", "-l", "info"))
    wait_until_assigned([first])
    publisher = threading.Thread(target=publish, args=(producer, settings, events),
                                 kwargs={"chunks": 30, "pause": 0.4})
    publisher.start()
    time.sleep(2.5)
    second = start_worker(settings)  # joins mid-stream: a rebalance
    time.sleep(3.0)
    hit_running_stream = publisher.is_alive()
    first.kill()  # mid-stream, and restarted at once: two more rebalances
    first = start_worker(settings)
    publisher.join()
    assert hit_running_stream, "the kill must hit a running stream"
    wait_for_no_lag(settings, [first, second, sink], timeout=240)
    for proc in (first, second, sink):
        proc.stop()

    entries = list(read_audit(audit_path))
    assert unprocessed_commits(entries) == []

    # The audit saw the whole run: commits of the three worker processes, and on every
    # source topic its last commits reach the end of each partition.
    commits = [e for e in entries if e.kind == COMMITTED]
    assert len({e.pid for e in commits}) == 3, "every worker process must have committed"
    last: dict[str, dict[int, int]] = defaultdict(dict)
    for e in commits:
        last[e.topic][e.partition] = e.offset
    sources = [settings.topic_inbound, settings.topic_control, settings.topic_by_account,
               settings.topic_by_company, settings.topic_matching]
    assert set(last) == set(sources)
    for topic in sources:
        assert sum(last[topic].values()) == topic_size(settings.kafka_bootstrap_servers,
                                                       topic), topic
