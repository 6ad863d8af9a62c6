"""What ``coselling report`` shows, read from the analyst views.

Three parts, each from current state: the partner overlap matrix (``overlap_counts`` and
``partner_overlap_matrix``), the top intro opportunities (``intros_current``) and
partner-influenced revenue (``partner_influenced_revenue``), by partner and by month.
Optionally seen as one tenant (``tenant``): only rows where it is the viewing tenant, as
its row policy would show them. Rendering lives in :mod:`sinks.report_render`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.catalog import ATTRIBUTION_MODELS

from .exceptions import SinkConfigError, UnknownTenantError

DEFAULT_MODEL = "linear"


@dataclass(frozen=True)
class OverlapCell:
    """Accounts ``tenant`` and ``partner`` hold in common, as ``tenant`` sees them."""

    tenant: str
    partner: str
    overlapping: int
    visible: int
    counted_only: int


@dataclass(frozen=True)
class PopulationCell:
    """Overlapping accounts of one population pair (tenant's population x partner's)."""

    tenant: str
    partner: str
    tenant_population: str
    partner_population: str
    accounts: int


@dataclass(frozen=True)
class Intro:
    """One open intro opportunity with its score and reasons."""

    tenant: str
    partner: str
    company: str
    opportunity: str
    stage: str
    amount: Decimal
    currency: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Revenue:
    """Attributed revenue of one (tenant, partner, month, currency) under one model."""

    tenant: str
    partner: str
    month: dt.date
    currency: str
    sourced: Decimal
    influenced: Decimal
    opportunities: int


@dataclass
class Report:
    """Everything the report shows."""

    tenant: str | None
    model: str
    generated_at: dt.datetime
    overlaps: list[OverlapCell] = field(default_factory=list)
    populations: list[PopulationCell] = field(default_factory=list)
    intros: list[Intro] = field(default_factory=list)
    revenue: list[Revenue] = field(default_factory=list)

    @property
    def tenants(self) -> list[str]:
        """Every tenant in the overlap matrix, either side."""
        return sorted({c.tenant for c in self.overlaps} | {c.partner for c in self.overlaps})

    def revenue_by_partner(self) -> list[tuple[str, str, str, Decimal, Decimal, int]]:
        """(tenant, partner, currency, sourced, influenced, opportunities).

        By currency (amounts in different currencies are not compared), biggest first.
        """
        totals: dict[tuple[str, str, str], list] = {}
        for r in self.revenue:
            t = totals.setdefault((r.tenant, r.partner, r.currency), [Decimal(0), Decimal(0), 0])
            t[0] += r.sourced
            t[1] += r.influenced
            t[2] += r.opportunities
        rows = [(*k, *v) for k, v in totals.items()]
        return sorted(rows, key=lambda r: (r[2], -(r[3] + r[4]), r[0], r[1]))


def build_report(query, *, tenant: str | None = None, model: str = DEFAULT_MODEL,
                 top: int = 15) -> Report:
    """Read the report through ``query(sql, parameters) -> rows`` (a writer's query)."""
    if model not in ATTRIBUTION_MODELS:
        raise SinkConfigError(f"unknown attribution model {model!r} "
                              f"(one of {', '.join(ATTRIBUTION_MODELS)})")
    if tenant:
        known = known_tenants(query)
        if tenant not in known:
            holds = (f"the tenants it knows are {', '.join(known)}" if known else
                     "it holds no tenants yet (run `coselling demo`, `replay` or the sink)")
            raise UnknownTenantError(f"unknown tenant {tenant!r}: {holds}")
    where = "WHERE tenant_id = {tenant:String}" if tenant else ""
    p = {"tenant": tenant} if tenant else {}
    report = Report(tenant, model, dt.datetime.now(dt.UTC).replace(microsecond=0))
    report.overlaps = [OverlapCell(*row) for row in query(
        f"SELECT tenant_id, partner_tenant_id, overlapping_accounts, visible_accounts, "
        f"counted_only_accounts FROM overlap_counts {where} "
        f"ORDER BY tenant_id, partner_tenant_id", p)]
    report.populations = [PopulationCell(*row) for row in query(
        f"SELECT tenant_id, partner_tenant_id, tenant_population, partner_population, "
        f"overlapping_accounts FROM partner_overlap_matrix {where} "
        f"ORDER BY tenant_id, partner_tenant_id, tenant_population, partner_population", p)]
    report.intros = [
        Intro(t, pt, c, o, s, a, cur, sc, tuple(rs)) for t, pt, c, o, s, a, cur, sc, rs in query(
            f"SELECT tenant_id, partner_tenant_id, company_key, opportunity_record_id, stage, "
            f"amount, currency, score, reasons FROM intros_current {where} "
            f"ORDER BY score DESC, amount DESC, tenant_id, opportunity_record_id, "
            f"partner_tenant_id LIMIT {int(top)}", p)]
    model_filter = ("WHERE model = {model:String}" + (" AND tenant_id = {tenant:String}"
                                                       if tenant else ""))
    report.revenue = [Revenue(*row) for row in query(
        f"SELECT tenant_id, partner_tenant_id, month, currency, sum(sourced_revenue), "
        f"sum(influenced_revenue), sum(opportunities) FROM partner_influenced_revenue "
        f"{model_filter} GROUP BY tenant_id, partner_tenant_id, month, currency "
        f"ORDER BY month, tenant_id, partner_tenant_id, currency", {**p, "model": model})]
    return report


def known_tenants(query) -> list[str]:
    """Every tenant the database holds events or results of, sorted."""
    return [t for (t,) in query(
        "SELECT DISTINCT tenant_id FROM (SELECT tenant_id FROM crm_events "
        "UNION ALL SELECT tenant_id FROM overlap_state "
        "UNION ALL SELECT tenant_id FROM intro_state "
        "UNION ALL SELECT tenant_id FROM attribution_state) ORDER BY tenant_id", {})]
