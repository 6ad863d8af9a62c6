"""Inserts into chDB: the Native block the writer builds holds what client.insert writes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest

from sinks.exceptions import SinkDataError
from sinks.tables import INTROS, REPLAY_RUNS, Table

UTC = dt.UTC

#: Every kind of column the writer inserts, in one table.
EVERY_KIND = Table("every_kind", (
    ("s", "String"), ("lc", "LowCardinality(String)"), ("n", "Nullable(String)"),
    ("a", "Array(String)"), ("alc", "Array(LowCardinality(String))"), ("u8", "UInt8"),
    ("u32", "UInt32"), ("u64", "UInt64"), ("f", "Float64"), ("d", "Decimal(18, 4)"),
    ("t3", "DateTime64(3, 'UTC')"), ("t6", "DateTime64(6, 'UTC')"),
))

ROWS = [
    ["", "a", None, [], [], 0, 0, 0, 0.0, Decimal("0.0000"),
     dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC)],
    ["Société \u2028 \x00\x7f\"\\", "b", "q", ["x", "é"], ["CUSTOMER"], 1, 2**32 - 1,
     2**64 - 1, 1 / 3, Decimal("-12345678901234.5678"),
     dt.datetime(2026, 12, 6, 10, 0, 0, 123000, tzinfo=UTC),
     dt.datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)],
    ["x", "c", "", ["y"], [], 1, 7, 5, 5e-324, Decimal("5200.5000"),
     dt.datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
     dt.datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)],
]


def create(writer, table: Table, name: str) -> None:
    columns = ", ".join(f"{c} {t}" for c, t in table.columns)
    writer.command(f"CREATE TABLE {name} ({columns}) ENGINE = MergeTree ORDER BY tuple()")


def test_rows_and_columns_are_written_as_client_insert_writes_them(chdb_writer):
    create(chdb_writer, EVERY_KIND, "every_kind")
    create(chdb_writer, EVERY_KIND, "by_driver")
    chdb_writer.insert(EVERY_KIND, ROWS[:2])
    chdb_writer.insert_columns(EVERY_KIND, [list(c) for c in zip(*ROWS[2:], strict=True)])
    chdb_writer.client.insert("by_driver", ROWS, column_names=EVERY_KIND.column_names,
                              column_type_names=EVERY_KIND.column_types)
    ours = chdb_writer.query("SELECT * FROM every_kind ORDER BY u32")
    theirs = chdb_writer.query("SELECT * FROM by_driver ORDER BY u32")
    assert ours == theirs and len(ours) == 3
    assert sorted(r[0] for r in ours) == sorted(row[0] for row in ROWS)
    assert 1 / 3 in [r[8] for r in ours] and 5e-324 in [r[8] for r in ours]
    # DateTime64(3) columns of epoch milliseconds (the replay's), as the driver takes them.
    millis = [[0, 1765015200123, 253402300799999]]
    chdb_writer.command("TRUNCATE TABLE every_kind")
    chdb_writer.command("TRUNCATE TABLE by_driver")
    columns = [list(c) for c in zip(*ROWS, strict=True)]
    columns[10] = millis[0]
    chdb_writer.insert_columns(EVERY_KIND, columns)
    chdb_writer.client.insert("by_driver", columns, column_names=EVERY_KIND.column_names,
                              column_type_names=EVERY_KIND.column_types, column_oriented=True)
    assert chdb_writer.query("SELECT * FROM every_kind ORDER BY u32") == \
        chdb_writer.query("SELECT * FROM by_driver ORDER BY u32")


@pytest.mark.parametrize("row, what", [
    (["s", "a", None, [], [], 0, 0, -1, 0.0, Decimal(0), 0, 0], "u64"),
    (["s", "a", None, [], [], 0, 2**32, 0, 0.0, Decimal(0), 0, 0], "u32"),
    (["s", "a", None, [], [], 0], "too few values"),
])
def test_a_value_that_does_not_fit_is_a_data_error(chdb_writer, row, what):
    create(chdb_writer, EVERY_KIND, "every_kind")
    with pytest.raises(SinkDataError, match="rejected data while inserting"):
        chdb_writer.insert(EVERY_KIND, [row])
    assert chdb_writer.query("SELECT count() FROM every_kind") == [(0,)]


def test_a_replay_into_chdb_never_imports_pandas(tmp_path):
    script = (
        "import sys\n"
        "from streams.cli import main\n"
        f"assert main(['replay', {str(tmp_path / 'events.jsonl')!r}, '--clickhouse', "
        f"'chdb://{tmp_path / 'chdb'}']) == 0\n"
        "assert main(['replay', sys.argv[1], '--clickhouse', sys.argv[2]]) == 0\n"
        "print('pandas' in sys.modules)\n")
    make = ("from schemas.textformat import write_jsonl\n"
            "from streams.demo_data import generate\n"
            f"write_jsonl(open({str(tmp_path / 'events.jsonl')!r}, 'w'), generate(companies=20))")
    subprocess.run([sys.executable, "-c", make], check=True)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "events.jsonl"),
                           f"chdb://{tmp_path / 'chdb'}"], check=True, capture_output=True,
                          text=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_tables_the_replay_writes_take_rows_and_columns(migrated):
    now = dt.datetime.now(UTC)
    migrated.insert(Table(REPLAY_RUNS.name, REPLAY_RUNS.columns[:7]),
                    [["r1", "running", "host", 1, 0, "{}", now]], token="t1")
    claimed, = migrated.query("SELECT claimed_at FROM replay_runs")[0]
    assert claimed.replace(tzinfo=UTC) == now.replace(microsecond=now.microsecond)
    migrated.insert_columns(INTROS, [[v] for v in [
        "acme", "globex", "c.com", "o1", "a1", "p1", 0.5, ["r"], ["CUSTOMER"], "Won",
        Decimal("1.5000"), "EUR", 1, 3, 1765015200123, 1765015200124]])
    assert migrated.query("SELECT amount, toUnixTimestamp64Milli(occurred_at) FROM "
                          "intro_state") == [(Decimal("1.5000"), 1765015200123)]
