"""The one settings object. No other module reads the environment.

Every setting comes from an environment variable named ``COSELLING_<SETTING>`` (for
example ``COSELLING_KAFKA_BOOTSTRAP_SERVERS``) or from an optional TOML config file
(``--config FILE`` or ``COSELLING_CONFIG``; keys are the setting names in lower case).
Command-line flags override the environment, which overrides the file. Secrets are
``SecretStr`` and never printed.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.codec import Codec, Framing
from schemas.internal import INTERNAL_FORMATS
from schemas.registry_client import SchemaRegistryClient, redact_url
from schemas.validation import EventLimits, EventValidator

from .exceptions import StreamConfigError

ENV_PREFIX = "COSELLING_"


class Settings(BaseSettings):
    """Configuration of the co-selling pipeline (workers, CLI, tests)."""

    model_config = SettingsConfigDict(env_prefix="COSELLING_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "localhost:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    app_id: str = Field("coselling", description="Faust app id: the consumer group name.")
    topic_inbound: str = Field(
        "coselling.crm-events",
        description="Topic the CRMs publish account, opportunity, "
        "contact and partner-touch events to.",
    )
    topic_control: str = Field(
        "coselling.control", description="Topic for control events: partnerships, tenant settings."
    )
    topic_by_account: str = Field(
        "coselling.by-account",
        description="Internal topic: inbound events re-keyed by tenant and account.",
    )
    topic_by_company: str = Field(
        "coselling.by-company",
        description="Internal topic: account snapshots and partnerships keyed by company.",
    )
    topic_matching: str = Field(
        "coselling.matching",
        description="Internal topic: accounts' match inputs for the resolver (one partition).",
    )
    topic_sink: str = Field(
        "coselling.sink-rows",
        description="Internal topic: result rows for the ClickHouse sink (never partner-facing).",
    )
    topic_overlaps: str = Field("coselling.overlaps", description="Outbound overlap events.")
    topic_intros: str = Field("coselling.intros", description="Outbound intro events.")
    topic_attributions: str = Field(
        "coselling.attributions", description="Outbound attribution events."
    )
    topic_dead_letter: str = Field(
        "coselling.dead-letter",
        description="Messages that could not be decoded or processed, with the error in headers.",
    )
    kafka_session_timeout_seconds: float = Field(
        30.0, ge=6, le=300, description="Consumer group session timeout: how long a crashed "
        "worker's partitions wait before another worker takes them over.",
    )
    stall_seconds: float = Field(
        60.0, gt=0, description="A partition behind whose commit has not moved for this "
        "long is read again from its committed offset (see streams/watchdog.py).",
    )
    topic_partitions: int = Field(8, ge=1, description="Partitions of topics the app creates.")
    topic_replication: int = Field(1, ge=1, description="Replication factor of created topics.")
    topic_retention_days: float = Field(
        7.0, gt=0, description="Retention of the inbound, internal and outbound topics "
        "(the control topic keeps everything; state topics are compacted).",
    )
    dead_letter_retention_days: float = Field(
        30.0, gt=0, description="Retention of the dead-letter topic."
    )
    standby_replicas: int = Field(
        0, ge=0, description="Standby copies of each worker's table state on other workers "
        "(faster fail-over, more disk).",
    )
    wire_format: Framing = Field(
        Framing.SINGLE_OBJECT, description="Framing of produced events: single-object or confluent."
    )
    schema_registry_url: str | None = Field(
        None, description="Confluent-compatible schema registry; needed for confluent framing."
    )
    internal_format: str = Field(
        "avro", description="Format the workers write internal messages in: avro (the "
        "versioned schemas in schemas/avro/internal) or json (what earlier versions wrote "
        "and read: for the first step of an upgrade while they still run). Both are read.")
    schema_registry_username: str | None = Field(
        None, description="User for the schema registry's basic auth.")
    schema_registry_password: SecretStr | None = Field(
        None, description="Password for the schema registry's basic auth (never shown).")
    store: str = Field("rocksdb", description="Faust table store: rocksdb or memory.")
    data_dir: str = Field(".coselling-data", description="Folder for worker state (RocksDB).")
    web_port: int = Field(6066, ge=0, le=65535, description="Faust web port of the worker "
                          "(/metrics, /healthz, /readyz).")
    web_host: str = Field("127.0.0.1", description="Address the worker's web port and the "
                          "sink's metrics port listen on (0.0.0.0 in containers).")
    sink_web_port: int = Field(6067, ge=0, le=65535, description="Port of the sink's "
                               "Prometheus metrics (0: none).")
    log_format: str = Field("auto", description="auto (JSON when not on a terminal), json "
                            "or text.")
    attribution_window_days: float = Field(
        180.0, gt=0, description="Partner touches this many days before a close count."
    )
    attribution_half_life_days: float = Field(
        30.0, gt=0, description="Half-life of the time_decay attribution model."
    )
    sink_batch_rows: int = Field(5000, ge=1, description="The sink writes when its input is "
                                 "idle, or at this many rows...")
    sink_batch_seconds: float = Field(1.0, gt=0, description="...or when a batch is this old.")
    clickhouse_dsn: SecretStr = Field(
        SecretStr("chdb://./.coselling-data/chdb"),
        description="ClickHouse DSN: http(s)://user:pass@host:port/db or chdb://PATH.",
    )
    clickhouse_cluster: str | None = Field(
        None, description="ClickHouse cluster name: tables are created ON CLUSTER as "
        "replicated tables behind Distributed ones. Unset: a single server or chDB.",
    )
    crm_events_ttl_days: int = Field(
        730, ge=0, description="Days raw CRM events are kept in crm_events after the "
        "pipeline received them (0: forever).",
    )

    max_id_length: int = Field(
        256, ge=1, description="Longest id or tenant id accepted in an input event; a longer "
        "one rejects the event.",
    )
    max_text_length: int = Field(
        2000, ge=1, description="Longest name or other text accepted in an input event; a "
        "longer one rejects the event.",
    )
    earliest_event_time: dt.datetime = Field(
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC), description="Input events with a timestamp "
        "(or date) before this are rejected.",
    )
    latest_event_time: dt.datetime = Field(
        dt.datetime(2100, 1, 1, tzinfo=dt.UTC), description="Input events with a timestamp "
        "(or date) at or after this are rejected.",
    )
    replay_claim_stale_seconds: float = Field(
        600.0, gt=0, description="A replay into a ClickHouse server renews its claim on the "
        "database while it writes; a claim not renewed for this long is one of a replay "
        "that died, and the next replay rebuilds past it.",
    )
    commit_audit_file: str | None = Field(
        None, description="For tests and diagnostics: a file every worker appends a JSON "
        "line to for each event its agents processed and each offset it commits (see "
        "streams/commit_audit.py). Unset: no audit.",
    )
    checkpoint_keys: int = Field(
        100_000, ge=1, description="Most keys of a table a worker's agent keeps only in "
        "its batches' outboxes (and in memory, encoded: about 0.6 KB an account) before it "
        "writes them to the table in a checkpoint (see streams/outbox.py): more means "
        "fewer table writes, more memory and more for the next owner of a partition to "
        "apply.",
    )
    fault_point: str | None = Field(
        None, pattern=r"^(accounts|resolver|companies):(after-outbox|after-sends|"
        r"mid-checkpoint):[1-9][0-9]*$",
        description="For tests only: ``STAGE:POINT:N`` makes the worker SIGKILL itself "
        "in that stage at POINT: after-outbox (in its N-th batch with table writes, once "
        "its outboxes landed), after-sends (the same, once its messages were delivered) or "
        "mid-checkpoint (in its N-th checkpoint, once half of its writes landed). See "
        "streams/faults.py and streams/outbox.py.",
    )

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Settings:
        """Settings from flags (``overrides``), the environment and the config file."""
        config_file = config_file or os.environ.get(f"{ENV_PREFIX}CONFIG")
        from_file = read_config_file(Path(config_file)) if config_file else {}
        in_env = {k.upper() for k in os.environ}
        lower = {k: v for k, v in from_file.items()
                 if f"{ENV_PREFIX}{k.upper()}" not in in_env}
        return cls(**{**lower, **{k: v for k, v in overrides.items() if v is not None}})

    def environment(self, **extra: str) -> dict[str, str]:
        """These settings as ``COSELLING_*`` variables for a child process.

        Secrets are included: never log the result.
        """
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            env[f"{ENV_PREFIX}{name.upper()}"] = str(getattr(value, "value", value))
        return {**env, **extra}

    def shown(self, name: str) -> str:
        """Setting ``name`` as ``coselling settings`` prints it: only credentials masked.

        A DSN or URL is shown with its password (and credential query parameters) masked,
        so a chDB path or a server address stays readable; any other secret (a password)
        is masked whole.
        """
        value = getattr(self, name)
        if value is None:
            return "(not set)"
        if isinstance(value, SecretStr):
            if name.endswith(("_dsn", "_url")):
                return redact_url(value.get_secret_value())
            return "**********"
        text = str(getattr(value, "value", value))
        return redact_url(text) if "://" in text else text

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("auto", "json", "text"):
            raise ValueError("log_format must be auto, json or text")
        return value

    @field_validator("internal_format")
    @classmethod
    def _known_internal_format(cls, value: str) -> str:
        if value not in INTERNAL_FORMATS:
            raise ValueError("internal_format must be avro or json")
        return value

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value not in ("rocksdb", "memory"):
            raise ValueError("store must be rocksdb or memory")
        return value

    @field_validator("earliest_event_time", "latest_event_time")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("a timestamp needs a time zone, e.g. 1970-01-01T00:00:00Z")
        return value.astimezone(dt.UTC)

    @model_validator(mode="after")
    def _time_window(self) -> Settings:
        if self.earliest_event_time >= self.latest_event_time:
            raise ValueError(
                f"COSELLING_EARLIEST_EVENT_TIME ({self.earliest_event_time.isoformat()}) must "
                f"be before COSELLING_LATEST_EVENT_TIME ({self.latest_event_time.isoformat()})")
        return self

    def event_limits(self) -> EventLimits:
        """The bounds input events are checked against."""
        return EventLimits(self.max_id_length, self.max_text_length,
                           self.earliest_event_time, self.latest_event_time)

    @cached_property
    def event_validator(self) -> EventValidator:
        """The validator publish, replay and the workers check every input event with."""
        return EventValidator(self.event_limits())

    @cached_property
    def registry(self) -> SchemaRegistryClient | None:
        """The schema registry client, built on first use (never at import)."""
        if not self.schema_registry_url:
            return None
        password = self.schema_registry_password
        return SchemaRegistryClient(
            self.schema_registry_url,
            username=self.schema_registry_username,
            password=password.get_secret_value() if password else None,
        )

    def attribution(self):
        """The attribution configuration."""
        from .core.attribution import AttributionConfig

        return AttributionConfig(self.attribution_window_days, self.attribution_half_life_days)

    def clickhouse_target(self):
        """Single server/chDB or the configured cluster (see sinks.migrate)."""
        from sinks.migrate import Target

        return Target(self.clickhouse_cluster or None)

    def codec(self) -> Codec:
        """A codec in the configured wire format."""
        return Codec(framing=self.wire_format, registry=self.registry)


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML config file; unknown keys are an error, not ignored."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StreamConfigError(f"{path}: no such config file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StreamConfigError(f"{path}: not a readable TOML file: {exc}") from None
    data = data.get("coselling", data)
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise StreamConfigError(f"{path}: unknown setting {unknown[0]!r} "
                                "(`coselling settings` lists them)")
    return data
