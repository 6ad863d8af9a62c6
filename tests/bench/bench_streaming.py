"""Throughput of the whole streaming path against bare consumers, on a real broker.

Run by hand (not collected by pytest); starts its own Kafka broker from the Apache jars:

    python tests/bench/bench_streaming.py [--events 50000] [--partitions 8] [--rounds 2]

1. Generates a multi-tenant scenario of about ``--events`` events (tests/scenario.py) and
   publishes it, Avro-encoded, to a fresh inbound topic of ``--partitions`` partitions.
2. Baselines, best of ``--rounds``: (a) a bare aiokafka consumer and (b) a bare
   kafka-python consumer read the whole topic and decode every event (schemas/codec.py);
   (f) a bare Faust agent does the same (batches from ``stream.take``, nothing else), once:
   the ceiling of any path whose stages are Faust agents; (f2) the same agent taking its
   batches from its channel queue on the worker's consumer, as the worker's agents read
   (streams/event_batches.py, streams/offset_guard.py). (f3), after (c): the messages the
   worker reads through Faust per inbound event (the inbound event and the messages on
   the control, by-account, by-company and matching topics, from (d)), and the rate at
   which it would take the events if it only read those messages at (f2)'s rate.
3. (c) The whole path: one ``coselling worker`` and one ``coselling sink`` (chDB), both on
   default settings, timed from the worker's start until every consumer group has
   committed everything; then ``crm_events`` is checked to hold every event.
   Below it, where each stage's loop time went (the worker's ``coselling_stage_*``
   metrics, see streams.metrics.StageClock): waiting for a batch, applying it, waiting
   for its outbox and for its messages to be acknowledged; and the worker's CPU time
   per inbound event (steadier than the rate on a shared machine).
4. (d) Kafka writes per inbound event: the end offsets of every topic but the inbound
   one (internal, outbound, Faust changelog and internal topics), divided by the events;
   and the table writes the next checkpoints owe (values only outboxes hold at the end,
   see streams/outbox.py), with the total they make.
5. (e) Lag per topic sampled every second during (c): the maximum, the seconds a
   partition had lag while its commit did not move, and a timeline (do stages overlap?).
6. (g) Value bytes on the internal topics (by-account, by-company, matching, sink) per
   inbound event, with the messages and bytes per message of each payload format
   (internal Avro by message kind, internal JSON, forwarded Avro events).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas.codec import Codec  # noqa: E402
from sinks.clickhouse import ClickHouseWriter  # noqa: E402
from streams.routing import message_key  # noqa: E402
from streams.topics import consumer_groups  # noqa: E402
from tests.bench import streaming_rig as rig  # noqa: E402
from tests.conftest import local_kafka  # noqa: E402
from tests.integration.conftest import WorkerProcess  # noqa: E402
from tests.scenario import scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each bare consumer")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds to wait for the whole path")
    args = parser.parse_args()

    events = scenario(companies=max(1, args.events // 18), seed=11)[: args.events]
    codec = Codec()
    payloads = [(message_key(t, r), codec.encode(t, r)) for t, r in events]
    logged = {(r["tenant_id"], t, r["record_id"], r["version"], r["event_id"])
              for t, r in events}
    work = Path(tempfile.mkdtemp(prefix="coselling-bench-"))
    with local_kafka.LocalKafka(heap="1g") as broker:
        bootstrap = broker.bootstrap_servers
        settings = rig.bench_settings(bootstrap, work, args.partitions)
        prefix = settings.app_id.removeprefix("bench-")
        n = rig.publish(bootstrap, settings.topic_inbound, payloads)
        print(f"published {n:,} events to {args.partitions} partitions "
              f"({len(logged):,} distinct, the rest duplicates)")

        aio, aio_running = max(rig.read_aiokafka(bootstrap, settings.topic_inbound, n, codec)
                               for _ in range(args.rounds))
        kp = max(rig.read_kafka_python(bootstrap, settings.topic_inbound, n, codec)
                 for _ in range(args.rounds))
        bare_faust = rig.read_faust(bootstrap, settings.topic_inbound, n)
        bare_channel = rig.read_faust(bootstrap, settings.topic_inbound, n, channel=True)

        sampler = rig.LagSampler(bootstrap, consumer_groups(settings)).start()
        start = time.monotonic()
        worker = WorkerProcess(settings, work / "worker.log")
        sink = WorkerProcess(settings, work / "sink.log", ("sink", "-l", "info"))
        try:
            done = sampler.wait_idle(settle=2.0, timeout=args.timeout,
                                     alive=lambda: worker.alive() and sink.alive())
        except TimeoutError:
            done = None  # the figures so far are still printed
        finally:
            sampler.stop()
            try:  # where the stages' time went; without it the figures are still printed
                stages = rig.stage_metrics(worker.web_port)
            except OSError:
                stages = {}
            worker_cpu = rig.cpu_seconds(worker.process.pid)
            worker.stop()
            sink.stop()
        elapsed = args.timeout if done is None else done - (start - sampler.t0)
        writes = rig.writes_by_topic(bootstrap, [settings.topic_inbound])
        accounts_changelog = f"{settings.app_id}-accounts-changelog"
        changelog = rig.changelog_writes(bootstrap, accounts_changelog)
        owed = rig.deferred_writes(settings, [f"{settings.app_id}-{table}-changelog"
                                              for table in ("accounts", "companies",
                                                            "resolver")])
        internal_bytes = rig.payload_bytes(settings, [
            settings.topic_by_account, settings.topic_by_company, settings.topic_matching,
            settings.topic_sink])
    client = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    in_log = client.query("SELECT count() FROM (SELECT DISTINCT tenant_id, event_type, "
                          "record_id, record_version, event_id FROM crm_events)")[0][0]
    results = client.query(
        "SELECT (SELECT count() FROM overlap_state) + (SELECT count() FROM intro_state)"
        " + (SELECT count() FROM attribution_state)")[0][0]
    client.close()

    full = n / elapsed
    print(f"(a) bare aiokafka consumer (read + decode):     {aio:>10,.0f} events/s")
    print(f"(b) bare kafka-python consumer (read + decode): {kp:>10,.0f} events/s")
    below = "<" if done is None else " "  # not finished: the rate is below n / timeout
    took = (f"not finished within {elapsed:.0f}s" if done is None
            else f"{elapsed:.1f}s incl. worker start-up")
    print(f"(c) whole path (Kafka in, ClickHouse out):     {below}{full:>10,.0f} events/s "
          f"({took}; crm_events {in_log:,} of {len(logged):,}, {results:,} result rows)")
    print(f"    ratio (c)/(a) whole path / aiokafka:       {below}{full / aio:>10.4f}")
    print(f"    ratio (c)/(b) whole path / kafka-python:   {below}{full / kp:>10.4f}")
    if worker_cpu is not None:
        print(f"    worker CPU time (user + system, start-up included): {worker_cpu:.1f} s, "
              f"{1000 * worker_cpu / n:.2f} ms per inbound event")
    rig.print_stage_split({}, stages)
    print(f"(f) bare Faust agent (read + decode):          {bare_faust:>10,.0f} events/s "
          "(from its first batch)")
    print(f"    aiokafka timed the same way:               {aio_running:>10,.0f} events/s")
    print(f"    ratio (f)/(a) Faust agent / aiokafka:      {bare_faust / aio_running:>10.4f}  "
          "(both from their first batch: the ceiling of a path of Faust agents)")
    print(f"    ratio (c)/(f) whole path / Faust agent:    {below}{full / bare_faust:>10.4f}")
    print(f"(f2) bare Faust agent, batches from its channel queue (as the worker's agents "
          f"take them): {bare_channel:>10,.0f} events/s")
    print(f"    ratio (f2)/(a) Faust agent / aiokafka:     {bare_channel / aio_running:>10.4f}")
    print(f"    ratio (c)/(f2) whole path / Faust agent:   {below}{full / bare_channel:>10.4f}")
    # Every message on a topic the workers read goes through Faust once (``writes`` leaves
    # out the inbound topic: its messages are the ``n`` events).
    read = n + sum(writes.get(topic, 0) for topic in consumer_groups(settings)[settings.app_id])
    reading = bare_channel * n / read
    print(f"(f3) messages the worker reads through Faust per inbound event: {read / n:.2f} "
          "(inbound, control, by-account, by-company, matching); read at (f2)'s rate and "
          f"nothing else done, {reading:,.0f} events/s")
    print(f"    ratio (f3)/(a) reading alone / aiokafka:  {reading / aio_running:>10.4f}  "
          "(what (c)/(a) could reach with no work besides reading)")
    total = rig.print_writes(writes, n, prefix)
    rig.print_changelog(accounts_changelog, changelog, n, prefix)
    print(f"      owed by the next checkpoints: {sum(owed.values()) / n:.2f} ("
          + ", ".join(f"{rig.short_name(t, prefix)} {k / n:.2f}" for t, k in owed.items())
          + f"); with them: {total + sum(owed.values()) / n:.2f} writes per inbound event")
    rig.print_payload_bytes(internal_bytes, n, prefix)
    sampler.print_summary(prefix)
    print(f"logs: {work}/worker.log, {work}/sink.log")
    if done is not None and in_log != len(logged):
        sys.exit(f"crm_events holds {in_log} of {len(logged)} distinct events")


if __name__ == "__main__":
    main()
