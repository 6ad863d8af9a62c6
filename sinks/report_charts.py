"""The report's charts as inline SVG: no script, nothing loaded from the network.

The overlap heat map, and attributed revenue over time with one chart and one axis per
currency. Amounts in different currencies are never added up: each currency gets its own chart
with its own scale. Each heat map cell shows how many shared accounts the partner lets
the tenant see by name and how many it shares as counts only.
"""

from __future__ import annotations

import html
from decimal import Decimal

from .report import Report

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#db2777", "#4b5563", "#65a30d")
#: The heat map's split of each cell: visible by name, counts only.
VISIBLE_FILL = "#0d9488"
COUNTS_FILL = "#f59e0b"


def heat_map_svg(report: Report) -> str:
    """The overlap matrix as an SVG heat map: darker cells hold more shared accounts.

    A bar along the foot of each cell splits its accounts into those visible by name
    (teal) and those shared as counts only (amber); the legend says which is which.
    """
    tenants = report.tenants
    cells = {(c.tenant, c.partner): c for c in report.overlaps}
    top = max((c.overlapping for c in report.overlaps), default=0) or 1
    size, left, head, strip = 84, 120, 90, 12
    width = left + size * len(tenants) + 10
    height = head + size * len(tenants) + 50
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
            parts.extend(_heat_cell(left + j * size, y, size, strip, row, col,
                                    cells.get((row, col)), top))
    legend_y = head + size * len(tenants) + 18
    parts.append(f'<rect x="{left}" y="{legend_y}" width="12" height="12" '
                 f'fill="{VISIBLE_FILL}"/><text x="{left + 18}" y="{legend_y + 10}" '
                 f'font-size="12">visible by name</text>'
                 f'<rect x="{left + 130}" y="{legend_y}" width="12" height="12" '
                 f'fill="{COUNTS_FILL}"/><text x="{left + 148}" y="{legend_y + 10}" '
                 f'font-size="12">counts only</text>')
    parts.append("</svg>")
    return "".join(parts)


def _heat_cell(x: float, y: float, size: int, strip: int, row: str, col: str, cell,
               top: int) -> list[str]:
    inner = size - 2
    names = f"{html.escape(row)} x {html.escape(col)}"
    if cell is None:
        return [f'<rect class="cell" x="{x}" y="{y}" width="{inner}" height="{inner}" '
                f'fill="#f3f4f6"><title>{names}: no overlap</title></rect>']
    share = cell.overlapping / top
    ink = "#ffffff" if share > 0.55 else "#111827"
    visible_w = inner * cell.visible / cell.overlapping if cell.overlapping else 0
    strip_y = y + inner - strip
    return [
        f'<rect class="cell" x="{x}" y="{y}" width="{inner}" height="{inner}" '
        f'fill="{_blue(share)}" data-tenant="{html.escape(row)}" '
        f'data-partner="{html.escape(col)}" data-overlapping="{cell.overlapping}" '
        f'data-visible="{cell.visible}" data-counts-only="{cell.counted_only}"><title>'
        f'{names}: {cell.overlapping} accounts in common, {cell.visible} visible by name, '
        f'{cell.counted_only} counts only</title></rect>',
        f'<rect class="split-visible" x="{x}" y="{strip_y}" width="{visible_w:.2f}" '
        f'height="{strip}" fill="{VISIBLE_FILL}"/>',
        f'<rect class="split-counts" x="{x + visible_w:.2f}" y="{strip_y}" '
        f'width="{inner - visible_w:.2f}" height="{strip}" fill="{COUNTS_FILL}"/>',
        f'<text x="{x + inner / 2}" y="{y + inner / 2 - 6}" text-anchor="middle" '
        f'font-size="14" fill="{ink}">{cell.overlapping}</text>',
        f'<text x="{x + inner / 2}" y="{y + inner / 2 + 10}" text-anchor="middle" '
        f'font-size="10" fill="{ink}">{cell.visible} / {cell.counted_only}</text>',
    ]


def _blue(share: float) -> str:
    low, high = (219, 234, 254), (30, 64, 175)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def revenue_charts_svg(report: Report) -> list[tuple[str, str]]:
    """(currency, SVG) per currency: attributed revenue per month, stacked by partner.

    Partners keep one colour across the charts.
    """
    partners = sorted({r.partner for r in report.revenue})
    colours = {p: PALETTE[n % len(PALETTE)] for n, p in enumerate(partners)}
    return [(currency, _revenue_chart(report, currency, colours))
            for currency in sorted({r.currency for r in report.revenue})]


def _revenue_chart(report: Report, currency: str, colours: dict[str, str]) -> str:
    rows = [r for r in report.revenue if r.currency == currency]
    months = sorted({r.month for r in report.revenue})  # the same months on every chart
    partners = sorted({r.partner for r in rows})
    totals: dict[tuple, Decimal] = {}
    for r in rows:
        key = (r.month, r.partner)
        totals[key] = totals.get(key, Decimal(0)) + r.sourced + r.influenced
    peak = max((sum((totals.get((m, p), Decimal(0)) for p in partners), Decimal(0))
                for m in months), default=Decimal(0)) or Decimal(1)
    bar, gap, left, top, plot_h = 30, 8, 96, 28, 200
    width = left + len(months) * (bar + gap) + 160
    height = top + plot_h + 40
    cur = html.escape(currency)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="revenue-chart" '
             f'id="revenue-chart-{cur}" data-currency="{cur}" width="{width}" '
             f'height="{height}" role="img" aria-label="Attributed revenue in {cur} by '
             f'partner and month">',
             f'<text class="axis-title" x="{left - 6}" y="{top - 12}" text-anchor="end" '
             f'font-size="12" font-weight="bold">{cur}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 150}" y2="{top + plot_h}" '
             f'stroke="#9ca3af"/>']
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h - plot_h * k / 4
        css = ' class="axis-max"' if k == 4 else ""
        parts.append(f'<text{css} x="{left - 6}" y="{y + 4}" text-anchor="end" font-size="11"'
                     f' data-value="{value:.2f}">{value:,.0f}</text>')
    for i, month in enumerate(months):
        x = left + gap + i * (bar + gap)
        y = top + plot_h
        for partner in partners:
            value = totals.get((month, partner), Decimal(0))
            h = float(value / peak) * plot_h
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect class="bar" x="{x}" y="{y:.2f}" width="{bar}" '
                         f'height="{h:.2f}" fill="{colours[partner]}" '
                         f'data-partner="{html.escape(partner)}" data-month="{month:%Y-%m}" '
                         f'data-value="{value:.2f}"><title>{html.escape(partner)} '
                         f'{month:%Y-%m}: {value:,.0f} {cur}</title></rect>')
        parts.append(f'<text x="{x + bar / 2}" y="{top + plot_h + 16}" text-anchor="middle" '
                     f'font-size="10">{month:%b %y}</text>')
    for n, partner in enumerate(partners):
        y = top + 10 + n * 20
        parts.append(f'<rect x="{width - 140}" y="{y - 10}" width="12" height="12" '
                     f'fill="{colours[partner]}"/><text x="{width - 122}" y="{y}" '
                     f'font-size="12">{html.escape(partner)}</text>')
    parts.append("</svg>")
    return "".join(parts)
