"""What the streaming benchmarks share: a fresh topic set, publishing, bare consumers,
a lag sampler, Kafka writes per event, and the sink run in this process.

Not a benchmark itself (run ``bench_streaming.py`` or ``bench_latency.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import Codec
from schemas.internal import internal_codec, is_internal
from streams.commands.topic_reader import read_table, read_to_end
from streams.core.statekeys import KEY_SEPARATOR, OPPORTUNITY_MARK
from streams.metrics import LANDING_STEPS, STAGE_STEPS
from streams.outbox import folded, uncovered_runs
from streams.settings import Settings
from streams.topics import ensure_topics

#: Kafka's own topic of committed offsets: shown beside the writes, not counted in them.
OFFSETS_TOPIC = "__consumer_offsets"

_INTERNAL = internal_codec()


def bench_settings(bootstrap: str, work: Path, partitions: int, **extra) -> Settings:
    """Settings with a fresh set of topics and groups, RocksDB state and a chDB folder.

    Everything else keeps its default: the benchmarks measure the default settings.
    """
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=bootstrap, app_id=f"bench-{run}",
        topic_inbound=f"b{run}.crm-events", topic_control=f"b{run}.control",
        topic_by_account=f"b{run}.by-account", topic_by_company=f"b{run}.by-company",
        topic_matching=f"b{run}.matching",
        topic_sink=f"b{run}.sink-rows", topic_overlaps=f"b{run}.overlaps",
        topic_intros=f"b{run}.intros", topic_attributions=f"b{run}.attributions",
        topic_dead_letter=f"b{run}.dead-letter", topic_partitions=partitions,
        store="rocksdb", data_dir=str(work / "state"),
        clickhouse_dsn=f"chdb://{work / 'chdb'}", **extra,
    )
    ensure_topics(settings)
    return settings


def publish(bootstrap: str, topic: str, payloads: Iterable[tuple[bytes, bytes]]) -> int:
    """Send (key, value) pairs to ``topic``; return how many, once all are acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    sent = 0
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
        sent += 1
    producer.flush()
    producer.close()
    return sent


def read_kafka_python(bootstrap: str, topic: str, count: int, codec: Codec) -> float:
    """Events/second of a bare kafka-python consumer reading and decoding ``count`` events."""
    start = time.perf_counter()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, enable_auto_commit=False, consumer_timeout_ms=10_000)
    seen = 0
    for message in consumer:
        codec.decode(message.value)
        seen += 1
        if seen == count:
            break
    elapsed = time.perf_counter() - start
    consumer.close()
    if seen != count:
        raise RuntimeError(f"kafka-python read {seen} of {count} events")
    return count / elapsed


def read_aiokafka(bootstrap: str, topic: str, count: int, codec: Codec
                  ) -> tuple[float, float]:
    """Events/second of a bare aiokafka consumer reading and decoding ``count`` events.

    Two rates: from the consumer's creation (start-up included) and from its first
    batch (as :func:`read_faust` is timed).
    """
    from aiokafka import AIOKafkaConsumer

    async def read() -> tuple[float, float]:
        start = time.perf_counter()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        seen = 0
        first = None
        try:
            deadline = time.monotonic() + 60
            while seen < count and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    if first is None:
                        first = time.perf_counter()
                    for r in records:
                        codec.decode(r.value)
                    seen += len(records)
            end = time.perf_counter()
        finally:
            await consumer.stop()
        if seen != count:
            raise RuntimeError(f"aiokafka read {seen} of {count} events")
        return count / (end - start), count / (end - first)

    return asyncio.run(read())


