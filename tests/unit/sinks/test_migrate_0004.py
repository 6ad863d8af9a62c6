"""Migration 0004 (crm_events to ingest-time partitions) on real chDB: no row is lost
whether it runs whole, fails at any step and runs again, races a writing sink or a
second migrate run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from sinks.clickhouse import ClickHouseWriter
from sinks.exceptions import SinkUnavailableError
from sinks.migrate import MIGRATIONS_DIR, Target, apply_statement, discover, migrate
from sinks.tables import CRM_EVENTS

COLUMNS = ", ".join(CRM_EVENTS.column_names)
# Event times in three months of 2025, 1995 and 2011: the old table has five partitions.
EVENT_TIMES = ["1995-03-04 05:06:07", "2011-11-11 11:11:11", "2025-01-31 23:59:59",
               "2025-02-01 00:00:00", "2025-02-15 12:00:00", "2025-03-01 08:00:00"]


def _event(event_id: str, event_time: str) -> list:
    return ["acme", "account", "sf", f"r-{event_id}", 1, "UPSERT", event_id,
            event_time, "2026-12-01 10:00:00.000", '{"name": "x"}']


@pytest.fixture
def at_0003(tmp_path) -> tuple[Path, Path]:
    """A migrations folder with 0001-0003 only, and a folder for chDB databases."""
    folder = tmp_path / "upto3"
    folder.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) <= 3:
            shutil.copy(path, folder)
    return folder, tmp_path


def _fresh_db_at_0003(folder: Path, where: Path) -> ClickHouseWriter:
    writer = ClickHouseWriter(f"chdb://{where}")
    migrate(writer.client, Target(), ttl_days=730, directory=folder)
    assert "toYYYYMM(event_time)" in _partition_key(writer)
    rows = [_event(f"e{i:03d}", t) for i, t in enumerate(EVENT_TIMES * 3)]
    for i in range(0, len(rows), 5):  # several inserts, several parts per partition
        writer.insert(CRM_EVENTS, rows[i:i + 5])
    return writer


def _partition_key(writer: ClickHouseWriter) -> str:
    return writer.query("SELECT partition_key FROM system.tables WHERE database = "
                        "currentDatabase() AND name = 'crm_events'")[0][0]


def _all_rows(writer: ClickHouseWriter) -> list[tuple]:
    return writer.query(f"SELECT {COLUMNS} FROM crm_events FINAL ORDER BY event_id")


def _assert_finished(writer: ClickHouseWriter, expected: list[tuple]) -> None:
    """Every row there once, the new layout and TTL, no table left behind, 0004 recorded."""
    assert _all_rows(writer) == expected
    assert writer.query("SELECT count() FROM crm_events")[0][0] >= len(expected)
    assert _partition_key(writer) == "toYYYYMM(ingest_time)"
    ddl = writer.query("SELECT create_table_query FROM system.tables WHERE database = "
                       "currentDatabase() AND name = 'crm_events'")[0][0]
    assert "TTL toDateTime(ingest_time) + toIntervalDay(730)" in ddl
    assert writer.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                        "AND name LIKE 'crm_events_%'") == []
    assert (4,) in writer.query("SELECT DISTINCT version FROM coselling_migrations")


def _steps_0004() -> list[str]:
    m = next(m for m in discover() if m.version == 4)
    return m.statements(Target())


def test_0004_keeps_every_row_and_partitions_by_ingest_time(at_0003):
    folder, where = at_0003
    writer = _fresh_db_at_0003(folder, where / "db")
    before = _all_rows(writer)
    assert len(before) == 18
    parts_before = writer.query("SELECT uniqExact(partition_id) FROM system.parts WHERE "
                                "database = currentDatabase() AND table = 'crm_events' "
                                "AND active")[0][0]
    assert parts_before == 5
    result = migrate(writer.client, Target(), ttl_days=730)
    assert "0004_crm_events_by_ingest_time.sql" in result.applied
    _assert_finished(writer, before)
    assert writer.query("SELECT uniqExact(partition_id) FROM system.parts WHERE database = "
                        "currentDatabase() AND table = 'crm_events' AND active")[0][0] == 1
    writer.close()


class _FailsAt:
    """The real client, but the n-th statement it is asked to run is lost on the wire."""

    def __init__(self, client, n: int):
        self._client, self._n, self.commands = client, n, 0

    def command(self, sql, *args, **kwargs):
        self.commands += 1
        if self.commands == self._n:
            code = next(ln for ln in sql.splitlines() if ln.strip() and ln[:2] != "--")
            raise OperationalError(f"simulated connection loss before: {code[:60]}")
        return self._client.command(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_0004_failing_at_any_statement_finishes_when_migrate_runs_again(at_0003):
    """Every statement of the run (each copy and each partition drop in the loop too)."""
    folder, where = at_0003
    upto4 = shutil.copytree(folder, where / "upto4")
    shutil.copy(MIGRATIONS_DIR / "0004_crm_events_by_ingest_time.sql", upto4)
    n, failed_at = 1, []
    while True:
        n += 1  # statement 1 creates the migrations table
        writer = _fresh_db_at_0003(folder, where / f"db{n}")
        before = _all_rows(writer)
        failing = _FailsAt(writer.client, n)
        try:
            migrate(failing, Target(), ttl_days=730, directory=upto4)
        except OperationalError as exc:
            failed_at.append(str(exc))
        else:
            writer.close()
            break
        migrate(writer.client, Target(), ttl_days=730)
        _assert_finished(writer, before)
        writer.close()
    steps = "\n".join(failed_at)
    # create, two renames, five partition copies and drops, the final drop, recording the
    # file as applied, the TTL
    assert len(failed_at) == 1 + 2 + 2 * 5 + 1 + 1 + 1, steps
    for piece in ("CREATE TABLE IF NOT EXISTS crm_events_0004_new", "RENAME TABLE crm_events",
                  "RENAME TABLE crm_events_0004_new", "INSERT INTO crm_events",
                  "ALTER TABLE crm_events_0004_old", "DROP TABLE IF EXISTS crm_events_0004_old",
                  "INSERT INTO coselling_migrations", "MODIFY TTL toDateTime(ingest_time)"):
        assert piece in steps


def test_0004_keeps_rows_a_sink_writes_between_its_steps(at_0003):
    """Rows written through the sink's insert after every step, retried (as the sink does)
    while crm_events is renamed away; and a row of an insert that began before the rename
    and so lands in the old table."""
    folder, where = at_0003
    writer = _fresh_db_at_0003(folder, where / "db")
    expected = {row[6]: row for row in _all_rows(writer)}
    pending: list[list] = []
    missing_seen = 0
    for number, statement in enumerate(_steps_0004(), start=1):
        apply_statement(writer.client, statement, f"step {number}")
        pending.append(_event(f"s{number:02d}", EVENT_TIMES[number % len(EVENT_TIMES)]))
        try:
            writer.insert(CRM_EVENTS, pending)
        except SinkUnavailableError:
            missing_seen += 1  # no crm_events between the renames: not committed, retried
        else:
            for row in pending:
                expected[row[6]] = row
            pending = []
        if statement.endswith("TO crm_events"):  # an insert that began before the rename
            late = _event("late", "2024-06-01 00:00:00")
            writer.client.insert("crm_events_0004_old", [late],
                                 column_names=CRM_EVENTS.column_names)
            expected["late"] = late
    assert missing_seen == 1 and not pending
    migrate(writer.client, Target(), ttl_days=730)
    got = _all_rows(writer)
    assert [r[6] for r in got] == sorted(expected)
    assert len(got) == 18 + len(_steps_0004()) + 1
    _assert_finished(writer, got)
    writer.close()


@pytest.mark.parametrize("k", range(1, 5))
def test_0004_two_runs_at_once_never_undo_each_other(at_0003, k):
    """Run A stops after step k, run B runs the whole migration, then A goes on."""
    folder, where = at_0003
    writer = _fresh_db_at_0003(folder, where / "db")
    before = _all_rows(writer)
    steps = _steps_0004()
    for number, statement in enumerate(steps[:k], start=1):
        apply_statement(writer.client, statement, f"run A, step {number}")
    migrate(writer.client, Target(), ttl_days=730)
    for number, statement in enumerate(steps[k:], start=k + 1):
        apply_statement(writer.client, statement, f"run A, step {number}")
    _assert_finished(writer, before)
    writer.close()
