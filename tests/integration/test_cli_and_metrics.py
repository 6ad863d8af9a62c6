"""The operator's path on a real broker: partnerships and CRM CSV exports published with the
CLI (broken rows reported, the rest arriving), status, and the Prometheus metrics of the
worker and the sink scraped after the scenario."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from pathlib import Path

import pytest

from sinks.clickhouse import ClickHouseWriter
from sinks.migrate import discover
from streams.cli import main
from tests.integration.conftest import wait_for_no_lag, wait_until_assigned

ACME_ACCOUNTS = """Id,Name,Website,Type,Industry,BillingCountry,SystemModstamp,IsDeleted
001A000001,Initrode Ltd,https://www.initrode.co.uk/about,Customer - Direct,Software,GB,2026-10-02T10:15:00.000Z,false
001A000002,,https://nameless-example.com,Prospect,,US,2026-10-02T10:15:00.000Z,false
001A000003,Umbrella Corp,https://umbrella-example.com,Prospect,,US,yesterday,false
001A000004,Hooli,https://hooli-example.com,Customer,,US,2026-10-03T11:00:00Z,false
001A000005,Vandelay Industries,https://vandelay-example.com,Prospect,,US,2026-10-03T11:00:00Z,false
"""

ACME_OPPORTUNITIES = """Id,AccountId,Name,StageName,IsClosed,IsWon,Amount,CurrencyIsoCode,CloseDate,CreatedDate,SystemModstamp
006A000001,001A000005,Vandelay expansion,Proposal,false,false,75000,USD,,2026-10-04T09:00:00Z,2026-10-04T09:00:00Z
006A000002,001A000004,Hooli renewal,Negotiation,false,false,not-a-number,USD,,2026-10-04T09:00:00Z,2026-10-04T09:00:00Z
"""

GLOBEX_COMPANIES = """Record ID,Company name,Company Domain Name,Website URL,Lifecycle Stage,Industry,Country/Region,Last Modified Date
501,Initrode,initrode.co.uk,,customer,Software,GB,2026-10-05 08:00
502,Hooli Inc,hooli-example.com,,lead,,US,2026-10-05 08:00
503,Vandelay,vandelay-example.com,,customer,,US,2026-10-05 08:00
"""


def scrape(port: int) -> dict[str, float]:
    """``name{labels}`` -> value of every sample on a /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(prefix))


