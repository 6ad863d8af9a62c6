"""Consumer group lag and last-message times, read with kafka-python.

Used by ``coselling status`` and the streaming demo.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from .exceptions import KafkaUnreachableError, RetryableError

#: How long ``status`` waits for a broker before saying none answers.
REACH_TIMEOUT_SECONDS = 3.0
_REACH_TIMEOUT_MS = int(REACH_TIMEOUT_SECONDS * 1000)  # the Kafka clients' bootstrap timeout


@dataclass(frozen=True)
class PartitionLag:
    """Where a consumer group stands on one partition."""

    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        """Messages after the group's committed offset."""
        return self.end - (self.committed or 0)


def ensure_reachable(bootstrap_servers: str, timeout: float = REACH_TIMEOUT_SECONDS) -> None:
    """Raise :class:`KafkaUnreachableError` unless some bootstrap server accepts a connection.

    A quick TCP connect, so a missing broker is reported at once (kafka-python would keep
    retrying for its bootstrap timeout).
    """
    servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
    each = max(0.5, timeout / max(1, len(servers)))  # all of them within about ``timeout``
    reasons = []
    for server in servers:
        try:
            with socket.create_connection(_host_port(server), timeout=each):
                return
        except ValueError:
            reasons.append(f"{server}: not host:port")
        except OSError as exc:
            reasons.append(f"{server}: {exc.strerror or exc.__class__.__name__}")
    raise KafkaUnreachableError(
        f"no Kafka broker answers at {bootstrap_servers} ({'; '.join(reasons) or 'no address'});"
        " start one or point --bootstrap-servers / COSELLING_KAFKA_BOOTSTRAP_SERVERS at it")


def _host_port(server: str) -> tuple[str, int]:
    """Host and port of a bootstrap server (``host:port``, ``[v6]:port``; port 9092 if none)."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest.removeprefix(":") or 9092)
    host, sep, port = server.rpartition(":")
    return (host, int(port)) if sep else (server, 9092)


def _consumer(bootstrap_servers: str) -> KafkaConsumer:
    try:
        return KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","),
                             enable_auto_commit=False, request_timeout_ms=15_000,
                             bootstrap_timeout_ms=_REACH_TIMEOUT_MS)
    except KafkaError as exc:
        raise KafkaUnreachableError(f"no Kafka broker answers at {bootstrap_servers} within "
                                    f"{REACH_TIMEOUT_SECONDS:.0f} s ({exc.__class__.__name__})"
                                    ) from None


def group_lag(bootstrap_servers: str, group: str, topics: list[str]) -> list[PartitionLag]:
    """Committed and end offsets of ``group`` on every partition of ``topics``."""
    consumer = _consumer(bootstrap_servers)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","),
                                 request_timeout_ms=15_000,
                                 bootstrap_timeout_ms=_REACH_TIMEOUT_MS)
        try:
            committed = admin.list_group_offsets({group: None}).get(group, {})
        finally:
            admin.close()
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(tps) if tps else {}
    except KafkaError as exc:
        raise RetryableError(f"reading consumer offsets from {bootstrap_servers}: {exc}") \
            from None
    finally:
        consumer.close()
    return [PartitionLag(tp.topic, tp.partition,
                         committed[tp].offset if tp in committed else None, ends[tp])
            for tp in tps]


def last_message_times(bootstrap_servers: str, topic: str) -> dict[int, dt.datetime]:
    """Timestamp of the last message of each non-empty partition of ``topic``."""
    consumer = _consumer(bootstrap_servers)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                        or ())]
        if not tps:
            return {}
        ends = consumer.end_offsets(tps)
        wanted = [tp for tp in tps if ends[tp] > 0]
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, ends[tp] - 1)
        times: dict[int, dt.datetime] = {}
        for _ in range(10):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    times[tp.partition] = dt.datetime.fromtimestamp(r.timestamp / 1000, dt.UTC)
            if len(times) == len(wanted):
                break
        return times
    except KafkaError as exc:
        raise RetryableError(f"reading {topic} from {bootstrap_servers}: {exc}") from None
    finally:
        consumer.close()
