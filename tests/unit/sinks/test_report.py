"""The report: read from the views, checked against the core's own current state."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import pytest
from rich.console import Console

from sinks.exceptions import SinkConfigError, UnknownTenantError
from sinks.report import build_report
from sinks.report_render import print_report, render_html
from streams.cli import main
from streams.demo_data import TENANTS, generate
from streams.replay import event_time_order, replay_events

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from sinks.clickhouse import ClickHouseWriter

    writer = ClickHouseWriter(f"chdb://{tmp_path_factory.mktemp('report') / 'chdb'}")
    writer.migrate(ttl_days=0)
    events = sorted(generate(companies=400, seed=5, now=NOW), key=event_time_order)
    _, pipeline = replay_events(events, writer)
    yield writer, pipeline.current()
    writer.close()


def test_the_report_agrees_with_the_core_state(demo):
    writer, current = demo
    report = build_report(writer.query, top=5)
    overlaps = [r for k, r in current.items() if k.startswith("overlap|")]
    expected = Counter((r["tenant_id"], r["partner_tenant_id"]) for r in overlaps)
    assert {(c.tenant, c.partner): c.overlapping for c in report.overlaps} == dict(expected)
    visible = Counter((r["tenant_id"], r["partner_tenant_id"]) for r in overlaps if r["visible"])
    assert {(c.tenant, c.partner): c.visible for c in report.overlaps if c.visible} \
        == dict(visible)
    intros = sorted((r for k, r in current.items() if k.startswith("intro|")),
                    key=lambda r: -r["score"])
    assert len(report.intros) == 5
    assert [i.score for i in report.intros] == [r["score"] for r in intros[:5]]
    linear = [r for k, r in current.items()
              if k.startswith("attribution|") and r["model"] == "linear"]
    total = sum((Decimal(r["attributed_amount"]) for r in linear), Decimal(0))
    assert sum((r.sourced + r.influenced for r in report.revenue), Decimal(0)) == total


def test_seen_as_one_tenant_the_report_holds_only_its_rows(demo):
    writer, _ = demo
    report = build_report(writer.query, tenant="contoso")
    assert report.overlaps and {c.tenant for c in report.overlaps} == {"contoso"}
    assert {i.tenant for i in report.intros} <= {"contoso"}
    assert report.revenue and {r.tenant for r in report.revenue} == {"contoso"}
    with pytest.raises(SinkConfigError, match="unknown attribution model"):
        build_report(writer.query, model="magic")


def test_terminal_and_html_forms_show_every_part(demo):
    writer, _ = demo
    report = build_report(writer.query)
    console = Console(width=200, record=True)
    print_report(report, console)
    text = console.export_text()
    assert "Partner overlap matrix" in text and "Top 15 intro opportunities" in text
    assert report.intros[0].reasons[0] in text
    assert report.intros[0].opportunity in text
    page = render_html(report)
    assert page.count('class="cell"') == len(report.tenants) ** 2
    assert page.count('class="bar"') >= len({r.month for r in report.revenue})
    assert 'id="overlap-heatmap"' in page and 'id="revenue-chart-USD"' in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_an_unknown_tenant_is_named_with_the_known_ones(demo, capsys):
    writer, _ = demo
    known = ", ".join(sorted(t.tenant_id for t in TENANTS))
    with pytest.raises(UnknownTenantError,
                       match=f"unknown tenant 'nosuch': the tenants it knows are {known}$"):
        build_report(writer.query, tenant="nosuch")
    assert main(["report", "--clickhouse", writer.dsn, "--tenant", "nosuch", "--no-html"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"coselling: error: unknown tenant 'nosuch': the tenants it knows "
                            f"are {known}\n")


def test_the_terminal_report_lists_every_reason_of_every_intro(demo):
    writer, _ = demo
    report = build_report(writer.query, top=10)
    console = Console(width=250, record=True)
    print_report(report, console)
    lines = console.export_text().splitlines()
    assert all(len(i.reasons) >= 4 for i in report.intros)
    for n, intro in enumerate(report.intros, start=1):
        start = next(k for k, ln in enumerate(lines) if ln.startswith(f"{n:>3}. "))
        shown = [ln.strip()[2:] for ln in lines[start + 2:start + 2 + len(intro.reasons)]]
        assert shown == list(intro.reasons)


def svg_attrs(svg: str, css_class: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m))
            for m in re.findall(rf'<(?:rect|text) class="{css_class}"([^>]*)>', svg)]


def test_the_html_report_has_one_revenue_axis_per_currency(demo):
    writer, current = demo
    page = render_html(build_report(writer.query))
    expected: dict[str, dict[tuple[str, str], Decimal]] = {}
    for k, r in current.items():
        if k.startswith("attribution|") and r["model"] == "linear":
            month = dt.datetime.fromtimestamp(r["closed_at"] / 1000, dt.UTC).strftime("%Y-%m")
            cell = expected.setdefault(r["currency"], {})
            key = (month, r["partner_tenant_id"])
            cell[key] = cell.get(key, Decimal(0)) + Decimal(r["attributed_amount"])
    assert set(expected) == {"USD", "EUR", "GBP"}  # the demo's tenants deal in three
    charts = dict(re.findall(r'<svg[^>]*id="revenue-chart-(\w+)"[^>]*>(.*?)</svg>', page, re.S))
    assert set(charts) == set(expected)
    for currency, svg in charts.items():
        bars = {(b["data-month"], b["data-partner"]): Decimal(b["data-value"])
                for b in svg_attrs(svg, "bar")}
        assert bars == {k: v.quantize(Decimal("0.01")) for k, v in expected[currency].items()}
        monthly: dict[str, Decimal] = {}
        for (month, _), value in expected[currency].items():
            monthly[month] = monthly.get(month, Decimal(0)) + value
        [axis_max] = svg_attrs(svg, "axis-max")
        assert Decimal(axis_max["data-value"]) == max(monthly.values()).quantize(Decimal("0.01"))
        assert f">{currency}</text>" in svg  # the axis says its currency
        stacks: dict[str, float] = {}
        for b in svg_attrs(svg, "bar"):
            stacks[b["data-month"]] = stacks.get(b["data-month"], 0.0) + float(b["height"])
        heights = sorted(stacks.values())
        # each currency on its own scale: its biggest month fills the plot, whatever the
        # other currencies' amounts
        assert heights[-1] == pytest.approx(200, abs=0.1)
        assert heights[0] / heights[-1] == pytest.approx(
            float(min(monthly.values()) / max(monthly.values())), abs=0.01)


def test_the_heat_map_splits_visible_from_counts_only(demo):
    writer, current = demo
    page = render_html(build_report(writer.query))
    expected: dict[tuple[str, str], list[int]] = {}
    for k, r in current.items():
        if k.startswith("overlap|"):
            pair = expected.setdefault((r["tenant_id"], r["partner_tenant_id"]), [0, 0])
            pair[0 if r["visible"] else 1] += 1
    assert any(v and c for v, c in expected.values())  # some pairs have both kinds
    cells = [a for a in svg_attrs(page, "cell") if "data-tenant" in a]
    shown = {(a["data-tenant"], a["data-partner"]): [int(a["data-visible"]),
                                                     int(a["data-counts-only"])] for a in cells}
    assert shown == expected
    visible, counts = svg_attrs(page, "split-visible"), svg_attrs(page, "split-counts")
    for cell, v, c in zip(cells, visible, counts, strict=True):
        width = float(cell["width"])
        n_visible, n_counts = shown[(cell["data-tenant"], cell["data-partner"])]
        assert abs(float(v["width"]) - width * n_visible / (n_visible + n_counts)) < 0.01
        assert abs(float(v["width"]) + float(c["width"]) - width) < 0.01