def test_csv_exports_published_with_the_cli_arrive_and_the_metrics_count_them(
        pipeline_settings, start_worker, producer, tmp_path, monkeypatch, capsys):
    settings = pipeline_settings
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    worker = start_worker()
    sink = start_worker(command=("sink", "-l", "info"))
    wait_until_assigned([worker])

    assert main(["partnership", "create", "acme-globex", "--tenant-a", "acme",
                 "--tenant-b", "globex", "--share", "acme:CUSTOMER=ACCOUNTS",
                 "--share", "acme:OPEN_OPPORTUNITY=ACCOUNTS",
                 "--share", "globex:CUSTOMER=ACCOUNTS"]) == 0
    assert "acme-globex (acme <-> globex) active" in capsys.readouterr().out

    files = {"acme-accounts.csv": ACME_ACCOUNTS, "acme-opportunities.csv": ACME_OPPORTUNITIES,
             "globex-companies.csv": GLOBEX_COMPANIES}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["publish", str(tmp_path / "acme-accounts.csv"), "--tenant", "acme"]) == 1
    out, err = capsys.readouterr()
    assert "3 events sent" in out and "2 rows rejected" in out
    assert "line 3: empty name (column 'Name')" in err
    assert "line 4: modified 'yesterday' (column 'SystemModstamp')" in err
    assert main(["publish", str(tmp_path / "acme-opportunities.csv"), "--tenant", "acme"]) == 1
    out, err = capsys.readouterr()
    assert "1 events sent" in out and "line 3: field 'amount'" in err
    assert main(["publish", str(tmp_path / "globex-companies.csv"), "--tenant", "globex"]) == 0
    assert "3 events sent" in capsys.readouterr().out
    producer.send(settings.topic_inbound, key=b"junk", value=b"\x00not avro at all")
    producer.flush()

    wait_for_no_lag(settings, [worker, sink], timeout=120)
    assert main(["status", "--no-clickhouse"]) == 0
    status = capsys.readouterr().out
    assert "workers: 0 messages behind; sink backlog: 0 messages" in status

    assert main(["partnership", "list"]) == 0
    assert re.search(r"acme-globex .*acme .*globex .*ACTIVE", capsys.readouterr().out)

    # Why accounts matched, from the live matching state (the resolver's changelog).
    assert main(["explain-match", "acme", "001A000001", "globex", "501"]) == 0
    explained = capsys.readouterr().out
    assert explained.startswith("matched: same domain initrode.co.uk")
    assert "acme/001A000001: initrode.co.uk by website" in explained
    assert "globex/501: initrode.co.uk by domain" in explained
    assert main(["explain-match", "acme", "001A000004", "globex", "503"]) == 1
    explained = capsys.readouterr().out
    assert explained.startswith("not matched:")
    assert "acme/001A000004: hooli-example.com by website" in explained

    for page in ("healthz", "readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/{page}") as r:
            assert r.status == 200, page
    w = scrape(worker.web_port)
    assert w['coselling_events_in_total{event_type="account",tenant="acme"}'] == 3
    assert w['coselling_events_in_total{event_type="account",tenant="globex"}'] == 3
    assert w['coselling_events_in_total{event_type="opportunity",tenant="acme"}'] == 1
    assert total(w, "coselling_decode_errors_total") == 1
    assert w['coselling_dead_lettered_total{stage="ingest"}'] == 1
    assert w['coselling_results_emitted_total{kind="overlap"}'] >= 4
    assert w['coselling_results_emitted_total{kind="intro"}'] >= 1
    # Where each stage's time went: every message the accounts stage took is counted.
    assert w['coselling_stage_events_total{stage="accounts"}'] >= 8
    assert w['coselling_stage_batches_total{stage="companies"}'] >= 1
    assert w['coselling_stage_seconds_total{stage="accounts",step="applying"}'] > 0
    assert w['coselling_stage_seconds_total{stage="companies",step="outbox"}'] >= 0
    assert w['coselling_stage_landing_seconds_total{stage="companies",step="outbox"}'] > 0
    assert w['coselling_stage_landing_seconds_total{stage="companies",step="sending"}'] > 0
    assert w['coselling_stage_seconds_total{stage="companies",step="waiting"}'] > 0
    # The publish time of each input's CRM change came through the stages (its header).
    for stage in ("accounts", "companies"):
        assert w[f'coselling_stage_source_age_seconds_count{{stage="{stage}"}}'] >= 1, stage
        assert w[f'coselling_stage_source_age_seconds_sum{{stage="{stage}"}}'] < 600, stage
    s = scrape(sink.metrics_port)
    assert s["coselling_sink_rows_written_total"] > 0
    assert s["coselling_sink_batch_rows_count"] > 0
    assert s["coselling_sink_flush_seconds_count"] > 0
    assert s["coselling_event_to_clickhouse_seconds_count"] >= 8  # every raw event at least
    assert s["coselling_ingest_to_clickhouse_seconds_count"] >= 8
    # Result rows: from the publish of the change that made them (the overlaps, the intro).
    assert s["coselling_result_to_clickhouse_seconds_count"] >= 5

    sink.stop()  # chDB opens in one process at a time
    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    try:
        events = writer.query("SELECT tenant_id, event_type, record_id FROM crm_events FINAL "
                              "ORDER BY tenant_id, event_type, record_id")
        overlaps = writer.query("SELECT tenant_id, partner_tenant_id, company_key "
                                "FROM overlaps_current ORDER BY 1, 2, 3")
        intros = writer.query("SELECT tenant_id, partner_tenant_id, opportunity_record_id "
                              "FROM intros_current")
    finally:
        writer.close()
    assert [(t, e, r) for t, e, r in events if e != "partnership"] == [
        ("acme", "account", "001A000001"), ("acme", "account", "001A000004"),
        ("acme", "account", "001A000005"), ("acme", "opportunity", "006A000001"),
        ("globex", "account", "501"), ("globex", "account", "502"),
        ("globex", "account", "503")]
    assert ("acme", "globex", "initrode.co.uk") in overlaps
    assert ("globex", "acme", "vandelay-example.com") in overlaps
    assert intros == [("acme", "globex", "006A000001")]  # globex's customer Vandelay


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def test_logs_are_json_lines_when_not_on_a_terminal(pipeline_settings, start_worker):
    worker = start_worker()
    wait_until_assigned([worker])
    worker.stop()
    lines = [line for line in worker.log().splitlines() if line.startswith("{")]
    assert len(lines) > 10
    records = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("Setting newly assigned" in r["message"] for r in records)
    assert not Path(worker.log_path).read_text().count("Traceback")


def test_init_creates_configured_topics_registers_schemas_and_migrates(
        kafka_bootstrap, registry_server, tmp_path, monkeypatch, capsys):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    from schemas.catalog import default_catalog
    from streams.settings import Settings
    from streams.topics import topic_specs

    run = uuid.uuid4().hex[:6]
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, app_id=f"init-{run}",
                        topic_inbound=f"i{run}.in", topic_control=f"i{run}.control",
                        topic_by_account=f"i{run}.acc", topic_by_company=f"i{run}.co",
                        topic_matching=f"i{run}.match",
                        topic_sink=f"i{run}.sink", topic_overlaps=f"i{run}.ov",
                        topic_intros=f"i{run}.intro", topic_attributions=f"i{run}.attr",
                        topic_dead_letter=f"i{run}.dlq", topic_partitions=3,
                        topic_retention_days=2, clickhouse_dsn=f"chdb://{tmp_path / 'db'}",
                        schema_registry_url=registry_server.url)
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert "13 topics (13 created, 0 already there), 3 partitions" in out
    assert f"{len(default_catalog().event_types)} schemas registered" in out
    assert f"{len(discover())} migrations applied" in out
    assert main(["init"]) == 0
    assert "(0 created, 13 already there)" in capsys.readouterr().out

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        specs = {s.name: s for s in topic_specs(settings)}
        answers = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)
                                          for name in specs])
        [by_name] = answers.values()
        configs = {name: {k: v["value"] if isinstance(v, dict) else v
                          for k, v in values.items()} for name, values in by_name.items()}
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(
            [settings.topic_matching, f"init-{run}-resolver-changelog", settings.topic_inbound])}
    finally:
        admin.close()
    assert configs[settings.topic_inbound]["retention.ms"] == str(2 * 24 * 3600 * 1000)
    assert configs[settings.topic_control]["retention.ms"] == "-1"
    assert configs[settings.topic_control]["cleanup.policy"] == "delete"
    assert configs[f"init-{run}-companies-changelog"]["cleanup.policy"] == "compact"
    assert partitions == {settings.topic_matching: 1, f"init-{run}-resolver-changelog": 1,
                          settings.topic_inbound: 3}
    assert sorted(registry_server.subjects) == sorted(
        default_catalog().current(t).full_name for t in default_catalog().event_types)
