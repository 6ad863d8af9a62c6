"""ClickHouse tables and the analysts' current-state views.

Result tables are ReplacingMergeTree(version): one row per result key, the highest
version wins; ``active = 0`` marks a result that ended (kept, so an end is never lost).
Duplicates collapse only at merge time, so every view reads with ``FINAL``. Inserts carry
a deduplication token; non-replicated tables set ``non_replicated_deduplication_window``
so that works on a single server and on chDB too.

``overlap_state`` is internal: it also holds overlaps a partner shares only as COUNTS
(with the company key), so analysts and tenants read the views, never that table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A result table: its name, columns (name, ClickHouse type) and sort key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        """Column names in insert order."""
        return [c for c, _ in self.columns]

    def ddl(self) -> str:
        """CREATE TABLE statement (single server or chDB)."""
        cols = ",\n  ".join(f"{n} {t}" for n, t in self.columns)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {cols}\n)\n"
            f"ENGINE = ReplacingMergeTree(version)\nORDER BY ({', '.join(self.order_by)})\n"
            "SETTINGS non_replicated_deduplication_window = 10000"
        )


_COMMON_TAIL = (
    ("active", "UInt8"),
    ("version", "UInt64"),
    ("occurred_at", "DateTime64(3, 'UTC')"),
    ("written_at", "DateTime64(3, 'UTC') DEFAULT now64(3)"),
)

OVERLAPS = Table(
    "overlap_state",
    (
        ("tenant_id", "String"),
        ("partner_tenant_id", "String"),
        ("company_key", "String"),
        ("partnership_id", "String"),
        ("match_method", "LowCardinality(String)"),
        ("tenant_populations", "Array(LowCardinality(String))"),
        ("partner_populations", "Array(LowCardinality(String))"),
        ("counted_partner_populations", "Array(LowCardinality(String))"),
        ("visible", "UInt8"),
        ("partner_account_name", "Nullable(String)"),
        *_COMMON_TAIL,
    ),
    ("tenant_id", "partner_tenant_id", "company_key"),
)

INTROS = Table(
    "intro_state",
    (
        ("tenant_id", "String"),
        ("partner_tenant_id", "String"),
        ("company_key", "String"),
        ("opportunity_record_id", "String"),
        ("account_record_id", "String"),
        ("partnership_id", "String"),
        ("score", "Float64"),
        ("reasons", "Array(String)"),
        ("partner_populations", "Array(LowCardinality(String))"),
        ("stage", "String"),
        ("amount", "Decimal(18, 4)"),
        ("currency", "LowCardinality(String)"),
        *_COMMON_TAIL,
    ),
    ("tenant_id", "partner_tenant_id", "opportunity_record_id", "company_key"),
)

ATTRIBUTIONS = Table(
    "attribution_state",
    (
        ("tenant_id", "String"),
        ("partner_tenant_id", "String"),
        ("opportunity_record_id", "String"),
        ("company_key", "String"),
        ("model", "LowCardinality(String)"),
        ("credit", "LowCardinality(String)"),
        ("weight", "Float64"),
        ("attributed_amount", "Decimal(18, 4)"),
        ("currency", "LowCardinality(String)"),
        ("closed_at", "DateTime64(3, 'UTC')"),
        ("touch_record_ids", "Array(String)"),
        *_COMMON_TAIL,
    ),
    ("tenant_id", "opportunity_record_id", "partner_tenant_id", "model", "company_key"),
)

TABLES = {"overlap": OVERLAPS, "intro": INTROS, "attribution": ATTRIBUTIONS}

VIEWS = {
    "overlaps_current": """
SELECT tenant_id, partner_tenant_id, company_key, partnership_id, match_method,
       tenant_populations, partner_populations, partner_account_name, occurred_at
FROM overlap_state FINAL
WHERE active AND visible""",
    "overlap_counts": """
SELECT tenant_id, partner_tenant_id, tenant_population, partner_population, count() AS n
FROM overlap_state FINAL
ARRAY JOIN tenant_populations AS tenant_population
ARRAY JOIN counted_partner_populations AS partner_population
WHERE active
GROUP BY tenant_id, partner_tenant_id, tenant_population, partner_population""",
    "intros_current": """
SELECT tenant_id, partner_tenant_id, company_key, opportunity_record_id, account_record_id,
       partnership_id, score, reasons, partner_populations, stage, amount, currency,
       occurred_at
FROM intro_state FINAL
WHERE active""",
    "attributions_current": """
SELECT tenant_id, partner_tenant_id, opportunity_record_id, company_key, model, credit,
       weight, attributed_amount, currency, closed_at, touch_record_ids, occurred_at
FROM attribution_state FINAL
WHERE active""",
}


def schema_statements() -> list[str]:
    """Every statement that creates the tables and views (idempotent)."""
    statements = [t.ddl() for t in TABLES.values()]
    statements += [f"CREATE VIEW IF NOT EXISTS {name} AS {sql.strip()}"
                   for name, sql in VIEWS.items()]
    return statements
