"""Migrations: applied in order once, refused when edited, failures named; both targets."""

from __future__ import annotations

import shutil

import pytest

from sinks.exceptions import MigrationError
from sinks.migrate import MIGRATIONS_DIR, Target, discover, migrate, split_statements
from sinks.migration_steps import literal, parse_step
from sinks.tables import REPLAY_TABLES, TABLES, VIEWS


def test_migrations_apply_cleanly_twice_in_a_row(chdb_writer):
    first = chdb_writer.migrate(ttl_days=30)
    assert first.applied == [m.path.name for m in discover()] and not first.already
    second = chdb_writer.migrate(ttl_days=30)
    assert second.applied == [] and second.already == first.applied
    recorded = chdb_writer.query("SELECT version, name FROM coselling_migrations ORDER BY 1")
    assert recorded == [(m.version, m.name) for m in discover()]
    names = {r[0] for r in chdb_writer.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert set(TABLES) | set(REPLAY_TABLES) | set(VIEWS) <= names


def test_the_writer_columns_are_the_migrated_columns(migrated):
    """The writer names columns and types explicitly: they must match the DDL exactly."""
    for table in [*TABLES.values(), *REPLAY_TABLES.values()]:
        columns = migrated.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            "AND table = {t:String} ORDER BY position", {"t": table.name})
        assert [(n, t) for n, t in columns] == list(table.columns), table.name


def test_crm_events_ttl_follows_the_setting(chdb_writer):
    def ddl():
        return chdb_writer.query(
            "SELECT create_table_query FROM system.tables WHERE name = 'crm_events'")[0][0]

    chdb_writer.migrate(ttl_days=90)
    assert "PARTITION BY toYYYYMM(ingest_time)" in ddl()
    assert "TTL toDateTime(ingest_time) + toIntervalDay(90)" in ddl()
    chdb_writer.migrate(ttl_days=400)
    assert "toIntervalDay(400)" in ddl()
    chdb_writer.migrate(ttl_days=0)
    assert " TTL " not in ddl()
    chdb_writer.migrate(ttl_days=0)  # no TTL to remove: still fine


