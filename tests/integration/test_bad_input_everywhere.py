"""The mixed bad file through publish, replay and the stream workers: same rejections.

The rows the validator refuses are also produced raw to the inbound topic (Avro-encoded,
bypassing publish's check): the worker must dead-letter exactly those, with the same field
and reason in the headers and its log, and every good row must reach ``crm_events``.
"""

from __future__ import annotations

import re

import pytest

from schemas.codec import Codec
from schemas.exceptions import CosellingError
from schemas.textformat import parse_line
from sinks.clickhouse import ClickHouseWriter
from streams.cli import main
from streams.deadletter import (
    HEADER_ERROR_FIELD,
    HEADER_ERROR_MESSAGE,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
)
from tests.bad_input import write_mixed_file
from tests.integration.conftest import consume_until, wait_for_no_lag

pytestmark = pytest.mark.integration

REJECTED = re.compile(r"^  rejected mixed\.jsonl line (\d+): (.*)$")
MAX_MESSAGE_BYTES = 900_000  # the broker's default limit is 1 MB


def rejected_lines(stderr: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in map(REJECTED.match, stderr.splitlines()) if m}


def test_publish_replay_and_workers_reject_the_same_rows(pipeline_settings, start_worker,
                                                         producer, tmp_path, monkeypatch,
                                                         capsys):
    settings = pipeline_settings
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "mixed.jsonl"
    rows = write_mixed_file(path)
    good_ids = {r.event["event_id"] for r in rows if not r.bad}

    assert main(["publish", str(path), "--dry-run"]) == 1
    published = rejected_lines(capsys.readouterr().err)
    assert main(["replay", str(path), "--clickhouse", f"chdb://{tmp_path / 'replayed'}"]) == 1
    replayed = rejected_lines(capsys.readouterr().err)
    assert published == replayed
    assert set(published) == {n for n, r in enumerate(rows, start=1) if r.bad}

    # Every row that Avro can carry goes to the inbound topic as it is, bad or good.
    codec = Codec()
    sent: dict[str, int] = {}  # event id -> line of the rows the contract refuses
    for lineno, row in enumerate(rows, start=1):
        try:
            event_type, record = parse_line(row.data.decode("utf-8"))
            payload = codec.encode(event_type, record)
        except (UnicodeDecodeError, CosellingError):
            continue  # not JSON, not UTF-8: publish stops these, nothing to encode
        if len(payload) > MAX_MESSAGE_BYTES:
            continue  # the 5 MB name: no broker takes it with default limits
        producer.send(settings.topic_inbound, key=record["event_id"].encode(), value=payload)
        if row.bad:
            sent[record["event_id"]] = lineno
    producer.flush()
    assert len(sent) >= 8  # version, tenant, two times, result type, touch, contact, id

    worker = start_worker()
    sink = start_worker(command=("sink",))
    dead = consume_until(settings.kafka_bootstrap_servers, [settings.topic_dead_letter],
                         lambda msgs: len(msgs) >= len(sent))
    assert len(dead) == len(sent), worker.log()[-3000:]
    for message in dead:
        headers = dict(message.headers)
        event_id = message.key.decode()
        lineno = sent[event_id]
        assert headers[HEADER_ERROR_MESSAGE].decode() == published[lineno], event_id
        assert headers[HEADER_ERROR_FIELD].decode() == rows[lineno - 1].field
        assert headers[HEADER_SOURCE_TOPIC] == settings.topic_inbound.encode()
        where = (f"{settings.topic_inbound}[{headers[HEADER_SOURCE_PARTITION].decode()}]"
                 f"@{headers[HEADER_SOURCE_OFFSET].decode()}")
        assert f"dead-lettering {where}: {published[lineno]}" in worker.log().replace(
            '\\"', '"')

    wait_for_no_lag(settings, [worker, sink], timeout=120)
    sink.stop()  # chDB opens in one process at a time
    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    try:
        streamed = dict(writer.query(
            "SELECT event_id, toYear(event_time) FROM crm_events FINAL"))
    finally:
        writer.close()
    assert set(streamed) == good_ids
    assert streamed["good-1970"] == 1970 and streamed["good-2099"] == 2099
