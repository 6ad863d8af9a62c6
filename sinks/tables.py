"""The tables the sink writes, as the writer sees them; the views analysts read.

Schemas are created by the migrations (``sinks/migrations``); this module names what the
writer inserts, in order and with explicit types. Result tables (``*_state``) are
ReplacingMergeTree(version): one row per result key, the highest version wins;
``active = 0`` marks a result that ended. ``overlap_state`` is internal (it also holds
overlaps a partner shares only as COUNTS): analysts and tenants read the views.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Table:
    """A table the sink writes: its name and the columns it inserts (name, ClickHouse type).

    The DDL lives in the migrations; a test checks these columns against the migrated
    tables, so the writer always names columns and types explicitly and correctly.
    ``defaults``: (column, value) for columns added after the table was first written,
    the value a sink message made before then (without the column) writes.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    defaults: tuple[tuple[str, Any], ...] = ()

    @cached_property
    def default_values(self) -> dict[str, Any]:
        """``defaults`` as a mapping."""
        return dict(self.defaults)

    @cached_property
    def column_names(self) -> list[str]:
        """Column names in insert order."""
        return [c for c, _ in self.columns]

    @cached_property
    def column_types(self) -> list[str]:
        """ClickHouse type names in insert order."""
        return [t for _, t in self.columns]


_COMMON_TAIL = (
    ("active", "UInt8"),
    ("version", "UInt64"),
    ("occurred_at", "DateTime64(3, 'UTC')"),
    ("written_at", "DateTime64(3, 'UTC')"),
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
        ("match_evidence", "String"),
        ("partner_match_method", "LowCardinality(Nullable(String))"),
        ("partner_match_evidence", "Nullable(String)"),
        *_COMMON_TAIL,
    ),
    defaults=(("match_evidence", ""), ("partner_match_method", None),
              ("partner_match_evidence", None)),
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
)


CRM_EVENTS = Table(
    "crm_events",
    (
        ("tenant_id", "String"),
        ("event_type", "LowCardinality(String)"),
        ("source", "LowCardinality(String)"),
        ("record_id", "String"),
        ("record_version", "UInt64"),
        ("op", "LowCardinality(String)"),
        ("event_id", "String"),
        ("event_time", "DateTime64(3, 'UTC')"),
        ("ingest_time", "DateTime64(3, 'UTC')"),
        ("record", "String"),
    ),
)

INTRO_EVENTS = Table(
    "intro_events",
    (
        ("tenant_id", "String"),
        ("partner_tenant_id", "String"),
        ("company_key", "String"),
        ("opportunity_record_id", "String"),
        ("active", "UInt8"),
        ("version", "UInt64"),
        ("score", "Float64"),
        ("stage", "String"),
        ("amount", "Decimal(18, 4)"),
        ("currency", "LowCardinality(String)"),
        ("occurred_at", "DateTime64(3, 'UTC')"),
    ),
)

#: Every table the sink writes, by name.
TABLES = {t.name: t for t in (OVERLAPS, INTROS, ATTRIBUTIONS, CRM_EVENTS, INTRO_EVENTS)}

#: The replay path's own tables (see :mod:`sinks.replay_store`): the core's saved state,
#: and one row per replay run (its latest status wins).
REPLAY_STATE = Table(
    "replay_state",
    (
        ("store", "LowCardinality(String)"),
        ("key", "String"),
        ("value", "String"),
        ("generation", "UInt64"),
    ),
)

REPLAY_RUNS = Table(
    "replay_runs",
    (
        ("run_id", "String"),
        ("status", "LowCardinality(String)"),
        ("host", "String"),
        ("pid", "UInt32"),
        ("generation", "UInt64"),
        ("summary", "String"),
        ("claimed_at", "DateTime64(6, 'UTC')"),
        ("updated_at", "DateTime64(6, 'UTC')"),
    ),
)

REPLAY_TABLES = {t.name: t for t in (REPLAY_STATE, REPLAY_RUNS)}

#: Which tables a result change of each kind goes to.
TABLES_OF_KIND = {
    "overlap": (OVERLAPS,),
    "intro": (INTROS, INTRO_EVENTS),
    "attribution": (ATTRIBUTIONS,),
    "crm_event": (CRM_EVENTS,),
}

#: Views that show current state only; the same events give the same rows whichever path
#: (replay or streaming) and whatever arrival order produced them.
CURRENT_STATE_VIEWS = (
    "overlaps_current",
    "overlap_counts",
    "partner_overlap_matrix",
    "intros_current",
    "attributions_current",
    "partner_influenced_revenue",
)

#: Views that also depend on history (when each intro was first raised): a stream that
#: saw a deal open before it closed counts an intro that a replay may never raise.
HISTORY_VIEWS = ("intro_conversion",)

VIEWS = CURRENT_STATE_VIEWS + HISTORY_VIEWS