def read_faust(bootstrap: str, topic: str, count: int, *, channel: bool = False) -> float:
    """Events/second of a bare Faust agent reading and decoding ``count`` events.

    One agent on default settings taking batches (``stream.take``, or with ``channel``
    :func:`streams.event_batches.take_batches` on the offset guard's consumer, as the
    pipeline's agents read) and decoding each event, nothing else: the most any path whose stages are Faust agents taking their
    batches that way can do on this machine. Runs a Faust worker in a child process; timed
    from the agent's first batch (start-up left out) to its last event.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    # Faust makes its data folder under the current directory unless given one.
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as datadir:
        child = ctx.Process(target=_faust_reader,
                            args=(bootstrap, topic, count, out, datadir, channel), daemon=True)
        child.start()
        try:
            return out.get(timeout=600)
        finally:
            child.kill()
            child.join()


def _faust_reader(bootstrap: str, topic: str, count: int, out, datadir: str,
                  channel: bool) -> None:
    import faust

    from streams import offset_guard
    from streams.event_batches import take_batches

    codec = Codec()
    scheme = "kafka"
    if channel:  # the worker's consumer too (its fetch loop), as the worker's agents read
        offset_guard.register()
        scheme = offset_guard.SCHEME
    app = faust.App(f"bench-faust-{uuid.uuid4().hex[:8]}", broker=f"{scheme}://{bootstrap}",
                    store="memory://", web_enabled=False, topic_disable_leader=True,
                    consumer_auto_offset_reset="earliest", datadir=datadir)
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    seen = [0, 0.0]

    @app.agent(source)
    async def read(stream):
        batches = (take_batches(stream, 2000, 0.05) if channel
                   else stream.take(2000, within=0.05))
        async for batch in batches:
            if not seen[0]:
                seen[1] = time.perf_counter()
            for value in batch:
                codec.decode(value.value if channel else value)
            seen[0] += len(batch)
            if seen[0] >= count:
                out.put(count / (time.perf_counter() - seen[1]))

    app.finalize()
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds process ``pid`` has used so far (None off Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        return consumer.end_offsets(tps) if tps else {}
    finally:
        consumer.close()


def all_topics(bootstrap: str) -> list[str]:
    """Every topic on the broker, Kafka's and Faust's internal ones included."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return sorted(admin.list_topics())
    finally:
        admin.close()


def writes_by_topic(bootstrap: str, inbound: Iterable[str]) -> dict[str, int]:
    """Messages in every topic except ``inbound`` (what the pipeline wrote), by topic."""
    skip = set(inbound)
    sizes: dict[str, int] = defaultdict(int)
    for tp, end in end_offsets(bootstrap, [t for t in all_topics(bootstrap)
                                           if t not in skip]).items():
        sizes[tp.topic] += end
    return dict(sizes)


def print_writes(writes: dict[str, int], events: int, prefix: str) -> float:
    """Print Kafka writes per inbound event with the per-topic breakdown; return the total."""
    counted = {t: n for t, n in writes.items() if t != OFFSETS_TOPIC and n}
    total = sum(counted.values()) / events
    print(f"(d) Kafka writes per inbound event:     {total:>10.2f}"
          f"  ({sum(counted.values()):,} messages in {len(counted)} topics)")
    for topic, n in sorted(counted.items(), key=lambda kv: -kv[1]):
        print(f"      {short_name(topic, prefix):<28} {n / events:>6.2f}  ({n:,})")
    if writes.get(OFFSETS_TOPIC):
        print(f"      not counted: {OFFSETS_TOPIC} (offset commits) "
              f"{writes[OFFSETS_TOPIC] / events:.2f}")
    return total


def payload_bytes(settings: Settings, topics: Iterable[str]
                  ) -> dict[str, dict[str, list[int]]]:
    """Per topic, per payload format: [messages, value bytes] of everything in the topic.

    Formats by first byte: ``avro KIND`` (internal Avro, see schemas.internal, by message
    kind), ``json`` (internal JSON), ``event`` (an Avro event in its framing, e.g. a
    forwarded one).
    """
    sizes: dict[str, dict[str, list[int]]] = {}
    for topic in topics:
        found = sizes.setdefault(topic, {})
        for m in read_to_end(settings, topic, "the worker creates it"):
            value = m.value or b""
            kind = ("json" if value[:1] == b"{" else
                    f"avro {_INTERNAL.decode(value).get('kind', 'snapshot')}"
                    if is_internal(value) else "event")
            counts = found.setdefault(kind, [0, 0])
            counts[0] += 1
            counts[1] += len(value)
    return sizes


