"""A mistyped chDB path and a chDB folder another process holds: one clear line each.

Real chDB throughout; the folder is held by a second Python process, as the sink or a
report in another terminal would hold it.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from sinks.clickhouse import ClickHouseWriter
from sinks.exceptions import ChdbFolderBusyError, ChdbPathError, SinkConfigError
from streams.cli import main

HOLD = """
import sys
from sinks.clickhouse import ClickHouseWriter
writer = ClickHouseWriter(sys.argv[1])
writer.migrate(ttl_days=0)
print("holding", flush=True)
sys.stdin.read()
writer.close()
"""


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("coselling: error: ")
    return captured.err


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("COSELLING_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_a_parent_folder_that_does_not_exist_is_named(tmp_path, capsys):
    dsn = f"chdb://{tmp_path / 'warehuose' / 'chdb'}"
    with pytest.raises(ChdbPathError, match="its parent folder .*warehuose does not exist"):
        ClickHouseWriter(dsn).migrate()
    assert main(["migrate", "--clickhouse", dsn]) == 2
    assert f"its parent folder {tmp_path / 'warehuose'} does not exist" in one_error_line(capsys)
    assert not (tmp_path / "warehuose").exists()


def test_a_file_where_the_folder_should_be_is_named(tmp_path, capsys):
    (tmp_path / "events.jsonl").write_text("{}\n")
    dsn = f"chdb://{tmp_path / 'events.jsonl'}"
    assert main(["migrate", "--clickhouse", dsn]) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert main(["report", "--clickhouse", dsn, "--no-html"]) == 2
    assert "is a file, not a folder" in one_error_line(capsys)


def test_a_report_on_a_missing_or_wrong_folder_creates_nothing(tmp_path, capsys):
    (tmp_path / "demo").mkdir()
    assert main(["migrate", "--clickhouse", f"chdb://{tmp_path / 'demo' / 'chdb'}"]) == 0
    capsys.readouterr()
    assert main(["report", "--clickhouse", "chdb://./demo/chbd", "--no-html"]) == 2
    assert "no chDB database at" in one_error_line(capsys)
    assert not (tmp_path / "demo" / "chbd").exists()
    assert main(["report", "--clickhouse", "chdb://./demo", "--no-html"]) == 2
    line = one_error_line(capsys)
    assert "holds no chDB database" in line and f"did you mean chdb://{tmp_path}/demo/chdb" in line
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["chdb"]


def test_a_mistyped_scheme_is_named(capsys):
    for dsn, scheme in (("chbd://./warehouse", "chbd://"), ("./warehouse", "no scheme")):
        with pytest.raises(SinkConfigError, match=f"has '{scheme}', not http"):
            ClickHouseWriter(dsn).query("SELECT 1")
        assert main(["migrate", "--clickhouse", dsn]) == 2
        assert f"has '{scheme}'" in one_error_line(capsys)


def test_the_default_location_is_created_with_its_parent(tmp_path, capsys):
    assert main(["migrate"]) == 0
    assert (tmp_path / ".coselling-data" / "chdb" / "metadata").is_dir()


def test_a_folder_held_by_another_process_says_so(tmp_path, capsys):
    folder = tmp_path / "chdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, f"chdb://{folder}"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(ChdbFolderBusyError, match=f"in use by another process "
                                                      f"\\(pid {holder.pid}"):
            ClickHouseWriter(f"chdb://{folder}", create=False).query("SELECT 1")
        started = time.monotonic()
        assert main(["report", "--clickhouse", f"chdb://{folder}", "--no-html"]) == 2
        assert time.monotonic() - started < 10
        line = one_error_line(capsys)
        assert f"chDB folder {folder} is in use by another process (pid {holder.pid}" in line
        assert "one process at a time" in line
        captured = capsys.readouterr()
        assert "Cannot lock file" not in captured.err
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0
    # once the holder has let go, the same folder opens
    assert main(["report", "--clickhouse", f"chdb://{folder}", "--no-html"]) == 0


def test_only_a_folder_that_opening_creates_a_database_in_is_a_new_database(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for name, new in (("missing", True), ("empty", True), ("file", False),
                      ("no-such-parent/chdb", False)):
        assert ClickHouseWriter(f"chdb://{tmp_path / name}").new_database is new, name
    assert not ClickHouseWriter(f"chdb://{tmp_path / 'missing'}", create=False).new_database
    assert not ClickHouseWriter(f"chdb://{tmp_path / 'missing'}?config-file=x").new_database
    assert not ClickHouseWriter("http://localhost:8123").new_database
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'missing'}")
    try:
        writer.migrate()
        assert not writer.new_database
    finally:
        writer.close()


def test_a_replay_into_a_path_it_cannot_create_fails_before_it_plans(tmp_path, capsys):
    (tmp_path / "events.jsonl").write_text("")
    for dsn in (f"chdb://{tmp_path / 'events.jsonl'}", f"chdb://{tmp_path / 'a' / 'b'}"):
        assert main(["replay", str(tmp_path / "events.jsonl"), "--clickhouse", dsn]) == 2
        captured = capsys.readouterr()
        assert "fresh" not in captured.out
        assert "coselling: error: chDB" in captured.err