def _copy_migrations(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def test_an_edited_applied_migration_is_refused(chdb_writer, tmp_path):
    folder = _copy_migrations(tmp_path)
    migrate(chdb_writer.client, Target(), ttl_days=0, directory=folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{first.name} was changed after it was applied"):
        migrate(chdb_writer.client, Target(), ttl_days=0, directory=folder)


def test_a_failing_statement_stops_naming_file_and_statement(chdb_writer, tmp_path):
    folder = _copy_migrations(tmp_path)
    (folder / "0099_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS fine (a UInt8) ENGINE = MergeTree ORDER BY a;\n"
        "ALTER TABLE no_such_table ADD COLUMN b UInt8;\n")
    with pytest.raises(MigrationError, match=r"0099_broken\.sql, statement 2 of 2 failed "
                       r"\(ALTER TABLE no_such_table"):
        migrate(chdb_writer.client, Target(), ttl_days=0, directory=folder)
    versions = [v for (v,) in chdb_writer.query("SELECT version FROM coselling_migrations")]
    assert 99 not in versions and 3 in versions  # the earlier ones stay applied
    (folder / "0099_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS fine (a UInt8) ENGINE = MergeTree ORDER BY a;\n")
    assert migrate(chdb_writer.client, Target(), ttl_days=0,
                   directory=folder).applied == ["0099_broken.sql"]


def test_badly_named_or_duplicate_files_are_refused(tmp_path):
    folder = _copy_migrations(tmp_path)
    (folder / "1_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="named NNNN_name.sql"):
        discover(folder)
    (folder / "1_oops.sql").unlink()
    (folder / "0001_again.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="version 1 is also"):
        discover(folder)


def test_split_statements_respects_quotes_and_comments():
    sql = ("-- a comment; with a semicolon\nSELECT 'a;b' AS x;\n\n"
           "SELECT 1 -- trailing; comment\n;\n  ;\n-- only a comment\n")
    assert split_statements(sql) == ["-- a comment; with a semicolon\nSELECT 'a;b' AS x",
                                     "SELECT 1 -- trailing; comment"]


def test_cluster_ddl_parses_with_clickhouse_and_is_replicated(migrated):
    target = Target("analytics")
    steps = [parse_step(s) for m in discover() for s in m.statements(target)]
    statements = [step.sql for step in steps]
    queries = [q for step in steps
               for q in (step.sql, step.only_if, step.require, step.wait_until, step.for_each,
                         step.then) if q]
    for query in queries:  # chDB's parser: a syntax error raises
        bound = query.replace("$value", literal("202501")).replace("$waited", "1.5")
        assert migrated.query(f"EXPLAIN AST {bound}"), bound
    text = "\n".join(statements)
    for table in [*TABLES, *REPLAY_TABLES]:
        assert f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER 'analytics'" in text
        assert (f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER 'analytics' AS {table}_local"
                f"\nENGINE = Distributed('analytics', currentDatabase(), '{table}_local'") in text
    rebuilt = 1  # crm_events, moved to ingest-time partitions by 0004
    assert text.count("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/") \
        == len(TABLES) + len(REPLAY_TABLES) + rebuilt
    assert "non_replicated_deduplication_window" not in text
    for view in VIEWS:
        assert f"CREATE OR REPLACE VIEW {view} ON CLUSTER 'analytics' SQL SECURITY DEFINER AS" \
            in text
    assert all("ON CLUSTER" in s for s in statements if not s.startswith("INSERT"))
    assert "clusterAllReplicas('analytics', system.processes)" in "\n".join(
        s.wait_until or "" for s in steps)


def test_single_target_ddl_is_plain_replacing_merge_tree():
    statements = [s for m in discover() for s in m.statements(Target())]
    text = "\n".join(statements)
    assert "ON CLUSTER" not in text and "Distributed" not in text and "_local" not in text
    assert text.count("non_replicated_deduplication_window") == len(TABLES) + len(REPLAY_TABLES) + 1  # 0004


def test_the_migrate_command_applies_then_reports_up_to_date(tmp_path, capsys):
    from streams.cli import main

    dsn = f"chdb://{tmp_path / 'db'}"
    assert main(["migrate", "--clickhouse", dsn]) == 0
    assert "applied 0001_result_tables.sql" in capsys.readouterr().out
    assert main(["migrate", "--clickhouse", dsn]) == 0
    assert f"up to date ({len(discover())} migrations already applied)" in \
        capsys.readouterr().out
    assert main(["migrate", "--print", "--cluster", "c1"]) == 0
    printed = capsys.readouterr().out
    assert "-- 0003_analyst_views.sql" in printed and "ON CLUSTER 'c1'" in printed


def test_0004_moves_crm_events_to_ingest_time_on_a_database_that_ran_0001_to_0003(
        chdb_writer, tmp_path):
    folder = _copy_migrations(tmp_path)
    later = [p for p in folder.glob("*.sql") if int(p.name[:4]) >= 4]
    held = tmp_path / "held"
    held.mkdir()
    for path in later:
        path.rename(held / path.name)
    migrate(chdb_writer.client, Target(), ttl_days=730, directory=folder)
    old_ddl = chdb_writer.query(
        "SELECT create_table_query FROM system.tables WHERE name = 'crm_events'")[0][0]
    assert "PARTITION BY toYYYYMM(event_time)" in old_ddl
    columns = "tenant_id, event_type, source, record_id, record_version, op, event_id, " \
              "event_time, ingest_time, record"
    chdb_writer.client.command(
        f"INSERT INTO crm_events ({columns}) VALUES "
        "('acme', 'account', 'sf', 'a1', 1, 'UPSERT', 'e1', now64(3), now64(3), '{}'), "
        "('acme', 'account', 'sf', 'a2', 1, 'UPSERT', 'e2', '2025-01-01', now64(3), '{}')")
    for path in held.glob("*.sql"):
        path.rename(folder / path.name)
    result = migrate(chdb_writer.client, Target(), ttl_days=730, directory=folder)
    assert "0004_crm_events_by_ingest_time.sql" in result.applied
    ddl = chdb_writer.query(
        "SELECT create_table_query FROM system.tables WHERE name = 'crm_events'")[0][0]
    assert "PARTITION BY toYYYYMM(ingest_time)" in ddl
    assert "TTL toDateTime(ingest_time) + toIntervalDay(730)" in ddl
    assert chdb_writer.query("SELECT event_id FROM crm_events FINAL ORDER BY 1") == [
        ("e1",), ("e2",)]
    left = chdb_writer.query("SELECT name FROM system.tables WHERE database = "
                             "currentDatabase() AND name LIKE 'crm_events_%'")
    assert left == []
