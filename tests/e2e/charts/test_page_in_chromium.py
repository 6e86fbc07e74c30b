"""The ui:// chart page in a real headless Chromium (Debian's ``chromium``): the DOM it
builds holds one mark per bar or point, and the page makes no network request (read from
Chromium's own net log; a control page with a remote image shows the log catches one)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import chart_data as results
from tests.support.chart_page import PageContents
from tests.support.system_packages import require_program
from zava.charts import shapes
from zava.charts.chart import Chart
from zava.charts.draw import draw

BROWSER_OWN = "not an origin"
"""The initiator of requests Chromium makes for itself (updates, time sync), not a page's."""
REMOTE = "http://127.0.0.1:9/x.png"
QUIET = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--no-pings", "--disable-client-side-phishing-detection",
         "--disable-domain-reliability", "--disable-spell-checking"]


def open_in_chromium(page: str, tmp_path: Path) -> tuple[PageContents, list[str]]:
    """The DOM Chromium built from ``page`` (loaded from a file), and the URLs the page
    requested, from the net log."""
    chromium = require_program("chromium")
    tmp_path.mkdir(exist_ok=True)
    html, netlog = tmp_path / "chart.html", tmp_path / "netlog.json"
    html.write_text(page)
    dump = subprocess.run(
        [str(chromium), *QUIET, f"--user-data-dir={tmp_path / 'profile'}",
         f"--log-net-log={netlog}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    log = json.loads(netlog.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    requested = [event["params"]["url"] for event in log["events"]
                 if names[event["type"]] == "URL_REQUEST_START_JOB"
                 and "url" in event.get("params", {})
                 and event["params"].get("initiator") != BROWSER_OWN]
    return PageContents(dump), requested


def page_of(chart: Chart) -> str:
    drawing = draw(chart, with_page=True)
    assert drawing.page is not None
    return drawing.page


@pytest.mark.slow
@pytest.mark.parametrize(("chart", "kind", "marks"), [
    (shapes.sales_trend(results.trend(["Seattle"])), "point", 24),
    (shapes.store_performance(results.performance(*(
        results.store(f"Store {i}", 100.0 * (i + 1)) for i in range(8)))), "bar", 8),
    (shapes.metrics(results.metrics(["revenue"], ["store"], [
        {"store": name, "revenue": 10.0 * i, "revenue_previous": 8.0 * i}
        for i, name in enumerate(["Seattle", "Tacoma", "Bellevue"], start=1)],
        compare_to="previous_period")), "bar", 6),
], ids=["trend", "ranking", "comparison"])
def test_the_page_shows_its_marks_and_loads_nothing(
    chart: Chart, kind: str, marks: int, tmp_path: Path
) -> None:
    dom, requested = open_in_chromium(page_of(chart), tmp_path)
    assert "svg" in dom.tags and "script" not in dom.tags
    assert dom.marks.get(kind) == marks
    assert requested == []


@pytest.mark.slow
def test_the_net_log_sees_a_page_that_loads_something(tmp_path: Path) -> None:
    page = page_of(shapes.sales_trend(results.trend(["Seattle"])))
    policy = page[page.index('<meta http-equiv="Content-Security-Policy"'):]
    policy = policy[:policy.index(">") + 1]
    with_image = page.replace("<main>", f'<main><img src="{REMOTE}">')
    _, requested = open_in_chromium(with_image.replace(policy, ""), tmp_path / "open")
    assert requested == [REMOTE]
    # With the page's policy, the same image is never requested.
    _, blocked = open_in_chromium(with_image, tmp_path / "strict")
    assert blocked == []
