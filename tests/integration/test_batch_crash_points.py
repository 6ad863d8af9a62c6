"""A worker killed at each step of a batch ends in the same ClickHouse state as replay.

A random SIGKILL rarely lands between a batch's outbox, its messages and its table
writes; these kill the worker there on purpose (``COSELLING_FAULT_POINT``, see
streams/faults.py), restart it, and compare every current-state view and ``crm_events``
with ``coselling replay``:

- after-outbox: the batch's outbox landed, nothing else (its messages and table values
  come from the outbox when the partition is taken again);
- after-sends: its messages were delivered and its values are only in outboxes (what
  lost the per-key counters and last companies before the outbox: the table state behind
  delivered messages);
- mid-checkpoint: half of a checkpoint's table writes landed (the events read again
  change nothing in the keys already written: the rest must come from the outboxes).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.conftest import (
    publish,
    topic_size,
    wait_for_no_lag,
    wait_until_assigned,
)
from tests.integration.test_crash_recovery import assert_streamed_equals, replayed
from tests.scenario import scenario, with_merges_and_splits

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", [
    "accounts:after-sends:3",
    "accounts:mid-checkpoint:1",
    "accounts:after-outbox:2",
    "companies:mid-checkpoint:1",
    "resolver:after-sends:2",
])
def test_a_worker_killed_inside_a_batch_ends_equal_to_replay(
        fault, pipeline_settings, start_worker, producer, tmp_path):
    # Checkpoints every few dozen keys, so that the short stream goes through several.
    settings = pipeline_settings.model_copy(update={"checkpoint_keys": 40})
    events = with_merges_and_splits(scenario(companies=40), seed=3)
    expected = replayed(tmp_path, events)

    worker = start_worker(settings.model_copy(update={"fault_point": fault}))
    sink = start_worker(settings, command=("sink", "-l", "info"))
    wait_until_assigned([worker])
    publisher = threading.Thread(target=publish, args=(producer, settings, events),
                                 kwargs={"chunks": 20, "pause": 0.3})
    publisher.start()
    deadline = time.monotonic() + 120
    while worker.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not worker.alive(), f"the worker never reached {fault}:\n{worker.log()[-3000:]}"
    assert f"fault point {fault} reached" in worker.log()
    worker = start_worker(settings)
    publisher.join()

    wait_for_no_lag(settings, [worker, sink], timeout=240)
    assert topic_size(settings.kafka_bootstrap_servers, settings.topic_dead_letter) == 0
    worker.stop()
    sink.stop()
    assert_streamed_equals(settings, expected)
    assert "from their outboxes" in worker.log(), "the restarted worker must complete them"
