"""Versioned SQL migrations: ``sinks/migrations/NNNN_name.sql``, applied in order.

``coselling migrate --clickhouse DSN`` applies the files not applied yet and records each
in ``coselling_migrations`` (version, name, checksum, time). Re-running is a no-op; a file
changed after it was applied is refused (write a new migration instead); a failing
statement stops the run naming the file and the statement, and the file is not recorded,
so fixing it and re-running continues there: the file runs again from its first
statement, so every statement is written to be re-runnable (``IF NOT EXISTS``, ``OR
REPLACE``, or guarded by a condition on the tables: ``-- only if:`` and the other
directives of :mod:`sinks.migration_steps`).

There is no migration lock: every sink migrates on start, so two processes can run the
same migration at once, and the files are written so that this is safe: a run finds a
guarded step done, or sees it done by the other run while trying it (not an error), or
stops with an error naming the statement (running migrate again continues); two runs
never undo each other's steps.

The files are Jinja templates rendered for one of two targets:

- single server or chDB: ``ReplacingMergeTree`` tables under their own names, with
  ``non_replicated_deduplication_window`` so insert deduplication tokens work;
- a cluster (``COSELLING_CLICKHOUSE_CLUSTER``): every table is created ``ON CLUSTER`` as
  ``<name>_local`` with ``ReplicatedReplacingMergeTree`` (the servers need the ``{shard}``
  and ``{replica}`` macros), plus a ``Distributed`` table under the plain name, sharded by
  the company key so every version of one result lands on one shard (``FINAL`` stays
  exact). Views read the distributed tables.

Template helpers: ``local(name)``, ``replacing(name, version_column)``,
``distributed(name, sharding_key)``, ``all_replicas(system_table)``, ``on_cluster``,
``dedup_settings``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .exceptions import MigrationError
from .migration_steps import literal, parse_step, run_step

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATIONS_TABLE = "coselling_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
DEDUP_WINDOW = 10_000


@dataclass(frozen=True)
class Target:
    """Where the schema goes: one server (``cluster=None``) or a named cluster."""

    cluster: str | None = None

    @property
    def on_cluster(self) -> str:
        """``ON CLUSTER '<name>'`` or nothing."""
        return f"ON CLUSTER {_quote(self.cluster)}" if self.cluster else ""

    def local(self, name: str) -> str:
        """Name of the table that stores the rows."""
        return f"{name}_local" if self.cluster else name

    def replacing(self, name: str, version: str) -> str:
        """The ReplacingMergeTree engine clause for table ``name``."""
        if not self.cluster:
            return f"ReplacingMergeTree({version})"
        args = [f"'/clickhouse/tables/{{shard}}/{{database}}/{self.local(name)}'",
                "'{replica}'"] + ([version] if version else [])
        return f"ReplicatedReplacingMergeTree({', '.join(args)})"

    def distributed(self, name: str, sharding_key: str) -> str:
        """The Distributed table over ``<name>_local`` (cluster only; else nothing)."""
        if not self.cluster:
            return ""
        c = _quote(self.cluster)
        return (f"CREATE TABLE IF NOT EXISTS {name} {self.on_cluster} AS {self.local(name)}\n"
                f"ENGINE = Distributed({c}, currentDatabase(), '{self.local(name)}', "
                f"{sharding_key})")

    def all_replicas(self, system_table: str) -> str:
        """A system table of every server of the cluster (else of this one)."""
        if not self.cluster:
            return system_table
        return f"clusterAllReplicas({_quote(self.cluster)}, {system_table})"

    @property
    def dedup_settings(self) -> str:
        """Replicated tables deduplicate inserts already; others must be told to."""
        if self.cluster:
            return ""
        return f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"

    def insert_settings(self) -> dict[str, int]:
        """Settings for inserts: through a Distributed table, wait for the shards."""
        return {"distributed_foreground_insert": 1} if self.cluster else {}


def _quote(value: str | None) -> str:
    return literal(value or "")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def source(self) -> str:
        """The file's text."""
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        """SHA-256 of the file (not of a rendering, which depends on the target)."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def statements(self, target: Target) -> list[str]:
        """The file rendered for ``target``, split into statements (empty ones dropped)."""
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                                 keep_trailing_newline=True)
        try:
            text = env.from_string(self.source).render(
                local=target.local, replacing=target.replacing,
                distributed=target.distributed, all_replicas=target.all_replicas,
                on_cluster=target.on_cluster, dedup_settings=target.dedup_settings)
        except jinja2.TemplateError as exc:
            raise MigrationError(f"{self.path.name}: template error: {exc}") from exc
        return split_statements(text)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files in version order; names must be ``NNNN_lowercase_name.sql``."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is also "
                                 f"{found[version].path.name}")
        found[version] = Migration(version, m.group(2), path)
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split on ``;`` outside quotes and comments; drop statements that are only comments."""
    statements, current, i, quote = [], [], 0, None
    while i < len(sql):
        ch = sql[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(sql):
                current.append(sql[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'`\"":
            quote = ch
            current.append(ch)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            current.append(sql[i:end])
            i = end - 1
        elif ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--")
               for line in statement.splitlines())


@dataclass(frozen=True)
class MigrationResult:
    """What a migrate run did."""

    applied: list[str]
    already: list[str]


def migrate(client, target: Target, *, ttl_days: int,
            directory: Path = MIGRATIONS_DIR) -> MigrationResult:
    """Apply pending migrations with clickhouse-connect ``client``; set the event-log TTL."""
    migrations = discover(directory)
    _run(client, _history_ddl(target), "creating the migrations table")
    done = {int(v): (n, c) for v, n, c in client.query(
        f"SELECT version, argMax(name, applied_at), argMax(checksum, applied_at) "
        f"FROM {MIGRATIONS_TABLE} GROUP BY version").result_rows}
    result = MigrationResult([], [])
    for m in migrations:
        if m.version in done:
            if done[m.version][1] != m.checksum:
                raise MigrationError(
                    f"{m.path.name} was changed after it was applied (checksum differs); "
                    "write a new migration instead of editing an applied one")
            result.already.append(m.path.name)
            continue
        statements = m.statements(target)
        for number, statement in enumerate(statements, start=1):
            apply_statement(client, statement,
                            f"{m.path.name}, statement {number} of {len(statements)}")
        _run(client, f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES "
                     f"({m.version}, {literal(m.name)}, {literal(m.checksum)})",
             f"recording {m.path.name}")
        log.info("applied %s (%d statements)", m.path.name, len(statements))
        result.applied.append(m.path.name)
    set_event_ttl(client, target, ttl_days)
    return result


def apply_statement(client, statement: str, what: str) -> None:
    """Run one rendered statement of a migration file, honouring its directives."""
    try:
        step = parse_step(statement)
    except MigrationError as exc:
        raise MigrationError(f"{what}: {exc}") from exc
    run_step(step, command=lambda sql: _run(client, sql, what),
             rows=lambda sql: _rows(client, sql, what))


def set_event_ttl(client, target: Target, ttl_days: int) -> None:
    """Make ``crm_events`` keep events ``ttl_days`` days after ingest (0: forever)."""
    table = target.local("crm_events")
    if ttl_days > 0:
        sql = (f"ALTER TABLE {table} {target.on_cluster} MODIFY TTL "
               f"toDateTime(ingest_time) + INTERVAL {int(ttl_days)} DAY")
    else:
        has_ttl = client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND name = {t:String} AND create_table_query LIKE '% TTL %'",
            parameters={"t": table}).result_rows[0][0]
        if not has_ttl:
            return
        sql = f"ALTER TABLE {table} {target.on_cluster} REMOVE TTL"
    _run(client, sql, "setting the crm_events TTL",
         settings={"materialize_ttl_after_modify": 0})


def _history_ddl(target: Target) -> str:
    engine = ("MergeTree" if not target.cluster else
              f"ReplicatedMergeTree('/clickhouse/tables/{{database}}/{MIGRATIONS_TABLE}', "
              "'{shard}-{replica}')")
    return (f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} {target.on_cluster} (\n"
            "  version UInt32, name String, checksum String,\n"
            "  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)\n"
            f") ENGINE = {engine} ORDER BY version")


def _run(client, statement: str, what: str, settings: dict | None = None) -> None:
    _named_failure(lambda: client.command(statement, settings=settings), statement, what)


def _rows(client, query: str, what: str) -> list[tuple]:
    return _named_failure(lambda: client.query(query).result_rows, query, what)


def _named_failure(call, statement: str, what: str):
    """``call()``; a ClickHouse error becomes a MigrationError naming ``what``."""
    from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

    try:
        return call()
    except OperationalError:
        raise  # cannot reach ClickHouse: retryable, the caller decides
    except ClickHouseError as exc:
        first = next((ln.strip() for ln in statement.splitlines()
                      if ln.strip() and not ln.strip().startswith("--")), "")
        raise MigrationError(f"{what} failed ({first[:80]}...): {exc}") from exc
