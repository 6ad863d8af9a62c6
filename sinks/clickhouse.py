"""The ClickHouse writer: clickhouse-connect for every DSN (server or embedded chDB).

``http(s)://user:password@host:port/database`` selects a ClickHouse server;
``chdb://PATH`` the embedded chDB engine with its data in PATH (relative paths are taken
from the working directory). Writes are idempotent: every row has a deterministic key and a
version (ReplacingMergeTree) and each insert carries a deduplication token.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from schemas.registry_client import redact_url as redact
from streams.core.companies import ResultChange

from .exceptions import SinkConfigError, SinkDataError, SinkUnavailableError
from .tables import TABLES, VIEWS, schema_statements

log = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS_COLUMNS = {"occurred_at", "closed_at"}
_DECIMAL_COLUMNS = {"amount", "attributed_amount"}


def connect(dsn: str):
    """A clickhouse-connect client for ``dsn`` (see module doc)."""
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError

    if dsn.startswith("chdb://"):
        path = Path(dsn[len("chdb://"):] or ".coselling-data/chdb").expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        dsn = f"chdb://{path}"
    elif not dsn.startswith(("http://", "https://", "clickhouse://", "clickhouses://")):
        raise SinkConfigError(
            f"ClickHouse DSN must start with http(s):// or chdb://, got {redact(dsn)!r}"
        )
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except ClickHouseError as exc:
        raise SinkUnavailableError(f"cannot connect to ClickHouse at {redact(dsn)}: {exc}") \
            from exc
    except OSError as exc:
        raise SinkUnavailableError(f"cannot connect to ClickHouse at {redact(dsn)}: {exc}") \
            from exc


def row_values(change: ResultChange) -> list[Any]:
    """The values of ``change`` in its table's column order."""
    table = TABLES[change.kind]
    row = change.row
    values: list[Any] = []
    for name in table.column_names:
        if name == "active":
            values.append(1 if change.active else 0)
        elif name == "version":
            values.append(change.version)
        elif name == "written_at":
            values.append(dt.datetime.now(dt.UTC))
        elif name in _MS_COLUMNS:
            values.append(_EPOCH + dt.timedelta(milliseconds=row[name]))
        elif name in _DECIMAL_COLUMNS:
            values.append(Decimal(row[name]))
        elif name == "visible":
            values.append(1 if row[name] else 0)
        else:
            values.append(row[name])
    return values


class ClickHouseWriter:
    """Creates the schema and writes result changes, idempotently.

    :param dsn: ``http(s)://...`` or ``chdb://PATH``.
    """

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """The connected client (connects on first use)."""
        if self._client is None:
            self._client = connect(self.dsn)
        return self._client

    def ensure_schema(self) -> None:
        """Create tables and views if missing."""
        for statement in schema_statements():
            self._run(lambda s=statement: self.client.command(s), "creating the schema")

    def write(self, changes: Sequence[ResultChange], *, token: str | None = None) -> int:
        """Insert the rows of ``changes``, one insert per table; returns rows written.

        ``token`` makes a retried batch a no-op in ClickHouse (insert deduplication); each
        table's insert gets ``token`` plus the table name.
        """
        by_table: dict[str, list[list[Any]]] = {}
        for change in changes:
            by_table.setdefault(change.kind, []).append(row_values(change))
        for kind, rows in sorted(by_table.items()):
            table = TABLES[kind]
            settings = {"insert_deduplication_token": f"{token}:{table.name}"} if token else {}
            self._run(
                lambda t=table, r=rows, s=settings: self.client.insert(
                    t.name, r, column_names=t.column_names, settings=s),
                f"inserting {len(rows)} rows into {table.name}",
            )
        return sum(len(r) for r in by_table.values())

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """Rows of a query (for views, reports and tests)."""
        return self._run(lambda: self.client.query(sql, parameters=parameters).result_rows,
                         "querying")

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
            except (DataError, ProgrammingError) as exc:
                raise SinkDataError(f"ClickHouse rejected data while {what}: {exc}") from exc
            except DatabaseError as exc:
                raise SinkUnavailableError(f"ClickHouse error while {what}: {exc}") from exc

    def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            self._client.close()
            self._client = None


def views_snapshot(writer: ClickHouseWriter) -> dict[str, list[tuple]]:
    """Every current-state view's rows, sorted.

    The views carry no per-run columns (versions and write times stay in the tables), so
    two runs over the same events (replay and streaming) must give equal snapshots.
    """
    return {view: sorted(writer.query(f"SELECT * FROM {view}")) for view in VIEWS}
