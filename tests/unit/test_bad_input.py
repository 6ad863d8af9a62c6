"""Bad rows among good ones: publish and replay name the same rows, keep every good one."""

from __future__ import annotations

import re

import pytest

from schemas.exceptions import TextFormatError
from sinks.clickhouse import ClickHouseWriter
from streams.cli import build_parser, main
from streams.event_files import EventFile
from tests.bad_input import write_mixed_file

REJECTED = re.compile(r"^  rejected mixed\.jsonl line (\d+): (.*)$")


def rejected_lines(stderr: str) -> dict[int, str]:
    """Line number -> reason of every ``rejected`` line a command printed."""
    return {int(m.group(1)): m.group(2) for m in map(REJECTED.match, stderr.splitlines()) if m}


@pytest.fixture
def mixed(tmp_path):
    path = tmp_path / "mixed.jsonl"
    return path, write_mixed_file(path)


def test_the_reader_names_every_bad_row_with_line_field_and_reason(mixed):
    path, rows = mixed
    items = list(EventFile(path).read())
    bad = {e.line: e for e in items if isinstance(e, TextFormatError)}
    good = [item for item in items if not isinstance(item, TextFormatError)]
    expected_bad = {n: r for n, r in enumerate(rows, start=1) if r.bad}
    assert set(bad) == set(expected_bad)
    for lineno, row in expected_bad.items():
        assert bad[lineno].field == row.field and row.reason in bad[lineno].reason, lineno
    assert [record["event_id"] for _, _, record in good] == [
        r.event["event_id"] for r in rows if not r.bad]


def test_publish_and_replay_reject_the_same_rows_and_keep_every_good_one(mixed, tmp_path,
                                                                         capsys):
    path, rows = mixed
    good = [r for r in rows if not r.bad]
    bad_lines = {n: r for n, r in enumerate(rows, start=1) if r.bad}

    assert main(["publish", str(path), "--dry-run"]) == 1
    captured = capsys.readouterr()
    published = rejected_lines(captured.err)
    assert f"{len(good)} events checked" in captured.out
    assert f"{len(bad_lines)} of {len(rows)} rows of mixed.jsonl rejected" in captured.err

    dsn = f"chdb://{tmp_path / 'db'}"
    assert main(["replay", str(path), "--clickhouse", dsn]) == 1
    captured = capsys.readouterr()
    replayed = rejected_lines(captured.err)
    assert f"{len(bad_lines)} of {len(rows)} rows of mixed.jsonl rejected" in captured.err

    assert published == replayed
    assert set(published) == set(bad_lines)
    for lineno, row in bad_lines.items():
        assert row.reason in published[lineno]
        if row.field:
            assert published[lineno].startswith(f"field {row.field!r}: ")
    writer = ClickHouseWriter(dsn)
    try:
        stored = dict(writer.query("SELECT event_id, toYear(event_time) FROM crm_events FINAL"))
    finally:
        writer.close()
    assert set(stored) == {r.event["event_id"] for r in good}
    assert stored["good-1970"] == 1970 and stored["good-2099"] == 2099


def test_a_backfill_spanning_decades_is_kept_whole(tmp_path, capsys):
    """One partition per ingest month: 130 years of monthly history in one insert."""
    import json

    path = tmp_path / "history.jsonl"
    with path.open("w") as f:
        for month in range(12 * 129):
            year, m = 1970 + month // 12, month % 12 + 1
            f.write(json.dumps({
                "type": "account", "event_id": f"h{month}", "tenant_id": "acme",
                "source": "sf", "record_id": "a1", "version": month, "op": "UPSERT",
                "occurred_at": f"{year}-{m:02d}-15T00:00:00Z", "name": "Initrode",
                "relationship": "CUSTOMER"}) + "\n")
    dsn = f"chdb://{tmp_path / 'db'}"
    assert main(["replay", str(path), "--clickhouse", dsn]) == 0
    writer = ClickHouseWriter(dsn)
    try:
        assert writer.query("SELECT count() FROM crm_events FINAL") == [(12 * 129,)]
    finally:
        writer.close()


@pytest.mark.parametrize("command", ["publish", "replay"])
def test_a_file_that_is_not_text_gets_one_line_and_exit_2(tmp_path, capsys, command):
    path = tmp_path / "events.jsonl"
    path.write_bytes(bytes(range(256)) * 40)
    extra = ["--dry-run"] if command == "publish" else ["--clickhouse",
                                                        f"chdb://{tmp_path / 'db'}"]
    assert main([command, str(path), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert f"{path}: not a text file (a NUL byte at offset 0)" in captured.err


def test_a_non_utf8_row_of_a_csv_export_is_rejected_by_line(tmp_path, capsys):
    path = tmp_path / "accounts.csv"
    path.write_bytes(b"Id,Name,SystemModstamp\n"
                     b"001A,Initrode,2026-10-01T10:00:00Z\n"
                     b"001B,Caf\xe9 Ltd,2026-10-01T10:00:00Z\n"
                     b"001C,Globex,2026-10-01T10:00:00Z\n")
    assert main(["publish", str(path), "--tenant", "acme", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "2 events checked" in captured.out
    assert "rejected accounts.csv line 3: not UTF-8 text in column 'Name'" in captured.err


def test_a_csv_field_over_the_csv_module_limit_is_a_rejected_row(tmp_path, capsys):
    path = tmp_path / "accounts.csv"
    path.write_text("Id,Name,SystemModstamp\n"
                    f'001A,"{"x" * 200_000}",2026-10-01T10:00:00Z\n'
                    "001B,Globex,2026-10-01T10:00:00Z\n")
    assert main(["publish", str(path), "--tenant", "acme", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "1 events checked" in captured.out
    assert "rejected accounts.csv line 2: not a CSV row: field larger than field limit" \
        in captured.err


@pytest.mark.parametrize("command", ["publish", "replay"])
def test_exit_statuses_are_in_the_help(command):
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    text = " ".join(sub.format_help().split())
    assert "Exit status: 0 every row was accepted" in text
    assert "1 some rows were rejected" in text and "2 an error stopped it" in text