def print_payload_bytes(sizes: dict[str, dict[str, list[int]]], events: int,
                        prefix: str) -> None:
    """Print :func:`payload_bytes`: bytes per inbound event and per message, by format."""
    print("(g) internal topics: value bytes per inbound event (messages, bytes per message)")
    for topic, formats in sizes.items():
        total = sum(b for _, b in formats.values())
        parts = ", ".join(f"{kind} {n:,} x {b / n:,.0f} B" for kind, (n, b)
                          in sorted(formats.items()))
        print(f"      {short_name(topic, prefix):<28} {total / events:>8,.1f} B  ({parts})")


def state_key_kind(key: bytes) -> str:
    """Which kind of accounts-table key ``key`` is (see ``streams.core.statekeys``)."""
    text = key.decode(errors="replace")
    if text.startswith('"'):  # the table's key serializer may have written it as JSON
        text = json.loads(text)
    if text.startswith(("~outbox", "~checkpoint")):  # see streams.outbox
        return text[1:].split(":")[0]
    parts = text.split(KEY_SEPARATOR)
    if len(parts) == 2:
        return "account"
    if len(parts) != 3:
        return "other"
    return {OPPORTUNITY_MARK: "deal"}.get(parts[1], f"{parts[1]} home")


def changelog_writes(bootstrap: str, topic: str) -> tuple[dict[str, int], int]:
    """Messages of a table's changelog ``topic`` by key kind, and how many of them repeat
    the value the key's previous message had (a write that carried nothing new)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=5_000)
    kinds: dict[str, int] = defaultdict(int)
    last: dict[bytes, bytes | None] = {}
    repeated = 0
    try:
        consumer.subscribe([topic])
        for message in consumer:
            kinds[state_key_kind(message.key)] += 1
            repeated += last.get(message.key, object()) == message.value
            last[message.key] = message.value
    finally:
        consumer.close()
    return dict(kinds), repeated


def deferred_writes(settings: Settings, topics: Iterable[str]) -> dict[str, int]:
    """Per table changelog: the writes its next checkpoints owe (see streams.outbox).

    The keys whose values only the outboxes after each partition's checkpoint hold at the
    end of the run, and one checkpoint key per such partition: a longer stream writes
    them, a run that ends first does not, so a fair count of writes adds them.
    """
    owed = {}
    for topic in topics:
        runs = uncovered_runs(read_table(settings, topic, "the worker creates it"))
        owed[topic] = sum(len(folded(run)) + 1 for run in runs.values() if run)
    return owed


def print_changelog(topic: str, writes: tuple[dict[str, int], int], events: int,
                    prefix: str) -> None:
    """Print :func:`changelog_writes` of the accounts changelog per inbound event."""
    kinds, repeated = writes
    by_kind = ", ".join(f"{kind} {n / events:.2f}" for kind, n in
                        sorted(kinds.items(), key=lambda kv: -kv[1]))
    print(f"      {short_name(topic, prefix)} by key: {by_kind}; "
          f"value unchanged from the key's previous write {repeated / events:.2f}")


def short_name(topic: str, prefix: str) -> str:
    """``topic`` without the run's prefix (``b1234abcd.`` or ``bench-1234abcd-``)."""
    for p in (f"b{prefix}.", f"bench-{prefix}-"):
        if topic.startswith(p):
            return topic[len(p):]
    return topic


@dataclass
class _Track:
    """One consumer group's progress on one partition, across samples."""

    max_lag: int = 0
    stalled: float = 0.0  # seconds with lag and no commit since the previous sample
    longest: float = 0.0  # longest such run
    run: float = 0.0
    last: int | None = None


