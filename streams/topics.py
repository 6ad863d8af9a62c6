"""Create the pipeline's Kafka topics (kafka-python admin). Idempotent."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from .exceptions import RetryableError
from .settings import Settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    """Every topic the pipeline reads or writes (internal Faust topics excluded)."""
    return [
        settings.topic_inbound,
        settings.topic_control,
        settings.topic_by_account,
        settings.topic_by_company,
        settings.topic_sink,
        settings.topic_overlaps,
        settings.topic_intros,
        settings.topic_attributions,
        settings.topic_dead_letter,
    ]


def ensure_topics(settings: Settings, *, timeout_ms: int = 30_000) -> list[str]:
    """Create missing topics; return the names created (empty when all existed)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=timeout_ms,
        )
    except KafkaError as exc:
        raise RetryableError(
            f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}"
        ) from exc
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in topic_names(settings) if n not in existing]
        created = []
        for name in wanted:
            topic = NewTopic(name, settings.topic_partitions, settings.topic_replication)
            try:
                admin.create_topics([topic], timeout_ms=timeout_ms)
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        admin.close()
