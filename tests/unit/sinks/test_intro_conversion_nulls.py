"""``intro_conversion`` gives NULL, not nan, for a median over no closed intros.

Checked on a chDB database migrated up to 0003 first, as deployed databases were: the
fix arrives by migrating again, not by editing an applied file. The migrations that add
columns the writer writes today are applied too (the writer needs them; the views under
test are 0003's).
"""

from __future__ import annotations

import math
import shutil

from schemas.textformat import write_jsonl
from sinks.migrate import Target, discover, migrate
from streams.replay import replay
from tests.factories import account, opportunity, partnership

#: Later migrations that add columns the sink writes.
WRITTEN_COLUMNS = ("0007_overlap_match_evidence.sql",)
QUERY = "SELECT * FROM intro_conversion ORDER BY tenant_id, partner_tenant_id"


def test_a_median_over_nothing_is_null_after_migrating_a_deployed_database(
        chdb_writer, tmp_path):
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    for m in discover():
        if m.version <= 3 or m.path.name in WRITTEN_COLUMNS:
            shutil.copy(m.path, deployed / m.path.name)
    migrate(chdb_writer.client, Target(), ttl_days=0, directory=deployed)

    events = [partnership("p1", "acme", "globex", {("globex", "CUSTOMER"): "ACCOUNTS"})]
    for i in (1, 2):
        events += [account("globex", f"g{i}", domain=f"company{i}.com"),
                   account("acme", f"a{i}", domain=f"company{i}.com", relationship="PROSPECT"),
                   opportunity("acme", f"o{i}", f"a{i}", day=1)]
    events.append(opportunity("acme", "o3", "a1", day=2))
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_jsonl(f, events)
    report, _ = replay(path, chdb_writer)
    assert not report.rejected

    [(tenant, partner, raised, still_open, won, lost, median)] = chdb_writer.query(QUERY)
    assert (tenant, partner, raised, still_open, won, lost) == ("acme", "globex", 3, 3, 0, 0)
    assert isinstance(median, float) and math.isnan(median)  # what 0003 gives

    result = chdb_writer.migrate(ttl_days=0)
    assert "0005_intro_conversion_null_median.sql" in result.applied
    assert chdb_writer.query(QUERY) == [("acme", "globex", 3, 3, 0, 0, None)]
    assert chdb_writer.query(
        "SELECT toTypeName(median_days_to_close) FROM intro_conversion") == \
        [("Nullable(Float64)",)]
    assert chdb_writer.query(
        "SELECT count() FROM intro_conversion WHERE isNaN(median_days_to_close)") == [(0,)]
