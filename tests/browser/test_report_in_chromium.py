"""The HTML report opened in headless Chromium: both charts render (a screenshot is taken
and checked to be far from blank, and the rendered DOM holds the charts' shapes).

Chromium comes from Debian's package (``.ci/run`` installs it). Without it this test is
skipped on a developer machine and fails in CI (``CI`` set), like the Kafka tests.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import pytest
from PIL import Image

from sinks.clickhouse import ClickHouseWriter
from sinks.report import build_report
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
    writer.close()
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    assert dom.count('class="cell"') == len(report.tenants) ** 2
    assert dom.count('class="bar"') >= 10
    assert 'id="intros"' in dom

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