@dataclass
class LagSampler:
    """Samples every group's committed offsets and every topic's end offsets each second.

    ``groups`` maps a consumer group to the topics it reads; topics a group commits on
    are added as they appear (so a reshaped pipeline is followed without changes here).
    A partition counts as stalled for a second when it has lag and its commit did not
    move; that starts counting at the group's first commit (worker start-up is apart).
    """

    bootstrap: str
    groups: dict[str, list[str]]
    interval: float = 1.0
    samples: list[tuple[float, dict[tuple[str, str], int]]] = field(default_factory=list)
    tracks: dict[tuple[str, TopicPartition], _Track] = field(default_factory=dict)
    idle_since: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: dict[str, bool] = field(default_factory=dict)

    def start(self) -> LagSampler:
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="lag-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        previous = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                try:
                    self._sample(admin, consumer, now, now - previous)
                except KafkaError as exc:  # a group's coordinator not known yet, ...
                    logging.getLogger(__name__).debug("lag sample failed: %s", exc)
                previous = now
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - now)))
        finally:
            consumer.close()
            admin.close()

    def _sample(self, admin, consumer, now: float, dt: float) -> None:
        committed = {g: admin.list_group_offsets({g: None}).get(g, {}) for g in self.groups}
        topics = {t for g, ts in self.groups.items() for t in ts}
        topics |= {tp.topic for c in committed.values() for tp in c}
        tps = [TopicPartition(t, p) for t in sorted(topics)
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(tps) if tps else {}
        lag_by_topic: dict[tuple[str, str], int] = defaultdict(int)
        for group, topics_of in self.groups.items():
            mine = set(topics_of) | {tp.topic for tp in committed[group]}
            self._started[group] = self._started.get(group) or bool(committed[group])
            for tp in (tp for tp in tps if tp.topic in mine):
                done = committed[group].get(tp)
                at = done.offset if done is not None else None
                lag = ends[tp] - (at or 0)
                lag_by_topic[(group, tp.topic)] += lag
                track = self.tracks.setdefault((group, tp), _Track())
                track.max_lag = max(track.max_lag, lag)
                if self._started[group] and lag > 0 and at == track.last and self.samples:
                    track.stalled += dt
                    track.run += dt
                    track.longest = max(track.longest, track.run)
                else:
                    track.run = 0.0
                track.last = at
        self.samples.append((now - self.t0, dict(lag_by_topic)))
        total = sum(lag_by_topic.values())
        if total == 0 and all(self._started.values()):
            self.idle_since = self.idle_since if self.idle_since is not None else now - self.t0
        else:
            self.idle_since = None

    def wait_idle(self, settle: float, timeout: float, alive=lambda: True) -> float:
        """Seconds from start until every group had committed everything (stably)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError("a pipeline process exited")
            if self.is_idle(settle):
                return self.idle_since
            time.sleep(0.2)
        raise TimeoutError(f"consumer groups still lagging after {timeout:.0f}s: "
                           f"{self.samples[-1][1] if self.samples else 'no sample'}")

    def is_idle(self, settle: float) -> bool:
        """Every group has committed everything, for ``settle`` seconds now."""
        idle = self.idle_since
        return idle is not None and time.monotonic() - self.t0 - idle >= settle

    def print_summary(self, prefix: str, rows: int = 16) -> None:
        """Max lag and stalls per topic, and a lag timeline of about ``rows`` lines."""
        columns = sorted({k for _, lags in self.samples for k in lags})
        label = {k: short_name(k[1], prefix) + ("" if not k[0].endswith("-sink") else "@sink")
                 for k in columns}
        print("(e) lag per topic, sampled every second (group: workers; @sink: the sink)")
        print(f"      {'topic':<22} {'max lag':>8} {'stalled s':>10} {'longest':>8}  "
              "(stalled: a partition with lag whose commit did not move, summed over "
              "partitions)")
        for k in columns:
            tracks = [t for (g, tp), t in self.tracks.items() if (g, tp.topic) == k]
            most = max(lags.get(k, 0) for _, lags in self.samples)
            print(f"      {label[k]:<22} {most:>8,} {sum(t.stalled for t in tracks):>10.0f}"
                  f" {max(t.longest for t in tracks):>8.0f}")
        step = max(1, len(self.samples) // rows)
        print("      timeline (lag per topic):")
        print("      " + f"{'t (s)':>6} " + " ".join(f"{label[k]:>14}" for k in columns))
        for t, lags in self.samples[::step]:
            print("      " + f"{t:>6.0f} " + " ".join(f"{lags.get(k, 0):>14,}" for k in columns))


@contextmanager
def sink_in_this_process(settings: Settings, log_path: Path) -> Iterator[threading.Thread]:
    """``coselling sink`` (:func:`streams.sink_runner.run_sink`) on a thread of this process.

    So that this process can read the sink's chDB folder while it writes (a chDB folder
    opens in one process at a time). Its log goes to ``log_path``.
    """
    from streams.sink_runner import run_sink

    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    stop = threading.Event()
    thread = threading.Thread(target=run_sink, args=(settings.model_copy(
        update={"sink_web_port": 0}),), kwargs={"stop": stop}, name="sink", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(60)
        root.removeHandler(handler)
        handler.close()


def stage_metrics(web_port: int) -> dict[tuple[str, str], float]:
    """A worker's stage metrics (see streams.metrics.StageClock), from its /metrics page.

    (stage, step) -> seconds, (stage, "landing <step>") -> seconds a batch landing took
    beside the loop; (stage, "events") and (stage, "batches") -> counts.
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "coselling_stage_seconds_total":
                found[sample.labels["stage"], sample.labels["step"]] = sample.value
            elif sample.name == "coselling_stage_landing_seconds_total":
                found[sample.labels["stage"], "landing " + sample.labels["step"]] = sample.value
            elif sample.name in ("coselling_stage_events_total",
                                 "coselling_stage_batches_total"):
                found[sample.labels["stage"], sample.name.split("_")[2]] = sample.value
            elif sample.name == "coselling_stage_source_age_seconds_bucket":
                found[sample.labels["stage"], f"age le {sample.labels['le']}"] = sample.value
            elif sample.name == "coselling_stage_source_age_seconds_sum":
                found[sample.labels["stage"], "age sum"] = sample.value
    return found


