"""The HTML report opened in headless Chromium: its charts render (a screenshot is taken
and checked to be far from blank, and the rendered DOM holds the charts' shapes): one
revenue chart and axis per currency, and a heat map that splits each cell into accounts
visible by name and accounts shared as counts only, both checked against the database.

Chromium comes from Debian's package (``.ci/run`` installs it). Without it this test is
skipped on a developer machine and fails in CI (``CI`` set), like the Kafka tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from PIL import Image

from sinks.clickhouse import ClickHouseWriter
from sinks.report import build_report
from sinks.report_charts import COUNTS_FILL, VISIBLE_FILL
from sinks.report_render import render_html
from streams.demo_data import generate
from streams.replay import event_time_order, replay_events

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "headless Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the browser test)")
        pytest.skip(message)
    return found


def run_chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'ud'}",
                           *args], capture_output=True, timeout=120, check=True)


def test_the_report_renders_its_charts_in_chromium(tmp_path):
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    writer.migrate(ttl_days=0)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    replay_events(sorted(generate(companies=300, now=now), key=event_time_order), writer)
    report = build_report(writer.query)
    revenue = {(c, m, p): v for c, m, p, v in writer.query(
        "SELECT currency, formatDateTime(closed_at, '%Y-%m'), partner_tenant_id, "
        "sum(attributed_amount) FROM attributions_current WHERE model = 'linear' "
        "GROUP BY ALL")}
    split = {(t, p): (v, c) for t, p, v, c in writer.query(
        "SELECT tenant_id, partner_tenant_id, countIf(visible), countIf(NOT visible) "
        "FROM overlap_state FINAL WHERE active GROUP BY ALL")}
    writer.close()
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    assert dom.count('class="cell"') == len(report.tenants) ** 2
    assert dom.count('class="bar"') >= 10
    assert 'id="intros"' in dom
    check_revenue_axes(dom, revenue)
    check_heat_map_split(dom, split)

    shot = tmp_path / "report.png"
    run_chromium(tmp_path, "--window-size=1400,1100", f"--screenshot={shot}", page.as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1100)
    data = image.tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3], strict=True))
    ink = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    colours = len(set(pixels))
    # A blank or unstyled page is nearly all white with a handful of colours; the heat
    # map's blues and the bars' palette put thousands of pixels in many colours.
    assert ink > 0.08, f"only {ink:.1%} of the screenshot is not white"
    assert colours > 50, f"only {colours} colours in the screenshot"
    heat_blue = sum(1 for r, g, b in pixels if b > 150 and r < 200 and b - r > 40)
    assert heat_blue > 10_000, "the heat map's blue cells are missing"
    teal, amber = (_rgb(VISIBLE_FILL), _rgb(COUNTS_FILL))
    assert sum(1 for p in pixels if p == teal) > 1_000, "no visible-by-name split drawn"
    assert sum(1 for p in pixels if p == amber) > 1_000, "no counts-only split drawn"


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _attrs(fragment: str, css_class: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m))
            for m in re.findall(rf'<(?:rect|text) class="{css_class}"([^>]*)>', fragment)]


def check_revenue_axes(dom: str, revenue: dict) -> None:
    """One chart per currency in the data, each on its own axis, bars as in the database."""
    charts = dict(re.findall(r'<svg[^>]*id="revenue-chart-(\w+)"[^>]*>(.*?)</svg>', dom, re.S))
    currencies = {c for c, _, _ in revenue}
    assert len(currencies) >= 2 and set(charts) == currencies
    for currency, svg in charts.items():
        [title] = re.findall(r'<text class="axis-title"[^>]*>([^<]*)</text>', svg)
        assert title == currency
        bars = {(b["data-month"], b["data-partner"]): Decimal(b["data-value"])
                for b in _attrs(svg, "bar")}
        mine = {(m, p): v for (c, m, p), v in revenue.items() if c == currency}
        assert bars == {k: v.quantize(Decimal("0.01")) for k, v in mine.items()}
        months: dict[str, Decimal] = {}
        for (m, _), v in mine.items():
            months[m] = months.get(m, Decimal(0)) + v
        [axis_max] = _attrs(svg, "axis-max")
        assert Decimal(axis_max["data-value"]) == max(months.values()).quantize(Decimal("0.01"))


def check_heat_map_split(dom: str, split: dict) -> None:
    """Each cell's visible and counts-only parts, as overlap_state holds them."""
    cells = [a for a in _attrs(dom, "cell") if "data-tenant" in a]
    assert {(a["data-tenant"], a["data-partner"]): (int(a["data-visible"]),
                                                    int(a["data-counts-only"]))
            for a in cells} == split
    assert any(v and c for v, c in split.values())
    for cell, v, c in zip(cells, _attrs(dom, "split-visible"), _attrs(dom, "split-counts"),
                          strict=True):
        n_visible, n_counts = split[(cell["data-tenant"], cell["data-partner"])]
        width = float(cell["width"])
        assert float(v["width"]) == pytest.approx(width * n_visible / (n_visible + n_counts),
                                                  abs=0.01)
        assert float(v["width"]) + float(c["width"]) == pytest.approx(width, abs=0.01)
