"""Overlap rows keep their match evidence in ClickHouse; tenant settings are logged."""

from __future__ import annotations

import datetime as dt
import shutil

from schemas.epoch import epoch_millis
from schemas.textformat import write_jsonl
from sinks.columns import table_columns
from sinks.migrate import Target, discover, migrate
from sinks.rows import table_rows
from sinks.tables import OVERLAPS
from streams.replay import replay
from tests.factories import account, partnership, tenant_settings

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
NEW_COLUMNS = ("match_evidence", "partner_match_method", "partner_match_evidence")
OLD_COLUMNS = ("tenant_id", "partner_tenant_id", "company_key", "partnership_id",
               "match_method", "tenant_populations", "partner_populations",
               "counted_partner_populations", "visible", "partner_account_name",
               "occurred_at")


def old_overlap_message() -> dict:
    """An overlap sink message made before overlap rows carried match evidence."""
    return {"kind": "overlap", "key": "overlap|acme|globex|initrode.co.uk", "version": 3,
            "active": True, "change": "STARTED",
            "row": {"tenant_id": "acme", "partner_tenant_id": "globex",
                    "company_key": "initrode.co.uk", "partnership_id": "p1",
                    "match_method": "domain", "tenant_populations": ["CUSTOMER"],
                    "partner_populations": ["CUSTOMER"],
                    "counted_partner_populations": ["CUSTOMER"], "visible": True,
                    "partner_account_name": None, "occurred_at": 0}}


def test_a_sink_message_made_before_the_columns_writes_their_defaults():
    message = old_overlap_message()
    ((table, values),) = table_rows(message, now=NOW)
    row = dict(zip(table.column_names, values, strict=True))
    assert table is OVERLAPS
    assert [row[c] for c in NEW_COLUMNS] == ["", None, None]
    newer = dict(message, row={**message["row"], "match_evidence": "domain initrode.co.uk "
                               "(domain field)", "partner_match_method": "domain",
                               "partner_match_evidence": "e"})
    ((_, columns),) = table_columns([message, newer], written_ms=epoch_millis(NOW))
    by_name = dict(zip(OVERLAPS.column_names, columns, strict=True))
    assert [by_name[c] for c in NEW_COLUMNS] == [
        ["", "domain initrode.co.uk (domain field)"], [None, "domain"], [None, "e"]]


def test_replay_writes_the_evidence_to_overlaps_current_and_logs_tenant_settings(
        migrated, tmp_path):
    events = [
        partnership("p1", "acme", "globex", {("globex", "CUSTOMER"): "FULL",
                                             ("acme", "CUSTOMER"): "ACCOUNTS"}),
        tenant_settings("acme", ["acme.com"]),
        account("acme", "a1", website="https://www.initrode.co.uk/about"),
        account("globex", "g1", domain="initrode.co.uk", name="Initrode"),
    ]
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_jsonl(f, events)
    report, _ = replay(path, migrated)
    assert not report.rejected
    rows = migrated.query(
        "SELECT tenant_id, match_method, match_evidence, partner_match_method, "
        "partner_match_evidence, partner_account_name FROM overlaps_current ORDER BY 1")
    assert rows == [
        ("acme", "website",
         "domain initrode.co.uk (website field: https://www.initrode.co.uk/about)",
         "domain", "domain initrode.co.uk (domain field)", "Initrode"),
        ("globex", "domain", "domain initrode.co.uk (domain field)", None, None, None)]
    logged = migrated.query(
        "SELECT tenant_id, record_id, record_version, JSONExtract(record, 'ignored_domains', "
        "'Array(String)') FROM crm_events FINAL WHERE event_type = 'tenant_settings'")
    assert logged == [("acme", "acme", 1, ["acme.com"])]


def test_rows_written_before_the_migration_show_empty_evidence_after_it(chdb_writer, tmp_path):
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    for m in discover():
        if m.version < 7:
            shutil.copy(m.path, deployed / m.path.name)
    migrate(chdb_writer.client, Target(), ttl_days=0, directory=deployed)
    old = old_overlap_message()["row"]
    chdb_writer.client.insert(  # a row as the sink of the previous version wrote it
        "overlap_state", [[old[c] for c in OLD_COLUMNS] + [1, 3]],
        column_names=[*OLD_COLUMNS, "active", "version"])
    assert "0007_overlap_match_evidence.sql" in chdb_writer.migrate(ttl_days=0).applied
    assert chdb_writer.query(
        "SELECT tenant_id, partner_account_name, match_evidence, partner_match_method, "
        "partner_match_evidence FROM overlaps_current") == [("acme", None, "", None, None)]
