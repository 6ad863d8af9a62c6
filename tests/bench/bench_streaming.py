"""Throughput of the whole streaming path against a bare consumer, on a real broker.

Run by hand (not collected by pytest); starts its own Kafka broker from the Apache jars:

    python tests/bench/bench_streaming.py [--events 100000] [--partitions 4]

1. Generates a multi-tenant scenario of about ``--events`` events (tests/scenario.py) and
   publishes it, Avro-encoded, to a fresh inbound topic.
2. Baseline: a bare kafka-python consumer reads and decodes the whole topic.
3. Pipeline: one ``coselling worker`` and one ``coselling sink`` (chDB) process the same
   topic; timed from the worker's start until every consumer group has committed
   everything (so it includes worker start-up and ClickHouse writes).

Prints events/second of both and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from schemas.codec import Codec  # noqa: E402
from sinks.clickhouse import ClickHouseWriter  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402
from tests.conftest import local_kafka  # noqa: E402
from tests.integration.conftest import WorkerProcess, wait_for_no_lag  # noqa: E402
from tests.scenario import scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    events = scenario(companies=max(1, args.events // 15), seed=11)[: args.events]
    codec = Codec()
    payloads = [(r["record_id"].encode(), codec.encode(t, r)) for t, r in events]
    work = Path(tempfile.mkdtemp(prefix="coselling-bench-"))
    with local_kafka.LocalKafka(heap="1g") as broker:
        run = uuid.uuid4().hex[:8]
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers, app_id=f"bench-{run}",
            topic_inbound=f"b{run}.crm-events", topic_control=f"b{run}.control",
            topic_by_account=f"b{run}.by-account", topic_by_company=f"b{run}.by-company",
            topic_sink=f"b{run}.sink-rows", topic_overlaps=f"b{run}.overlaps",
            topic_intros=f"b{run}.intros", topic_attributions=f"b{run}.attributions",
            topic_dead_letter=f"b{run}.dead-letter", topic_partitions=args.partitions,
            store="rocksdb", data_dir=str(work / "state"),
            clickhouse_dsn=f"chdb://{work / 'chdb'}",
        )
        ensure_topics(settings)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all",
                                 linger_ms=20, batch_size=256 * 1024)
        for key, value in payloads:
            producer.send(settings.topic_inbound, key=key, value=value)
        producer.flush()
        producer.close()
        print(f"published {len(payloads)} events to {args.partitions} partitions")

        start = time.perf_counter()
        consumer = KafkaConsumer(settings.topic_inbound,
                                 bootstrap_servers=broker.bootstrap_servers,
                                 auto_offset_reset="earliest", group_id=None,
                                 enable_auto_commit=False, consumer_timeout_ms=5000)
        seen = 0
        for message in consumer:
            codec.decode(message.value)
            seen += 1
            if seen == len(payloads):
                break
        bare = seen / (time.perf_counter() - start)
        consumer.close()

        start = time.perf_counter()
        worker = WorkerProcess(settings, work / "worker.log")
        sink = WorkerProcess(settings, work / "sink.log", ("sink", "-l", "info"))
        wait_for_no_lag(settings, [worker, sink], timeout=3600, settle=2.0)
        elapsed = time.perf_counter() - start - 2.0
        worker.stop()
        sink.stop()
        rows = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value()).query(
            "SELECT (SELECT count() FROM overlap_state) + (SELECT count() FROM intro_state)"
            " + (SELECT count() FROM attribution_state)")[0][0]
    full = len(payloads) / elapsed
    print(f"bare consumer (read + decode):          {bare:>10,.0f} events/s")
    print(f"whole path (Kafka in, ClickHouse out):  {full:>10,.0f} events/s "
          f"({elapsed:.1f}s incl. worker start-up, {rows} result rows written)")
    print(f"ratio whole path / bare consumer:       {full / bare:>10.3f}")


if __name__ == "__main__":
    main()
