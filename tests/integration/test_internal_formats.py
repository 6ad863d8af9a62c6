"""A rolling restart: a worker and a sink of this version read the JSON internal messages an
earlier version left in the topics, mixed with the Avro ones (see schemas.internal)."""

import json

import pytest

from schemas.internal import internal_codec
from sinks.clickhouse import views_snapshot
from sinks.tables import CURRENT_STATE_VIEWS
from streams.core.accounts import SnapshotMessage
from streams.core.pipeline import Pipeline
from streams.core.records import to_plain
from tests.integration.conftest import read_chdb, replayed_into, topic_size, wait_for_no_lag
from tests.scenario import scenario

pytestmark = pytest.mark.integration


def company_stage_inputs(events):
    """What the companies stage reads, in the order the core makes it, and the result changes."""
    pipeline = Pipeline()
    inputs = []
    apply_snapshot = pipeline.companies.apply_snapshot
    apply_partnership = pipeline.companies.apply_partnership

    def snapshot(state, partition, msg):
        inputs.append(msg)
        return apply_snapshot(state, partition, msg)

    def partnership(state, partition, record):
        inputs.append(record)
        return apply_partnership(state, partition, record)

    pipeline.companies.apply_snapshot = snapshot
    pipeline.companies.apply_partnership = partnership
    return inputs, pipeline.run(events)


def test_json_left_by_an_earlier_worker_is_read_with_the_avro_after_it(
        pipeline_settings, start_worker, producer, tmp_path):
    settings = pipeline_settings
    events = scenario(companies=20)
    expected = replayed_into(tmp_path, events,
                             lambda oracle: views_snapshot(oracle, CURRENT_STATE_VIEWS))
    assert all(expected.values()), "the scenario must fill every view"
    inputs, changes = company_stage_inputs(events)
    codec = internal_codec()
    # The earlier worker wrote the first half of the company stage's input and the result
    # rows it made as JSON; this version writes the rest in the internal Avro schemas.
    half = len(inputs) // 2
    snapshots = 0
    for n, item in enumerate(inputs):
        if isinstance(item, SnapshotMessage):
            data = item.to_json()
            value = json.dumps(data).encode() if n < half else codec.encode("snapshot", data)
            producer.send(settings.topic_by_company, key=item.company_key.encode(), value=value)
            snapshots += 1
        else:  # a partnership, broadcast to every company partition (JSON in both versions)
            value = json.dumps({"partnership": to_plain(item)}).encode()
            for p in range(settings.topic_partitions):
                producer.send(settings.topic_by_company, key=item["record_id"].encode(),
                              value=value, partition=p)
    old_rows = [c for c in changes[:len(changes) // 2] if c.kind == "overlap"]
    for change in old_rows:
        producer.send(settings.topic_sink, key=change.row["company_key"].encode(),
                      value=json.dumps(change.to_json()).encode())
    producer.flush()
    assert snapshots > 20 and old_rows

    worker = start_worker()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_for_no_lag(settings, [worker, sink], timeout=180, stuck_after=60)
    for proc in (worker, sink):
        proc.stop()
    assert topic_size(settings.kafka_bootstrap_servers, settings.topic_dead_letter) == 0, \
        "nothing may be dead-lettered: both formats are read"
    actual = read_chdb(settings.clickhouse_dsn.get_secret_value(),
                       lambda streamed: views_snapshot(streamed, CURRENT_STATE_VIEWS))
    for view in expected:
        assert actual[view] == expected[view], f"{view} differs from replay"