def _age_quantile(spent: dict[str, float], q: float) -> str:
    """The upper bound of the histogram bucket holding quantile ``q`` of the source ages."""
    buckets = sorted((float(k.split()[2]), v) for k, v in spent.items()
                     if k.startswith("age le "))
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= q * total:
            return f"<= {bound:g}s" if bound != float("inf") else "> the last bucket"
    return "n/a"


def print_stage_split(before: dict[tuple[str, str], float],
                      after: dict[tuple[str, str], float]) -> None:
    """Where each stage's loop time went between two :func:`stage_metrics` readings."""
    print("  worker stages (share of each stage's loop time by step; batches, messages "
          "per batch):")
    for stage in sorted({stage for stage, _ in after}):
        landing = [f"landing {step}" for step in LANDING_STEPS]
        ages = {k for st, k in after if st == stage and k.startswith("age ")}
        spent = {k: after.get((stage, k), 0.0) - before.get((stage, k), 0.0)
                 for k in (*STAGE_STEPS, *landing, "events", "batches", *ages)}
        loop = sum(spent[step] for step in STAGE_STEPS)
        if not spent["batches"] or not loop:
            continue
        shares = "  ".join(f"{step} {spent[step] / loop:3.0%}" for step in STAGE_STEPS)
        beside = ", ".join(f"{step.split()[1]} {spent[step] / spent['batches'] * 1000:,.0f}"
                           for step in landing)
        print(f"    {stage:<10} {shares}; {spent['batches']:,.0f} batches, "
              f"{spent['events'] / spent['batches']:,.0f} messages each; landing beside "
              f"the loop (ms per batch): {beside}")
        counted = spent.get("age le +Inf", 0.0)
        if counted:
            print(f"{'':15}inputs landed {spent['age sum'] / counted:.2f}s after the CRM change "
                  f"they carry was published on average, p50 {_age_quantile(spent, 0.5)}, "
                  f"p99 {_age_quantile(spent, 0.99)}")
