"""The pipeline's Kafka topics and their configuration (kafka-python admin).

Created by ``coselling init`` and by every worker at start. Idempotent: existing topics
are left as they are.

- inbound, internal (by-account, by-company, matching, sink rows) and outbound topics:
  delete policy, retention ``COSELLING_TOPIC_RETENTION_DAYS``; the matching topic and the
  resolver's changelog have ONE partition (the resolver's state is global: any account
  may merge with any other), every other topic ``COSELLING_TOPIC_PARTITIONS``;
- the dead-letter topic: retention ``COSELLING_DEAD_LETTER_RETENTION_DAYS``;
- the control topic: kept for ever (``retention.ms=-1``), not compacted. Control
  events are few, and a compacted source topic has holes in its offsets, which Faust
  cannot tell from skipped messages (see ``streams.offset_guard``);
- the workers' state (table changelog) topics: compacted, as Faust expects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from .exceptions import RetryableError
from .settings import Settings

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
#: Faust tables of the app (streams.app): their changelog topics hold the workers' state.
TABLES = ("accounts", "companies", "resolver")
#: Tables (and their source topics) with one partition, whatever the topics' setting.
SINGLE_PARTITION_TABLES = ("resolver",)


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name and configuration."""

    name: str
    config: dict[str, str]
    #: None: the ``topic_partitions`` setting.
    partitions: int | None = None


def topic_names(settings: Settings) -> list[str]:
    """Every topic the pipeline reads or writes (internal Faust topics excluded)."""
    return [
        settings.topic_inbound,
        settings.topic_control,
        settings.topic_by_account,
        settings.topic_by_company,
        settings.topic_matching,
        settings.topic_sink,
        settings.topic_overlaps,
        settings.topic_intros,
        settings.topic_attributions,
        settings.topic_dead_letter,
    ]


def sink_topics(settings: Settings) -> list[str]:
    """Every topic ``coselling sink`` reads (see :mod:`streams.sink_inputs`)."""
    return [settings.topic_sink, settings.topic_inbound, settings.topic_control,
            settings.topic_intros, settings.topic_attributions]


def consumer_groups(settings: Settings) -> dict[str, list[str]]:
    """The pipeline's consumer groups (the workers', ``<app id>-sink``) and what each reads."""
    return {settings.app_id: [settings.topic_inbound, settings.topic_control,
                              settings.topic_by_account, settings.topic_by_company,
                              settings.topic_matching],
            f"{settings.app_id}-sink": sink_topics(settings)}


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic ``init`` creates, with its configuration."""
    retention = {"cleanup.policy": "delete",
                 "retention.ms": str(int(settings.topic_retention_days * DAY_MS))}
    specs = []
    for name in topic_names(settings):
        if name == settings.topic_control:
            config = {"cleanup.policy": "delete", "retention.ms": "-1"}
        elif name == settings.topic_dead_letter:
            config = {"cleanup.policy": "delete",
                      "retention.ms": str(int(settings.dead_letter_retention_days * DAY_MS))}
        else:
            config = retention
        specs.append(TopicSpec(name, config, 1 if name == settings.topic_matching else None))
    for table in TABLES:
        specs.append(TopicSpec(f"{settings.app_id}-{table}-changelog",
                               {"cleanup.policy": "compact"},
                               1 if table in SINGLE_PARTITION_TABLES else None))
    return specs


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
        created = []
        for spec in topic_specs(settings):
            if spec.name in existing:
                continue
            topic = NewTopic(spec.name, spec.partitions or settings.topic_partitions,
                             settings.topic_replication, topic_configs=spec.config)
            try:
                admin.create_topics([topic], timeout_ms=timeout_ms)
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    except KafkaError as exc:
        raise RetryableError(f"creating topics on {settings.kafka_bootstrap_servers}: "
                             f"{exc}") from exc
    finally:
        admin.close()
