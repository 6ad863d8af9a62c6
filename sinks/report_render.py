"""The report as terminal tables (rich) and as one self-contained HTML file.

The HTML has no script and loads nothing: the two charts (a heat map of the partner
overlap matrix and attributed revenue by partner over time) are inline SVG computed here,
so the file opens anywhere, offline, and can be mailed as it is.
"""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path

import jinja2
from rich.console import Console
from rich.table import Table

from .report import Report

TEMPLATE_DIR = Path(__file__).parent / "templates"
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#db2777", "#4b5563", "#65a30d")


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


def heat_map_svg(report: Report) -> str:
    """The overlap matrix as an SVG heat map: darker cells hold more shared accounts."""
    tenants = report.tenants
    cells = {(c.tenant, c.partner): c.overlapping for c in report.overlaps}
    top = max(cells.values(), default=0) or 1
    size, left, head = 72, 120, 90
    width, height = left + size * len(tenants) + 10, head + size * len(tenants) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="overlap-heatmap" '
             f'width="{width}" height="{height}" role="img" '
             f'aria-label="Partner overlap matrix heat map">']
    for j, col in enumerate(tenants):
        x = left + j * size + size / 2
        parts.append(f'<text x="{x}" y="{head - 8}" text-anchor="start" font-size="12" '
                     f'transform="rotate(-40 {x} {head - 8})">{html.escape(col)}</text>')
    for i, row in enumerate(tenants):
        y = head + i * size
        parts.append(f'<text x="{left - 8}" y="{y + size / 2 + 4}" text-anchor="end" '
                     f'font-size="12">{html.escape(row)}</text>')
        for j, col in enumerate(tenants):
            x = left + j * size
            value = cells.get((row, col))
            if value is None:
                fill, label = "#f3f4f6", ""
            else:
                fill, label = _blue(value / top), str(value)
            ink = "#ffffff" if value is not None and value / top > 0.55 else "#111827"
            parts.append(f'<rect class="cell" x="{x}" y="{y}" width="{size - 2}" '
                         f'height="{size - 2}" fill="{fill}"><title>{html.escape(row)} x '
                         f'{html.escape(col)}: {label or "no overlap"}</title></rect>')
            if label:
                parts.append(f'<text x="{x + size / 2 - 1}" y="{y + size / 2 + 4}" '
                             f'text-anchor="middle" font-size="13" fill="{ink}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _blue(share: float) -> str:
    low, high = (219, 234, 254), (30, 64, 175)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def revenue_chart_svg(report: Report) -> str:
    """Attributed revenue per month as stacked bars, one colour per partner."""
    months = sorted({r.month for r in report.revenue})
    partners = sorted({r.partner for r in report.revenue})
    totals: dict[tuple, Decimal] = {}
    for r in report.revenue:
        key = (r.month, r.partner)
        totals[key] = totals.get(key, Decimal(0)) + r.sourced + r.influenced
    peak = max((sum(totals.get((m, p), Decimal(0)) for p in partners) for m in months),
               default=Decimal(0)) or Decimal(1)
    bar, gap, left, top, plot_h = 36, 10, 80, 20, 260
    width = left + len(months) * (bar + gap) + 160
    height = top + plot_h + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="revenue-chart" width="{width}" '
             f'height="{height}" role="img" aria-label="Attributed revenue by partner '
             f'and month">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 150}" y2="{top + plot_h}" '
             f'stroke="#9ca3af"/>']
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" font-size="11">'
                     f'{value:,.0f}</text>')
    for i, month in enumerate(months):
        x = left + gap + i * (bar + gap)
        y = top + plot_h
        for n, partner in enumerate(partners):
            value = totals.get((month, partner), Decimal(0))
            h = float(value / peak) * plot_h
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect class="bar" x="{x}" y="{y:.1f}" width="{bar}" '
                         f'height="{h:.1f}" fill="{PALETTE[n % len(PALETTE)]}"><title>'
                         f'{html.escape(partner)} {month:%Y-%m}: {value:,.0f}</title></rect>')
        parts.append(f'<text x="{x + bar / 2}" y="{top + plot_h + 16}" text-anchor="middle" '
                     f'font-size="11">{month:%b %y}</text>')
    for n, partner in enumerate(partners):
        y = top + 10 + n * 20
        parts.append(f'<rect x="{width - 140}" y="{y - 10}" width="12" height="12" '
                     f'fill="{PALETTE[n % len(PALETTE)]}"/><text x="{width - 122}" y="{y}" '
                     f'font-size="12">{html.escape(partner)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             autoescape=jinja2.select_autoescape(["html"]))
    template = env.get_template("report.html")
    return template.render(report=report, heat_map=heat_map_svg(report),
                           revenue_chart=revenue_chart_svg(report),
                           revenue_rows=report.revenue_by_partner(), money=_money)
