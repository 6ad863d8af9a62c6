"""Directives of migration statements (only if, require, wait until, for each) on chDB."""

from __future__ import annotations

import pytest

from sinks.exceptions import MigrationError, MigrationNotDoneError
from sinks.migrate import apply_statement
from sinks.migration_steps import literal, parse_step, run_step

EXISTS = ("SELECT count() FROM system.tables WHERE database = currentDatabase() "
          "AND name = '{}'")


def test_directives_are_split_off_the_statement():
    step = parse_step("-- a plain comment\n-- only if: SELECT 1\n-- for each: SELECT 'a'\n"
                      "-- then: ALTER TABLE t DROP PARTITION ID $value\nINSERT INTO t SELECT 1")
    assert step.sql == "-- a plain comment\nINSERT INTO t SELECT 1"
    assert (step.only_if, step.for_each, step.then, step.require, step.wait_until) == (
        "SELECT 1", "SELECT 'a'", "ALTER TABLE t DROP PARTITION ID $value", None, None)
    with pytest.raises(MigrationError, match="given twice"):
        parse_step("-- only if: SELECT 1\n-- only if: SELECT 2\nSELECT 3")
    with pytest.raises(MigrationError, match="needs a '-- for each:'"):
        parse_step("-- then: SELECT 1\nSELECT 2")
    assert literal("it's \\ here") == "'it\\'s \\\\ here'"


def test_only_if_skips_and_a_failure_names_the_statement(chdb_writer):
    client = chdb_writer.client
    apply_statement(client, f"-- only if: {EXISTS.format('nosuch')}\nDROP TABLE nosuch", "s1")
    with pytest.raises(MigrationError, match=r"s2 failed \(DROP TABLE nosuch"):
        apply_statement(client, "-- only if: SELECT 1\nDROP TABLE nosuch", "s2")
    with pytest.raises(MigrationError, match=r"s3 failed \(SELECT nonsense\("):
        apply_statement(client, "-- only if: SELECT nonsense(\nSELECT 1", "s3")


class _OtherRunFirst:
    """The real client, but another migrate run does ``first`` just before our statement."""

    def __init__(self, client, first: str = "RENAME TABLE a TO b"):
        self._client, self._first = client, first

    def command(self, sql, *args, **kwargs):
        if self._first:
            self._client.command(self._first)
            self._first = ""
        return self._client.command(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_step_done_by_another_run_meanwhile_is_not_an_error(chdb_writer):
    """The check passes, then another run renames first: this rename fails, and is done."""
    chdb_writer.command("CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x")
    rename = f"-- only if: {EXISTS.format('a')}\nRENAME TABLE a TO b"
    apply_statement(_OtherRunFirst(chdb_writer.client), rename, "raced")
    assert chdb_writer.query(EXISTS.format("b")) == [(1,)]
    with pytest.raises(MigrationError, match="real failed"):  # the condition still holds
        apply_statement(chdb_writer.client,
                        f"-- only if: {EXISTS.format('b')}\nRENAME TABLE nosuch TO c", "real")


def test_for_each_runs_per_value_until_the_query_returns_nothing(chdb_writer):
    chdb_writer.command("CREATE TABLE src (m UInt32, v String) ENGINE = MergeTree "
                        "PARTITION BY m ORDER BY v")
    chdb_writer.command("CREATE TABLE dst (m UInt32, v String) ENGINE = MergeTree ORDER BY v")
    chdb_writer.command("INSERT INTO src VALUES (1, 'a'), (2, 'b'), (2, 'c'), (3, 'it''s')")
    parts = ("SELECT DISTINCT partition_id FROM system.parts WHERE database = "
             "currentDatabase() AND table = 'src' AND active ORDER BY 1")
    apply_statement(chdb_writer.client,
                    f"-- for each: {parts}\n-- then: ALTER TABLE src DROP PARTITION ID $value\n"
                    "INSERT INTO dst SELECT * FROM src WHERE _partition_id = $value", "move")
    assert chdb_writer.query("SELECT m, v FROM dst ORDER BY v") == [
        (1, "a"), (2, "b"), (2, "c"), (3, "it's")]
    assert chdb_writer.query("SELECT count() FROM src") == [(0,)]
    chdb_writer.command("INSERT INTO src VALUES (4, 'd')")
    with pytest.raises(MigrationError, match=r"still returns \['4'\] after a pass"):
        apply_statement(chdb_writer.client, f"-- for each: {parts}\n"
                        "INSERT INTO dst SELECT * FROM src WHERE _partition_id = $value", "stuck")


def test_a_loop_whose_table_another_run_finished_and_dropped_is_done(chdb_writer):
    chdb_writer.command("CREATE TABLE src (m UInt32) ENGINE = MergeTree PARTITION BY m "
                        "ORDER BY m")
    chdb_writer.command("CREATE TABLE dst (m UInt32) ENGINE = MergeTree ORDER BY m")
    chdb_writer.command("INSERT INTO src VALUES (1), (2)")
    step = (f"-- only if: {EXISTS.format('src')}\n"
            "-- for each: SELECT DISTINCT _partition_id FROM src\n"
            "INSERT INTO dst SELECT * FROM src WHERE _partition_id = $value")
    apply_statement(_OtherRunFirst(chdb_writer.client, "DROP TABLE src"), step, "raced")
    assert chdb_writer.query(EXISTS.format("src")) == [(0,)]


def test_require_and_wait_until_stop_the_run_as_retryable(chdb_writer):
    with pytest.raises(MigrationNotDoneError, match="run migrate again"):
        apply_statement(chdb_writer.client, "-- require: SELECT 0\nSELECT 1", "r")
    step = parse_step("-- wait until: SELECT $waited > 100\nSELECT 1")
    rows = lambda q: chdb_writer.client.query(q).result_rows  # noqa: E731
    with pytest.raises(MigrationNotDoneError, match="still waiting after 0s"):
        run_step(step, command=chdb_writer.command, rows=rows, wait_seconds=0.2)
    done = []
    step = parse_step("-- wait until: SELECT $waited > 0.3\nSELECT 1")
    run_step(step, command=done.append, rows=rows, wait_seconds=5)
    assert done == ["SELECT 1"]
