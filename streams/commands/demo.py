"""``coselling demo``: a generated CRM data set through the pipeline, then the report.

Embedded (default): no Kafka, no ClickHouse server. The events are written to
``OUT/demo-events.jsonl``, replayed through the same core the workers run into chDB at
``OUT/chdb`` and reported (terminal and ``OUT/report.html``).

Streaming (``--streaming``): the same data through the real path. A local Kafka broker
from the Apache jars (:mod:`streams.localkafka`, needs Java and Maven), a worker and a sink as
subprocesses, the events published to the inbound topic; once every consumer group has
caught up the sink stops (chDB opens in one process at a time) and the report is read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from schemas.exceptions import CosellingError
from schemas.textformat import write_jsonl

from ..demo_data import TENANTS, generate
from ..exceptions import RetryableError
from .clickhouse import write_report
from .output import command_name, err, out, progress

MARKER = ".coselling-demo"
CATCH_UP_SECONDS = 900


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise CosellingError(f"{out_dir} exists and is not a demo folder; give another "
                             "--out (the demo replaces what it wrote before)")
    for leftover in ("chdb", "chdb-stream", "state", "logs"):
        shutil.rmtree(out_dir / leftover, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("written by `coselling demo`\n", encoding="utf-8")


def cmd_demo(args: argparse.Namespace, settings) -> int:
    """Generate the data set, run it through the pipeline, print and write the report."""
    from ..replay import event_time_order

    out_dir = Path(args.out)
    _prepare(out_dir)
    started = time.perf_counter()
    events = sorted(generate(companies=args.companies, seed=args.seed), key=event_time_order)
    data_file = out_dir / "demo-events.jsonl"
    with data_file.open("w", encoding="utf-8") as f:
        write_jsonl(f, events)
    accounts = sum(1 for t, _ in events if t == "account")
    out.print(f"Generated {len(events):,} CRM events for {len(TENANTS)} partner companies "
              f"({accounts:,} account versions over {args.companies:,} companies, open and "
              f"closed deals, partner touches, contacts) -> {data_file}", markup=False)
    if args.streaming:
        dsn = f"chdb://{(out_dir / 'chdb-stream').resolve()}"
        settings = _streaming(settings, events, out_dir, dsn)
    else:
        settings = settings.model_copy(update={
            "clickhouse_dsn": type(settings.clickhouse_dsn)(
                f"chdb://{(out_dir / 'chdb').resolve()}")})
        _embedded(settings, events)
    write_report(settings, tenant=None, model=args.model, top=args.top,
                 html=out_dir / "report.html")
    out.print(f"Demo done in {time.perf_counter() - started:.0f}s. Query the results yourself: "
              f"{command_name()} report --clickhouse "
              f"{settings.clickhouse_dsn.get_secret_value()}",
              markup=False)
    return 0


def _embedded(settings, events) -> None:
    from sinks.clickhouse import ClickHouseWriter

    from ..incremental_replay import IncrementalReplay

    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value(),
                              settings.clickhouse_target())
    try:
        writer.migrate(ttl_days=settings.crm_events_ttl_days)
        t0 = time.perf_counter()
        # As `coselling replay` does, so that files replayed into the demo database later
        # continue from the demo's state.
        with IncrementalReplay(writer, attribution=settings.attribution(),
                               stale_after=settings.replay_claim_stale_seconds) as run, \
                progress("pipeline core -> chDB", len(events)) as advance:
            run.plan(events)
            report = run.run(progress=advance).report
        elapsed = time.perf_counter() - t0
    finally:
        writer.close()
    out.print(f"Processed {report.events:,} events in {elapsed:.1f}s "
              f"({report.events / max(elapsed, 1e-9):,.0f} events/s): {report.changes:,} result "
              f"changes, {report.rows_written:,} rows written to chDB", markup=False)


def _streaming(settings, events, out_dir: Path, dsn: str):
    from pydantic import SecretStr

    from ..lag import group_lag
    from ..localkafka import broker as local_kafka
    from ..topics import consumer_groups, ensure_topics

    logs_dir = out_dir / "logs"
    logs_dir.mkdir(exist_ok=True)
    err.print("starting a local Kafka broker (Apache jars from Maven Central, cached)...")
    try:
        broker = local_kafka.LocalKafka(data_dir=out_dir / "kafka").start()
    except local_kafka.LocalKafkaError as exc:
        raise CosellingError(f"local Kafka did not start: {exc}") from None
    web_port, sink_web_port = local_kafka.free_ports(2)
    settings = settings.model_copy(update={
        "kafka_bootstrap_servers": broker.bootstrap_servers, "clickhouse_dsn": SecretStr(dsn),
        "data_dir": str((out_dir / "state").resolve()), "app_id": f"demo-{uuid.uuid4().hex[:6]}",
        "log_format": "json", "sink_batch_rows": 20_000,
        "web_port": web_port, "sink_web_port": sink_web_port})
    processes: list[subprocess.Popen] = []
    try:
        ensure_topics(settings)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("COSELLING_")},
               **settings.environment()}
        for name in ("worker", "sink"):
            log = (logs_dir / f"{name}.log").open("wb")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "streams.cli", name, "-l", "info"], env=env,
                stdout=log, stderr=subprocess.STDOUT))
        err.print(f"worker and sink started (logs in {logs_dir}); metrics on "
                  f"http://127.0.0.1:{settings.web_port}/metrics")
        _publish(settings, events)
        groups = consumer_groups(settings)
        t0 = time.perf_counter()
        with progress("waiting for workers and sink to catch up", None, "msgs") as advance:
            quiet = 0
            while quiet < 3:
                for p in processes:
                    if p.poll() is not None:
                        raise CosellingError(f"a demo process exited ({p.args[-3]}); see "
                                             f"{logs_dir}")
                if time.perf_counter() - t0 > CATCH_UP_SECONDS:
                    raise CosellingError(f"the pipeline did not catch up within "
                                         f"{CATCH_UP_SECONDS}s; see {logs_dir}")
                try:
                    lag = sum(r.lag for g, topics in groups.items()
                              for r in group_lag(settings.kafka_bootstrap_servers, g, topics))
                except RetryableError:  # the groups' coordinator is not ready yet
                    lag = None
                quiet = quiet + 1 if lag == 0 else 0
                advance(0)
                time.sleep(1)
        out.print(f"Streaming path caught up {time.perf_counter() - t0:.0f}s after publishing; "
                  + _metrics_summary(settings.web_port), markup=False)
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(processes):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()
    return settings


def _publish(settings, events) -> None:
    from kafka import KafkaProducer

    from ..routing import message_key

    codec = settings.codec()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                             acks="all", linger_ms=20)
    with progress("publishing to Kafka", len(events)) as advance:
        for event_type, record in events:
            producer.send(settings.topic_inbound,
                          key=message_key(event_type, record),
                          value=codec.encode(event_type, record))
            advance()
        producer.flush()
    producer.close()


def _metrics_summary(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError as exc:
        return f"worker metrics not readable ({exc})"
    events_in = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("coselling_events_in_total{"))
    return f"the worker counted {events_in:,.0f} events in (coselling_events_in_total)"
