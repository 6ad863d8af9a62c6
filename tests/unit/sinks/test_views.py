"""The analyst views on chDB, fed by the replay path from hand-made events."""

from __future__ import annotations

from decimal import Decimal

from schemas.textformat import write_jsonl
from streams.replay import replay
from tests.factories import account, opportunity, partnership, touch

BOTH_SHARE = {("acme", "CUSTOMER"): "COUNTS", ("acme", "PROSPECT"): "ACCOUNTS",
              ("globex", "CUSTOMER"): "ACCOUNTS", ("globex", "PROSPECT"): "COUNTS"}


def run(writer, tmp_path, events):
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_jsonl(f, events)
    report, _ = replay(path, writer)
    assert not report.rejected


def companies(tenant, prefix, relationships):
    return [account(tenant, f"{prefix}-{i}", domain=f"company{i}.com", relationship=rel)
            for i, rel in relationships.items()]


def test_the_overlap_matrix_is_the_same_from_either_side_where_both_share(migrated, tmp_path):
    run(migrated, tmp_path, [
        partnership("p1", "acme", "globex", BOTH_SHARE),
        *companies("acme", "a", {1: "CUSTOMER", 2: "CUSTOMER", 3: "PROSPECT", 4: "OTHER"}),
        *companies("globex", "g", {1: "PROSPECT", 2: "CUSTOMER", 3: "PROSPECT", 4: "CUSTOMER"}),
    ])
    matrix = {row[:4]: row[4] for row in migrated.query("SELECT * FROM partner_overlap_matrix")}
    assert matrix[("acme", "globex", "CUSTOMER", "PROSPECT")] == 1
    assert matrix[("acme", "globex", "CUSTOMER", "CUSTOMER")] == 1
    assert matrix[("acme", "globex", "PROSPECT", "PROSPECT")] == 1
    for (viewer, partner, mine, theirs), n in matrix.items():
        if viewer == "acme":
            assert matrix.get((partner, viewer, theirs, mine)) == n
    # acme's account at company4 is in no shared population: globex counts it nowhere,
    # while acme still counts globex's customer there under its own populations (none).
    assert not any(k[0] == "globex" and k[3] == "OTHER" for k in matrix)
    counts = migrated.query("SELECT * FROM overlap_counts ORDER BY tenant_id")
    # acme sees globex's CUSTOMER accounts (ACCOUNTS) and only counts its PROSPECTs.
    assert counts == [("acme", "globex", 3, 1, 2), ("globex", "acme", 3, 1, 2)]


def test_partner_influenced_revenue_sums_attributions_by_month_model_and_currency(
        migrated, tmp_path):
    run(migrated, tmp_path, [
        account("acme", "a1", domain="company1.com"),
        opportunity("acme", "o1", "a1", day=1, created_day=0),
        touch("acme", "t1", "globex", account_id="a1", opp_id="o1", day=2, touch_type="REFERRAL"),
        touch("acme", "t2", "initech", account_id="a1", opp_id="o1", day=3),
        opportunity("acme", "o1", "a1", version=2, day=40, closed=True, won=True,
                    amount="90000", created_day=0),
        account("acme", "a2", domain="company2.com"),
        opportunity("acme", "o2", "a2", day=1, currency="EUR"),
        touch("acme", "t3", "globex", account_id="a2", opp_id="o2", day=5),
        opportunity("acme", "o2", "a2", version=2, day=70, closed=True, won=True,
                    amount="1000", currency="EUR"),
    ])
    rows = migrated.query("SELECT partner_tenant_id, toString(month), model, currency, "
                          "sourced_revenue, influenced_revenue, opportunities "
                          "FROM partner_influenced_revenue WHERE model = 'linear' ORDER BY 1, 2")
    assert rows == [
        ("globex", "2026-07-01", "linear", "USD", Decimal("45000"), Decimal("0"), 1),
        ("globex", "2026-08-01", "linear", "EUR", Decimal("0"), Decimal("1000"), 1),
        ("initech", "2026-07-01", "linear", "USD", Decimal("0"), Decimal("45000"), 1),
    ]
    totals = migrated.query("SELECT model, sum(attributed_amount) FROM attributions_current "
                            "GROUP BY model ORDER BY model")
    assert totals == migrated.query("SELECT model, sum(attributed_revenue) FROM "
                                    "partner_influenced_revenue GROUP BY model ORDER BY model")


def test_intro_conversion_counts_raised_open_won_lost_and_median_days(migrated, tmp_path):
    share = {("globex", "CUSTOMER"): "ACCOUNTS"}
    events = [partnership("p1", "acme", "globex", share)]
    for i in (1, 2, 3):
        events += [account("globex", f"g{i}", domain=f"company{i}.com"),
                   account("acme", f"a{i}", domain=f"company{i}.com", relationship="PROSPECT"),
                   opportunity("acme", f"o{i}", f"a{i}", day=1)]
    events += [
        opportunity("acme", "o1", "a1", version=2, day=11, closed=True, won=True),
        opportunity("acme", "o2", "a2", version=2, day=31, closed=True, won=False),
    ]
    run(migrated, tmp_path, events)
    assert migrated.query("SELECT * FROM intro_conversion") == [
        ("acme", "globex", 3, 1, 1, 1, 20.0)]  # closed after 10 and 30 days: median 20
