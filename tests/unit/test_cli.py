"""The command line as a user meets it: help, settings from file and environment,
one-line errors, CSV checks without Kafka, replay of a CSV export."""

from __future__ import annotations

import pytest

from schemas.catalog import SCHEMA_DIR
from streams.cli import build_parser, main
from streams.exceptions import StreamConfigError

SAMPLE_DIR = SCHEMA_DIR.parent / "samples"

SF_ACCOUNTS = """Id,Name,Website,Type,SystemModstamp
001A1,Initrode Ltd,https://initrode.example,Customer,2026-10-02T10:15:00Z
001A2,,https://nameless.example,Prospect,2026-10-02T10:15:00Z
001A3,Hooli,https://hooli.example,Prospect,2026-10-03T10:15:00Z
"""


pytestmark = pytest.mark.usefixtures("cli_environment")


def subcommands() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_explains_itself(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: coselling {name}" in text
    assert len(subcommands()[name].description or "") > 60


def test_the_issue_commands_all_exist():
    assert {"init", "worker", "partnership", "publish", "replay", "report", "status",
            "demo", "sink", "migrate"} <= set(subcommands())


def test_errors_are_one_line_with_what_to_do(tmp_path, capsys, monkeypatch):
    assert main(["--config", str(tmp_path / "missing.toml"), "settings"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.toml: no such config file" in err
    (tmp_path / "bad.toml").write_text("kafka_bootstrap = 'x'\n")
    assert main(["--config", str(tmp_path / "bad.toml"), "settings"]) == 2
    assert "unknown setting 'kafka_bootstrap'" in capsys.readouterr().err
    monkeypatch.setenv("COSELLING_TOPIC_PARTITIONS", "0")
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coselling: error: setting topic_partitions "
                          "(COSELLING_TOPIC_PARTITIONS)") and "Traceback" not in err
    monkeypatch.delenv("COSELLING_TOPIC_PARTITIONS")
    monkeypatch.setenv("COSELLING_EARLIEST_EVENT_TIME", "2200-01-01T00:00:00Z")
    assert main(["settings"]) == 2  # a rule between two settings names both
    assert capsys.readouterr().err == (
        "coselling: error: settings: COSELLING_EARLIEST_EVENT_TIME (2200-01-01T00:00:00+00:00) "
        "must be before COSELLING_LATEST_EVENT_TIME (2100-01-01T00:00:00+00:00)\n")
    monkeypatch.delenv("COSELLING_EARLIEST_EVENT_TIME")
    (tmp_path / "a.csv").write_text(SF_ACCOUNTS)
    assert main(["publish", str(tmp_path / "a.csv")]) == 2
    assert "give --tenant TENANT" in capsys.readouterr().err
    with pytest.raises(StreamConfigError):
        main(["--debug", "publish", str(tmp_path / "a.csv")])  # --debug: the traceback


def test_settings_come_from_file_environment_and_flags_in_that_order(tmp_path, capsys,
                                                                      monkeypatch):
    (tmp_path / "c.toml").write_text("kafka_bootstrap_servers = 'file:9092'\n"
                                     "app_id = 'from-file'\nweb_port = 7001\n")
    monkeypatch.setenv("COSELLING_APP_ID", "from-env")
    monkeypatch.setenv("COSELLING_CLICKHOUSE_DSN", "http://u:s3cret@ch:8123/db")
    assert main(["--config", str(tmp_path / "c.toml"), "settings"]) == 0
    out = capsys.readouterr().out
    assert "file:9092" in out and "from-env" in out and "7001" in out
    assert "s3cret" not in out


def test_a_csv_export_is_checked_row_by_row_without_sending(tmp_path, capsys):
    (tmp_path / "a.csv").write_text(SF_ACCOUNTS)
    assert main(["publish", str(tmp_path / "a.csv"), "--tenant", "acme", "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert "2 events checked (dry run, nothing sent)" in out and "1 rows rejected" in out
    assert "rejected a.csv line 3: empty name (column 'Name')" in err


def test_replay_of_a_csv_export_lands_in_clickhouse(tmp_path, capsys):
    (tmp_path / "a.csv").write_text(SF_ACCOUNTS)
    dsn = f"chdb://{tmp_path / 'db'}"
    assert main(["replay", str(tmp_path / "a.csv"), "--tenant", "acme",
                 "--clickhouse", dsn]) == 1  # one row rejected
    out = capsys.readouterr().out
    assert "2 events replayed" in out and "1 rejected" in out
    from sinks.clickhouse import ClickHouseWriter

    writer = ClickHouseWriter(dsn)
    try:
        assert writer.query("SELECT record_id FROM crm_events ORDER BY record_id") == [
            ("001A1",), ("001A3",)]
    finally:
        writer.close()


def test_the_demo_runs_from_nothing_and_writes_the_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--companies", "300"]) == 0
    out = capsys.readouterr().out
    assert "Partner overlap matrix" in out and "intro opportunities" in out
    assert "Partner-influenced revenue" in out
    page = (tmp_path / "demo" / "report.html").read_text()
    assert 'id="overlap-heatmap"' in page and 'class="revenue-chart"' in page
    # run again: the demo replaces its own output, and refuses a folder it did not write
    assert main(["demo", "--out", str(tmp_path / "demo"), "--companies", "300"]) == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["demo", "--out", str(tmp_path / "mine")]) == 2
    assert "not a demo folder" in capsys.readouterr().err


def test_an_avro_container_file_is_read_like_json_lines(tmp_path, capsys):
    import fastavro

    from schemas.catalog import default_catalog
    from schemas.textformat import parse_line

    lines = (SAMPLE_DIR / "events.jsonl").read_text().splitlines()
    accounts = [parse_line(line)[1] for line in lines if '"type": "account"' in line]
    assert accounts
    schema = default_catalog().current("account").parsed
    with (tmp_path / "accounts.avro").open("wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema), accounts)
    assert main(["publish", str(tmp_path / "accounts.avro"), "--dry-run"]) == 0
    assert f"{len(accounts)} events checked" in capsys.readouterr().out
    dsn = f"chdb://{tmp_path / 'db'}"
    assert main(["replay", str(tmp_path / "accounts.avro"), "--clickhouse", dsn]) == 0
    assert f"{len(accounts)} events replayed" in capsys.readouterr().out
