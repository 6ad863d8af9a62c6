"""Tenant isolation: a tenant's row policies leave it only its own rows, everywhere.

chDB cannot store SQL-created users or switch users, so the isolation is proven with the
same policy conditions given to chDB's own user through a users.xml (what a server does
for the tenant user), and the SQL the command runs on a server is checked with chDB's
parser.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

from schemas.textformat import write_jsonl
from sinks.access import access_statements, policy_objects, tenant_filter, tenant_user
from sinks.clickhouse import ClickHouseWriter
from sinks.migrate import Target
from sinks.tables import TABLES, VIEWS
from streams.cli import main
from streams.replay import replay
from tests.scenario import scenario

USERS_XML = """<clickhouse>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
  <users><default>
    <password></password><networks><ip>::/0</ip></networks>
    <profile>default</profile><quota>default</quota>
    <databases><default>{filters}</default></databases>
  </default></users>
</clickhouse>"""


def as_tenant_config(folder, tenant: str):
    """A chDB config whose user has the tenant's row policy on every table and view."""
    folder.mkdir()
    filters = "".join(f"<{name}><filter>{escape(tenant_filter(tenant))}</filter></{name}>"
                      for name in policy_objects(Target()))
    (folder / "users.xml").write_text(USERS_XML.format(filters=filters))
    config = folder / "config.xml"
    config.write_text(f"<clickhouse><users_config>{folder / 'users.xml'}</users_config>"
                      "</clickhouse>")
    return config


def everything(writer: ClickHouseWriter) -> dict[str, list[tuple]]:
    return {name: sorted(writer.query(f"SELECT * FROM {name}"), key=repr)
            for name in (*TABLES, *VIEWS)}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A chDB folder with the scenario replayed into it, and what an admin sees there."""
    folder = tmp_path_factory.mktemp("access")
    events = folder / "events.jsonl"
    with events.open("w") as f:
        write_jsonl(f, scenario(companies=30))
    admin = ClickHouseWriter(f"chdb://{folder / 'chdb'}")
    admin.migrate()
    replay(events, admin)
    seen = everything(admin)
    admin.close()
    return folder, seen


def test_a_tenant_reads_only_its_own_rows_in_every_table_and_view(filled, tmp_path):
    folder, admin_sees = filled
    hidden_somewhere = set()
    for tenant in ("globex", "acme"):  # globex has rows in every object, acme in most
        config = as_tenant_config(tmp_path / tenant, tenant)
        user = ClickHouseWriter(f"chdb://{folder / 'chdb'}?config-file={config}")
        try:
            sees = everything(user)
        finally:
            user.close()
        for name, rows in sees.items():
            mine = [r for r in admin_sees[name] if r[0] == tenant]  # tenant_id comes first
            assert rows == mine, f"{name}: {tenant}'s user sees other rows than its own"
            assert mine or tenant != "globex", f"{name}: globex must have rows of its own"
            if len(mine) < len(admin_sees[name]):
                hidden_somewhere.add(name)
    assert hidden_somewhere == set(admin_sees), "every object must have hidden other rows"


def test_tenant_id_is_the_first_column_everywhere(filled):
    folder, _ = filled
    admin = ClickHouseWriter(f"chdb://{folder / 'chdb'}")
    try:
        for name in (*TABLES, *VIEWS):
            first = admin.query("SELECT name FROM system.columns WHERE table = {t:String} "
                                "AND database = currentDatabase() ORDER BY position LIMIT 1",
                                {"t": name})
            assert first == [("tenant_id",)], name
    finally:
        admin.close()


@pytest.mark.parametrize("target", [Target(), Target("analytics")])
def test_the_access_statements_parse_and_cover_every_object(migrated, target):
    statements = access_statements("o'brien & co", user=tenant_user("o'brien & co"),
                                   password="correct horse battery", database="crm",
                                   target=target)
    for statement in statements:
        assert migrated.query(f"EXPLAIN AST {statement}"), statement
    text = "\n".join(statements)
    assert "correct horse" not in text  # only the password's hash
    for name in policy_objects(target):
        assert f"ON `crm`.`{name}` AS RESTRICTIVE FOR SELECT USING tenant_id = 'o\\'brien & co'" \
            in text
    grants = [s for s in statements if s.startswith("GRANT")]
    assert not any("overlap_state" in g for g in grants)  # COUNTS-only rows stay hidden
    assert {g.split(".")[1].split(" ")[0].strip("`") for g in grants} >= set(VIEWS)
    if target.cluster:
        assert all("ON CLUSTER 'analytics'" in s for s in statements)


def test_the_command_refuses_chdb_without_print(tmp_path, capsys):
    assert main(["tenant-access", "acme", "--clickhouse", f"chdb://{tmp_path / 'db'}"]) == 2
    assert "chDB keeps no SQL-created users" in capsys.readouterr().err
