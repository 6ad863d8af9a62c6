"""The report as terminal tables (rich) and as one self-contained HTML file.

The HTML has no script and loads nothing: the charts (a heat map of the partner overlap
matrix and attributed revenue by partner over time, one chart per currency) are inline
SVG (:mod:`sinks.report_charts`), so the file opens anywhere, offline, and can be mailed
as it is.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import jinja2
from rich.console import Console
from rich.table import Table

from .report import Report
from .report_charts import heat_map_svg, revenue_charts_svg

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.0f} {currency}"


def print_report(report: Report, console: Console) -> None:
    """The three parts of the report as terminal tables."""
    who = f" as seen by {report.tenant}" if report.tenant else ""
    tenants = report.tenants
    matrix = Table(title=f"Partner overlap matrix{who} (overlapping accounts; "
                   "row: viewing tenant, column: partner)")
    matrix.add_column("tenant \\ partner", style="bold")
    for t in tenants:
        matrix.add_column(t, justify="right")
    cells = {(c.tenant, c.partner): c for c in report.overlaps}
    for row in sorted({c.tenant for c in report.overlaps}):
        matrix.add_row(row, *[_cell_text(cells.get((row, col))) for col in tenants])
    console.print(matrix)
    console.print("  n (v): n accounts in common, v of them visible by name; the rest are "
                  "shared as counts only.", style="dim")

    console.print()
    console.print(f"[bold]Top {len(report.intros)} intro opportunities{who}[/bold] "
                  "(tenant <- partner who can introduce)")
    for n, i in enumerate(report.intros, start=1):
        console.print(f"{n:>3}. {i.tenant} <- {i.partner}  {i.company}  score {i.score:.2f}",
                      markup=False)
        console.print(f"     deal {i.opportunity} ({i.stage}, {_money(i.amount, i.currency)})",
                      markup=False, style="dim")
        for reason in i.reasons:
            console.print(f"     - {reason}", markup=False)
    if not report.intros:
        console.print("  no open intro opportunities")
    console.print()

    revenue = Table(title=f"Partner-influenced revenue{who} ({report.model} model)")
    for name, justify in (("tenant", "left"), ("partner", "left"), ("sourced", "right"),
                          ("influenced", "right"), ("deals", "right")):
        revenue.add_column(name, justify=justify)
    for tenant, partner, currency, sourced, influenced, deals in report.revenue_by_partner():
        revenue.add_row(tenant, partner, _money(sourced, currency),
                        _money(influenced, currency), str(deals))
    console.print(revenue)


def _cell_text(cell) -> str:
    if cell is None:
        return "-"
    return f"{cell.overlapping} ({cell.visible})"


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             autoescape=jinja2.select_autoescape(["html"]))
    template = env.get_template("report.html")
    return template.render(report=report, heat_map=heat_map_svg(report),
                           revenue_charts=revenue_charts_svg(report),
                           revenue_rows=report.revenue_by_partner(), money=_money)
