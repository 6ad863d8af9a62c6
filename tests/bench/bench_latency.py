"""Latency from publish to the row in ClickHouse, at a steady offered rate.

Run by hand (not collected by pytest); starts its own Kafka broker from the Apache jars:

    python tests/bench/bench_latency.py [--rate 1000] [--slow-rate 50] [--seconds 30]

One ``coselling worker`` (a subprocess; ``--workers N`` runs N in one group, as when scaled
out) and one ``coselling sink`` (chDB), both on default settings, run over fresh topics.
The sink runs on a thread of this process (its
``run_sink``, as ``coselling sink`` calls it) so that this process can read the chDB
folder while the sink writes; a producer in a child process publishes generated scenario
events (tests/scenario.py) at a steady rate, each stamped at its ``send`` with
``occurred_at`` = now and a unique ``event_id``; nothing else of the events or of any
contract changes. A poller reads the new rows of ``crm_events`` (only the parts written
since its last read) and takes as an event's visible time the middle of the window in
which it appeared: after the previous read began and before this read ended. Half that
window is the measurement's resolution, printed with the figures.

The same poller reads the new rows of the derived result tables (``overlap_state``,
``intro_state``, ``attribution_state``). A result row's ``occurred_at`` is the latest
``occurred_at`` of the inputs whose activity it counts; as every event is stamped at its
send, that is the publish time of the event that made this version of the row when that
event is one of them, so its latency is its visible time minus its ``occurred_at``. A row
re-derived by another input (a contact changes an intro's contact count; an intro counts
the opportunity's and the partner account's activity; an account that arrives after its
deals makes their attributions) is counted late by its age. So a second figure reads the
result messages the sink reads, each of which carries the publish time of the CRM change
that made it (header ``coselling.source-time``, see schemas/source_time.py), and takes
each row version's latency from that. Only active rows count: an ended result's row
(``active`` = 0) keeps the ``occurred_at`` of the row it ends. Rows of a phase are those
whose ``occurred_at`` lies within the phase's publishing; a version the table's merges
replaced before a read saw it is not counted (the number counted is printed). A
partnership change derives rows again without moving their ``occurred_at``, so every
partnership event is published in the warm-up, before the measured phases.

For the slow rate (the reference) and then the offered rate it prints p50, p90, p99 and
max latency, how many events were not visible within ``--drain`` seconds after the last
publish (counted as infinitely late), the achieved publish rate, and the split of the
p50/p99 into publish to worker ingest (``crm_events.ingest_time``, stamped by the worker)
and ingest to visible. It also prints where each worker stage's loop time went during
the phase (its ``coselling_stage_*`` metrics: waiting for a batch, applying it, waiting
for Kafka to acknowledge its outbox and its messages), with batches and their size, and
how much of a core each process used while the phase was published (the workers, the
broker, this process, which runs the sink and the poller, and the publisher): on a small
machine the processes share its cores, and a worker short of CPU falls behind.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas import source_time  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from sinks.clickhouse import ClickHouseWriter  # noqa: E402
from sinks.exceptions import SinkUnavailableError  # noqa: E402
from streams.routing import message_key  # noqa: E402
from streams.topics import consumer_groups  # noqa: E402
from tests.bench import streaming_rig as rig  # noqa: E402
from tests.conftest import local_kafka  # noqa: E402
from tests.integration.conftest import WorkerProcess  # noqa: E402
from tests.scenario import scenario  # noqa: E402

POLL_SECONDS = 0.05
#: The derived tables are read less often: three queries on this machine's CPU, which the
#: worker shares, for latencies of seconds (their resolution is printed too).
DERIVED_POLL_SECONDS = 0.25

#: Derived result tables and the columns that name one row (their ORDER BY).
DERIVED = {
    "overlap_state": "tenant_id, partner_tenant_id, company_key",
    "intro_state": "tenant_id, partner_tenant_id, opportunity_record_id, company_key",
    "attribution_state": "tenant_id, opportunity_record_id, partner_tenant_id, model, "
                         "company_key",
}


#: Each derived table's row-naming columns, as a tuple.
DERIVED_KEYS = {table: tuple(key.split(", ")) for table, key in DERIVED.items()}


def produce(bootstrap: str, topic: str, phase: str, events: list, rate: float, out) -> None:
    """Publish ``events`` at ``rate`` per second, each stamped at its send (child process).

    Puts (sent, first send, last send, most seconds behind schedule) on ``out``.
    """
    out.put(asyncio.run(_produce(bootstrap, topic, phase, events, rate)))


async def _produce(bootstrap: str, topic: str, phase: str, events: list,
                   rate: float) -> tuple[int, float, float, float]:
    # aiokafka (the workers' client) with a 5 ms linger, as the workers' producer: with
    # kafka-python and no linger the publisher took a third to a half of a core at 1,000
    # events/s, which the worker under test shares on a small machine. The stamp is taken
    # before the linger.
    from aiokafka import AIOKafkaProducer

    codec = Codec()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await producer.partitions_for(topic)  # connected, metadata known: schedule starts
        start = time.time() + 0.2
        behind = 0.0
        first = last = start
        for i, (event_type, record) in enumerate(events):
            due = start + i / rate
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.time()
            behind = max(behind, now - due)
            stamped = {**record, "event_id": f"{phase}-{i}",
                       "occurred_at": dt.datetime.fromtimestamp(now, dt.UTC)}
            await producer.send(topic, key=message_key(event_type, record),
                                value=codec.encode(event_type, stamped))
            last = now
            if i == 0:
                first = now
        await producer.flush()
    finally:
        await producer.stop()
    return len(events), first, last, behind


class Poller:
    """Reads the ``crm_events`` rows written since its last read (by the parts' blocks)."""

    def __init__(self, dsn: str):
        self.client = ClickHouseWriter(dsn, create=False)
        self.block = 0
        self.previous_start = time.time()
        self.derived_previous_start = self.previous_start
        self.derived_windows: list[float] = []
        self.windows: list[float] = []
        self.seen: dict[str, tuple[float, int, int]] = {}  # event id -> visible, event, ingest
        self.derived_block = dict.fromkeys(DERIVED, 0)
        self.derived_rows: set[tuple] = set()  # (table, row's key..., version) seen
        # (visible, occurred_at ms, (table, row's key..., version)) per row version
        self.derived: list[tuple[float, int, tuple]] = []

    def wait_for_table(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client.query("SELECT count() FROM system.tables "
                                     "WHERE name = 'crm_events'")[0][0]:
                    return
            except Exception:  # noqa: BLE001 - the sink has not created the folder yet
                pass
            time.sleep(0.5)
        raise TimeoutError("the sink did not create crm_events")

    def poll(self, *, derived: bool = False) -> int:
        """One read; returns how many events were seen for the first time.

        The derived tables are read too every :data:`DERIVED_POLL_SECONDS`, or if ``derived``.
        """
        started = time.time()
        try:
            rows = self.client.query(
                "SELECT event_id, toUnixTimestamp64Milli(event_time), "
                "toUnixTimestamp64Milli(ingest_time), "
                "toUInt64(splitByChar('_', _part)[3]) AS b "
                "FROM crm_events WHERE b > {block:UInt64}", {"block": self.block})
        except SinkUnavailableError:  # the sink's migrations swap crm_events at start
            return 0  # the next read's window starts where this one's did
        read_derived = derived or started - self.derived_previous_start >= DERIVED_POLL_SECONDS
        found = self._derived_rows() if read_derived else []
        ended = time.time()
        visible = (self.previous_start + ended) / 2
        if read_derived:
            derived_visible = (self.derived_previous_start + ended) / 2
            self.derived.extend((derived_visible, occurred, ident) for occurred, ident in found)
            if found:
                self.derived_windows.append(ended - self.derived_previous_start)
            self.derived_previous_start = started
        new = 0
        for event_id, event_ms, ingest_ms, block in rows:
            self.block = max(self.block, block)
            if event_id not in self.seen:
                self.seen[event_id] = (visible, event_ms, ingest_ms)
                new += 1
        if new:
            self.windows.append(ended - self.previous_start)
        self.previous_start = started
        return new

    def _derived_rows(self) -> list[tuple[int, tuple]]:
        """``occurred_at`` (ms) and (table, key..., version) of each version first seen here."""
        found: list[tuple[int, tuple]] = []
        for table, key in DERIVED.items():
            try:
                rows = self.client.query(
                    f"SELECT {key}, version, toUnixTimestamp64Milli(occurred_at), "
                    "toUInt64(splitByChar('_', _part)[3]) AS b "
                    f"FROM {table} WHERE b > {{block:UInt64}} AND active = 1",
                    {"block": self.derived_block[table]})
            except SinkUnavailableError:
                continue
            for *ident, occurred, block in rows:
                self.derived_block[table] = max(self.derived_block[table], block)
                ident = (table, *ident)
                if ident not in self.derived_rows:
                    self.derived_rows.add(ident)
                    found.append((occurred, ident))
        return found

    def until(self, wanted: set[str], deadline: float) -> None:
        while time.monotonic() < deadline and not wanted <= self.seen.keys():
            self.poll()
            time.sleep(POLL_SECONDS)


class SourceTimes:
    """The source time of each derived row version, read from the topics the sink reads.

    Every result message carries in a header the publish time of the CRM change that made
    it (see schemas/source_time.py); with the poller's visible time of the same row version
    that is the latency from the change to its effect in ClickHouse, whatever the row's
    ``occurred_at`` counts.
    """

    def __init__(self, settings):
        from kafka import KafkaConsumer, TopicPartition

        from streams.sink_inputs import SinkInputs

        self.read = SinkInputs(settings.codec(), settings.event_validator, settings)
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                      enable_auto_commit=False)
        topics = (settings.topic_sink, settings.topic_intros, settings.topic_attributions)
        self.consumer.assign([TopicPartition(t, p) for t in topics
                              for p in range(settings.topic_partitions)])
        self.consumer.seek_to_beginning()
        self.times: dict[tuple, int] = {}  # (table, row's key..., version) -> source ms

    def catch_up(self) -> None:
        """Read every result message published so far."""
        from schemas.raw_message import RawMessage
        from sinks.rows import table_rows

        ends = self.consumer.end_offsets(list(self.consumer.assignment()))
        while any(self.consumer.position(tp) < end for tp, end in ends.items()):
            for records in self.consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    m = RawMessage(r.topic, r.partition, r.offset, r.key, r.value,
                                   r.timestamp, tuple(r.headers or ()))
                    source = source_time.from_headers(m.headers)
                    if source is None:
                        continue
                    for data in self.read(m):
                        for table, _ in table_rows(data):
                            key = DERIVED_KEYS.get(table.name)
                            if key is not None:
                                row = data["row"]
                                self.times[(table.name, *(row[c] for c in key),
                                            data["version"])] = source


def run_phase(bootstrap: str, topic: str, poller: Poller, phase: str, events: list,
              rate: float, drain: float, idle, web_ports: list[int],
              sources: SourceTimes | None = None,
              processes: dict[str, int] | None = None) -> None:
    """Publish ``events`` at ``rate``, wait until they are visible, print the figures.

    ``idle()``: every consumer group has committed everything (the derived rows are
    written); the poller keeps reading until then, or until ``drain`` seconds passed.
    ``web_ports``: the workers', whose stage metrics tell where their stages' time went
    (none: not printed, as in the warm-up, which may start before the workers serve them).
    ``processes``: name -> pid of the processes whose CPU use while publishing is printed.
    """
    stages_before = _stage_metrics(web_ports)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    wanted = {f"{phase}-{i}" for i in range(len(events))}
    windows_before = len(poller.windows)
    derived_windows_before = len(poller.derived_windows)
    flushes_before = _flushes()
    child = ctx.Process(target=produce, args=(bootstrap, topic, phase, events, rate, out),
                        daemon=True)
    child.start()
    watched = dict(processes or {})
    if processes:
        watched["this process (sink, poller)"] = os.getpid()
        watched["publisher"] = child.pid
    cpu_before = {name: rig.cpu_seconds(pid) for name, pid in watched.items()}
    started = time.monotonic()
    cpu_after: dict[str, float | None] = {}
    while child.is_alive():
        poller.poll()
        if processes:  # the publisher's last figure before it exits
            cpu_after = {name: rig.cpu_seconds(pid) for name, pid in watched.items()}
            published = time.monotonic() - started
        time.sleep(POLL_SECONDS)
    sent, first, last, behind = out.get(timeout=10)
    child.join()
    deadline = time.monotonic() + drain
    poller.until(wanted, deadline)
    while time.monotonic() < deadline and not idle():
        poller.poll()
        time.sleep(POLL_SECONDS)
    poller.poll(derived=True)
    settled = idle()
    seen = {e: poller.seen[e] for e in wanted if e in poller.seen}
    total = [v - ev / 1000 for v, ev, _ in seen.values()]
    to_ingest = [ing / 1000 - ev / 1000 for _, ev, ing in seen.values()]
    to_visible = [v - ing / 1000 for v, _, ing in seen.values()]
    missing = len(wanted) - len(seen)
    windows = poller.windows[windows_before:] or [0.0]
    derived = [v - occ / 1000 for v, occ, _ in poller.derived if first <= occ / 1000 <= last]
    by_source: list[float] = []
    if sources is not None:
        sources.catch_up()
        for v, _, version in poller.derived:
            source = sources.times.get(version)
            if source is not None and first <= source / 1000 <= last:
                by_source.append(v - source / 1000)
    achieved = (sent - 1) / (last - first) if last > first else float("nan")
    print(f"offered {rate:,.0f} ev/s for {len(events) / rate:.0f}s: achieved publish rate "
          f"{achieved:,.0f} ev/s ({sent:,} events, at most {behind * 1000:.0f} ms behind "
          "schedule)")
    print(f"  publish -> row in crm_events: {_quantiles(total, missing)}")
    print(f"    publish -> worker ingest:   {_quantiles(to_ingest, missing)}")
    print(f"    ingest -> row visible:      {_quantiles(to_visible, missing)}")
    print(f"  publish -> derived result row ({len(derived):,} active row versions of "
          f"overlaps, intros, attributions): {_quantiles(derived, 0)}"
          + ("" if settled else f" (the pipeline was still busy {drain:.0f}s after the "
             "last publish: later rows not counted)"))
    if sources is not None:
        print(f"  publish of the CRM change that made a derived row version -> the version "
              f"visible ({len(by_source):,} row versions): {_quantiles(by_source, 0)}")
    count, seconds, rows = (a - b for a, b in zip(_flushes(), flushes_before, strict=True))
    if count:
        print(f"  sink: {count:.0f} writes, {seconds / count * 1000:.0f} ms and "
              f"{rows / count:.0f} messages each on average")
    if web_ports:
        rig.print_stage_split(stages_before, _stage_metrics(web_ports))
    if cpu_after:
        shares = [f"{name} {(cpu_after[name] - cpu_before[name]) / published:.2f}"
                  for name in watched
                  if cpu_after.get(name) is not None and cpu_before[name] is not None]
        print(f"  CPU while publishing, in cores ({os.cpu_count()} on this machine): "
              + ", ".join(shares))
    print(f"  not visible {drain:.0f}s after the last publish: {missing:,}; resolution "
          f"+/- {statistics.mean(windows) / 2 * 1000:.0f} ms (half the mean read window, "
          f"max {max(windows) / 2 * 1000:.0f} ms)")
    derived_windows = poller.derived_windows[derived_windows_before:]
    if derived_windows:
        print(f"  derived rows' resolution +/- "
              f"{statistics.mean(derived_windows) / 2 * 1000:.0f} ms "
              f"(max {max(derived_windows) / 2 * 1000:.0f} ms)")


def _stage_metrics(web_ports: list[int]) -> dict[tuple[str, str], float]:
    """The stage metrics of every worker, added up."""
    total: dict[tuple[str, str], float] = {}
    for port in web_ports:
        for key, value in rig.stage_metrics(port).items():
            total[key] = total.get(key, 0.0) + value
    return total


def _flushes() -> tuple[float, float, float]:
    """The sink's writes so far: how many, their seconds and messages (its metrics)."""
    from streams import metrics

    def total(histogram, suffix: str) -> float:
        return sum(s.value for m in histogram.collect() for s in m.samples
                   if s.name.endswith(suffix))

    return (total(metrics.SINK_FLUSH_SECONDS, "_count"),
            total(metrics.SINK_FLUSH_SECONDS, "_sum"), total(metrics.SINK_BATCH_ROWS, "_sum"))


def _quantiles(values: list[float], missing: int) -> str:
    """p50, p90, p99 and max of ``values`` plus ``missing`` infinitely late ones."""
    ordered = sorted(values) + [float("inf")] * missing
    if not ordered:
        return "no events"

    def q(p: float) -> str:
        v = ordered[min(len(ordered) - 1, int(p * len(ordered)))]
        return "never" if v == float("inf") else f"{v:.2f}s"

    return (f"p50 {q(0.50)}  p90 {q(0.90)}  p99 {q(0.99)}  "
            f"max {q(1.0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="offered events/second")
    parser.add_argument("--slow-rate", type=float, default=50.0,
                        help="the reference rate (0: skip)")
    parser.add_argument("--seconds", type=float, default=30.0, help="publishing time per rate")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (one consumer group, as when scaled out)")
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds to wait for the last rows after publishing ends")
    parser.add_argument("--idle-wait", type=float, default=300.0,
                        help="seconds to wait for the pipeline to go idle between rates")
    args = parser.parse_args()

    rates = [r for r in (args.slow_rate, args.rate) if r > 0]
    needed = [int(r * args.seconds) for r in rates]
    warmup = 40
    events = scenario(companies=(warmup + sum(needed)) // 15 + 10, seed=23)
    # Every partnership event goes first, in the warm-up: a partnership change derives
    # results again without moving their occurred_at (it is no input's activity), so in a
    # measured phase it would count those rows as late by their age.
    partnerships = [e for e in events if e[0] == "partnership"]
    events = partnerships + [e for e in events if e[0] != "partnership"][: warmup + sum(needed)]
    warmup += len(partnerships)
    work = Path(tempfile.mkdtemp(prefix="coselling-latency-"))
    with local_kafka.LocalKafka(heap="1g") as broker:
        bootstrap = broker.bootstrap_servers
        settings = rig.bench_settings(bootstrap, work, args.partitions)
        sampler = rig.LagSampler(bootstrap, consumer_groups(settings)).start()
        workers = [WorkerProcess(settings, work / f"worker-{i}.log")
                   for i in range(1, args.workers + 1)]

        def alive() -> bool:
            return all(w.alive() for w in workers)

        try:
            with rig.sink_in_this_process(settings, work / "sink.log"):
                poller = Poller(settings.clickhouse_dsn.get_secret_value())
                poller.wait_for_table()
                print(f"warming up: {warmup} events at 20 ev/s, until all are visible")
                def idle() -> bool:
                    return sampler.is_idle(1.0)

                run_phase(bootstrap, settings.topic_inbound, poller, "warmup",
                          events[:warmup], 20.0, 300, idle, [])
                sources = SourceTimes(settings)
                at = warmup
                for rate, n in zip(rates, needed, strict=True):
                    try:
                        sampler.wait_idle(settle=2.0, timeout=args.idle_wait,
                                          alive=alive)
                    except TimeoutError as exc:
                        print(f"(the next rate starts on a busy pipeline: {exc})")
                    processes = {f"worker {i}": w.process.pid
                                 for i, w in enumerate(workers, 1)}
                    if broker.process is not None:
                        processes["broker"] = broker.process.pid
                    run_phase(bootstrap, settings.topic_inbound, poller, f"r{rate:g}",
                              events[at:at + n], rate, args.drain, idle,
                              [w.web_port for w in workers],
                              sources, processes)
                    at += n
        finally:
            sampler.stop()
            for w in workers:
                w.stop()
    sampler.print_summary(settings.app_id.removeprefix("bench-"))
    print(f"logs: {work}/worker-*.log, {work}/sink.log")


if __name__ == "__main__":
    main()
