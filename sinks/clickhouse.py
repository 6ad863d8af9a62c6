"""ClickHouse through clickhouse-connect, for every DSN (server, cluster or embedded chDB).

``http(s)://user:password@host:port/database`` selects a ClickHouse server;
``chdb://PATH`` the embedded chDB engine with its data in PATH (relative paths are taken
from the working directory; ``chdb://PATH?config-file=FILE`` starts it with a ClickHouse
config, e.g. users with row policies). Writes are idempotent: every row has a
deterministic key and a version (ReplacingMergeTree) and each insert carries a
deduplication token. :class:`ClickHouseSink` is the batching sink the runner drives.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from schemas import source_time
from schemas.epoch import epoch_millis
from schemas.exceptions import InternalMessageFormatError
from schemas.internal import internal_codec
from schemas.registry_client import redact_url as redact

from .base import Batch, BatchingSink, Message, Rejected, token_of
from .chdb_folder import open_chdb, will_create
from .columns import table_columns
from .exceptions import SinkConfigError, SinkDataError, SinkUnavailableError
from .migrate import MigrationResult, Target, migrate
from .rows import table_rows
from .tables import VIEWS, Table

log = logging.getLogger(__name__)

#: Server error codes that mean "these rows are bad" (retrying cannot help): parse and
#: conversion failures, values out of range, too large values, bad arguments.
DATA_ERROR_CODES = frozenset({6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 407})


def connect(dsn: str, *, create: bool = True):
    """A clickhouse-connect client for ``dsn`` (see module doc).

    :param create: a missing chDB folder may be created (see :mod:`sinks.chdb_folder`).
    """
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError

    try:
        if dsn.startswith("chdb://"):
            return open_chdb(dsn, create=create)
        if not dsn.startswith(("http://", "https://", "clickhouse://", "clickhouses://")):
            scheme = dsn.split("://", 1)[0] + "://" if "://" in dsn else "no scheme"
            raise SinkConfigError(
                f"ClickHouse DSN {redact(dsn)!r} has {scheme!r}, not http(s):// or chdb:// "
                "(http(s)://USER:PASSWORD@HOST:PORT/DATABASE or chdb://PATH)")
        return clickhouse_connect.get_client(dsn=dsn)
    except (ClickHouseError, OSError, RuntimeError) as exc:
        raise SinkUnavailableError(f"cannot connect to ClickHouse at {redact(dsn)}: {exc}") \
            from exc


class ClickHouseWriter:
    """Migrates the schema, inserts rows idempotently and runs queries.

    :param dsn: ``http(s)://...`` or ``chdb://PATH``.
    :param target: single server/chDB (default) or a cluster (see :mod:`sinks.migrate`).
    :param create: a missing chDB folder may be created; False for commands that only
        read, so a mistyped path is an error rather than a new empty database.
    """

    def __init__(self, dsn: str, target: Target | None = None, *, create: bool = True):
        self.dsn = dsn
        self.target = target or Target()
        self.create = create
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """The connected client (connects on first use)."""
        if self._client is None:
            self._client = connect(self.dsn, create=self.create)
        return self._client

    @property
    def new_database(self) -> bool:
        """Whether this writer will create its database: a chDB folder that holds none yet.

        Such a database holds nothing until this writer creates it
        (:func:`~sinks.chdb_folder.will_create`). A server's database is never taken as
        new without asking it.
        """
        return self.create and will_create(self.dsn)

    def migrate(self, *, ttl_days: int = 0) -> MigrationResult:
        """Apply pending migrations (see :mod:`sinks.migrate`)."""
        return self._run(lambda: migrate(self.client, self.target, ttl_days=ttl_days),
                         "migrating")

    def insert(self, table: Table, rows: list[list[Any]], *, token: str | None = None) -> None:
        """Insert ``rows`` (values in ``table``'s column order) with explicit types."""
        self._insert(table, rows, token=token, column_oriented=False)

    def insert_columns(self, table: Table, columns: list[list[Any]], *,
                       token: str | None = None) -> None:
        """Insert ``columns`` (one list of values per column of ``table``, in its order)."""
        self._insert(table, columns, token=token, column_oriented=True)

    def _insert(self, table: Table, data: list[list[Any]], *, token: str | None,
                column_oriented: bool) -> None:
        settings: dict[str, Any] = dict(self.target.insert_settings())
        if token:
            settings["insert_deduplication_token"] = f"{token}:{table.name}"
        else:
            # Rows without a token are replaced by key and version anyway; a replicated
            # table would drop a block equal to an earlier one, also after TRUNCATE (the
            # replay's rebuild), and a replay's claim renewal.
            settings["insert_deduplicate"] = 0
        rows = len(data[0]) if column_oriented and data else len(data)
        if self.dsn.startswith("chdb://"):
            self._run(lambda: self._insert_native(table, data if column_oriented else [
                list(c) for c in zip(*data, strict=True)], settings),
                f"inserting {rows} rows into {table.name}")
            return
        self._run(lambda: self.client.insert(
            table.name, data, column_names=table.column_names,
            column_type_names=table.column_types, column_oriented=column_oriented,
            settings=settings), f"inserting {rows} rows into {table.name}")

    def _insert_native(self, table: Table, columns: list[list[Any]],
                       settings: dict[str, Any]) -> None:
        """Insert one Native block written by the driver's own column writers (chDB).

        What ``client.insert`` sends to chDB, without its check for pandas and numpy
        input, whose first use imports pandas: a third of a second of CPU, while the
        replay's other threads wait for the GIL.
        """
        from clickhouse_connect.driver.common import write_leb128

        if not columns or not columns[0]:
            return
        context = self.client.create_insert_context(
            table.name, table.column_names, column_type_names=table.column_types,
            column_oriented=True, settings=settings)
        block = bytearray()
        write_leb128(len(columns), block)
        write_leb128(len(columns[0]), block)
        for name, ch_type, column in zip(table.column_names, context.column_types, columns,
                                         strict=True):
            for text in (name, ch_type.insert_name):
                encoded = text.encode()
                write_leb128(len(encoded), block)
                block += encoded
            context.start_column(name)
            ch_type.write_column(column, block, context)
        self.client.raw_insert(table.name, table.column_names, bytes(block),
                               settings=settings, fmt="Native")

    def write(self, messages: Sequence[dict[str, Any]], *, token: str | None = None) -> int:
        """Insert the rows of sink messages (JSON data), one insert per table.

        Returns the rows written. Used by the replay path, a column at a time
        (:mod:`sinks.columns`); the streaming sink goes through :class:`ClickHouseSink`,
        which also dead-letters bad messages.
        """
        written_ms = epoch_millis(dt.datetime.now(dt.UTC))
        tables = sorted(table_columns(messages, written_ms=written_ms),
                        key=lambda item: item[0].name)
        for table, columns in tables:
            self.insert_columns(table, columns, token=token)
        return sum(len(columns[0]) for _, columns in tables)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """Rows of a query (for views, reports and tests)."""
        return self._run(lambda: self.client.query(sql, parameters=parameters).result_rows,
                         "querying")

    def command(self, sql: str) -> None:
        """Run one statement."""
        self._run(lambda: self.client.command(sql), "running a command")

    def _run(self, fn, what: str):
        from clickhouse_connect.driver.exceptions import (
            DatabaseError,
            DataError,
            OperationalError,
            ProgrammingError,
        )

        with self._lock:
            try:
                return fn()
            except OperationalError as exc:
                self._client = None
                raise SinkUnavailableError(f"ClickHouse unavailable while {what}: {exc}") \
                    from exc
            except (DataError, ProgrammingError, ValueError, TypeError, AttributeError) as exc:
                raise SinkDataError(f"ClickHouse rejected data while {what}: {exc}") from exc
            except DatabaseError as exc:
                if getattr(exc, "code", None) in DATA_ERROR_CODES:
                    raise SinkDataError(f"ClickHouse rejected data while {what}: {exc}") \
                        from exc
                raise SinkUnavailableError(f"ClickHouse error while {what}: {exc}") from exc

    def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            self._client.close()
            self._client = None


class ClickHouseSink(BatchingSink):
    """The batching sink into ClickHouse.

    The pending batches of every partition are read into sink messages by ``read`` (a
    message it raises :class:`SinkDataError` for is rejected; one it reads as no message
    at all is skipped) and inserted together, one insert per table, its token made of
    each partition's offset range: an insert costs about the same for ten rows as for
    thousands, so a flush costs one insert per table, not one per table and partition.
    When ClickHouse rejects an insert as bad data, the messages are split in halves until
    the offending ones are isolated; they are rejected, the rest is written.

    :param writer: the ClickHouse writer.
    :param max_rows: flush at this many pending messages...
    :param max_age: ...or when the oldest is this many seconds old.
    :param read: a Kafka message's sink messages (JSON data); by default
        :func:`sink_message` (one result change per message, Avro or JSON).
    """

    combine_batches = True

    def __init__(self, writer: ClickHouseWriter, max_rows: int, max_age: float,
                 read: Callable[[Message], list[dict[str, Any]]] | None = None, **kwargs):
        super().__init__(max_rows, max_age, **kwargs)
        self.writer = writer
        self.read = read or sink_message
        self._written_times: list[tuple[int, int | None, int | None]] = []

    def take_written_times(self) -> list[tuple[int, int | None, int | None]]:
        """Event, ingest and source times (epoch ms) of the rows written since the last call.

        For the latency metrics. The ingest time is None for result rows; the source time
        (:mod:`schemas.source_time`, the message's header) is None for rows other than
        result rows and for result messages without one.
        """
        times, self._written_times = self._written_times, []
        return times

    def write(self, batch: Batch) -> tuple[int, list[Rejected]]:
        """Write one partition batch (see class doc)."""
        return self.write_batches([batch])

    def write_batches(self, batches: list[Batch]) -> tuple[int, list[Rejected]]:
        """Write the batches of several partitions together (see class doc)."""
        good: list[tuple[Message, list[tuple[Table, list[Any]]]]] = []
        parsed: list[tuple[Message, dict[str, Any]]] = []
        rejected: list[Rejected] = []
        for m in (m for batch in batches for m in batch.messages):
            try:
                messages = self.read(m)
                if not messages:
                    continue  # nothing to write (see read): skipped, not rejected
                good.append((m, [row for data in messages for row in table_rows(data)]))
                parsed.extend((m, data) for data in messages)
            except SinkDataError as exc:
                rejected.append(Rejected(m, exc))
        rows = self._write_or_split(good, rejected) if good else 0
        bad = {id(r.message) for r in rejected}
        self._written_times.extend(_times(m, data) for m, data in parsed if id(m) not in bad)
        return rows, rejected

    def _write_or_split(self, part, rejected: list[Rejected]) -> int:
        by_table: dict[str, tuple[Table, list[list[Any]]]] = {}
        for _, rows in part:
            for table, values in rows:
                by_table.setdefault(table.name, (table, []))[1].append(values)
        token = token_of([m for m, _ in part])
        try:
            for _, (table, rows) in sorted(by_table.items()):
                self.writer.insert(table, rows, token=token)
            return sum(len(rows) for _, rows in by_table.values())
        except SinkDataError as exc:
            if len(part) == 1:
                rejected.append(Rejected(part[0][0], exc))
                return 0
            half = len(part) // 2
            return (self._write_or_split(part[:half], rejected)
                    + self._write_or_split(part[half:], rejected))


def sink_message(message: Message) -> list[dict[str, Any]]:
    """The sink message of a sink-topic message: one result change.

    In its internal Avro schema, or one JSON object as earlier workers wrote it (see
    :mod:`schemas.internal`).
    """
    try:
        return [internal_codec().decode(message.value or b"")]
    except InternalMessageFormatError as exc:
        raise SinkDataError(str(exc)) from exc


def _times(message: Message, data: dict[str, Any]) -> tuple[int, int | None, int | None]:
    row = data["row"]
    if "event_time" in row:
        return int(row["event_time"]), int(row["ingest_time"]), None
    return (int(row.get("occurred_at") or 0), None,
            source_time.from_headers(message.headers))


def views_snapshot(writer: ClickHouseWriter, views: Sequence[str] = VIEWS
                   ) -> dict[str, list[tuple]]:
    """Every view's rows, sorted (views carry no versions or write times)."""
    return {view: sorted(writer.query(f"SELECT * FROM {view}")) for view in views}
