"""Chart render time: a 12-month sales trend and an 8-store ranking, from head office's
real tool results (``zava serve`` over stdio on a seeded database), drawn in-process
again and again: p50/p95 of the PNG (Vega-Lite -> SVG -> PNG), of the ui:// page
(Vega-Lite -> SVG -> page), and of both (what an MCP Apps client costs); then the tool
call's p50 over stdio with and without ``chart``. ``--examples DIR`` also writes the two
PNGs the server returned (docs/charts holds them).

    python -m benchmarks.chart_render [--size tiny|workshop] [--repeats 50] [--examples DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import ImageContent

from benchmarks.common import seeded_target, server_env
from zava.charts import page, render, shapes, specs
from zava.charts.chart import Chart
from zava.charts.draw import draw
from zava.seeding import company
from zava.services.reports import PerformanceReport, SalesTrend

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "sales-trend": ("get_sales_trend", {"months": 12}),
    "store-ranking": ("get_store_performance", {"period": "last_30_days"}),
}


def percentiles(run: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """p50 and p95 wall time of ``run``, and its p50 CPU time (every thread of this
    process: vl-convert renders on its own), in milliseconds, after one warm-up. On a
    busy machine the CPU time is the steadier figure."""
    run()
    samples, cpu = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18], statistics.median(cpu)


def page_only(chart: Chart) -> str:
    """The page's own path: the SVG and the HTML around it, no PNG."""
    return page.page(chart.title, render.svg(specs.spec(chart)))


async def call_ms(session: ClientSession, tool: str, arguments: dict[str, Any],
                  repeats: int) -> float:
    """p50 of the tool call over stdio, in milliseconds."""
    samples = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        result = await session.call_tool(tool, arguments)
        samples.append((time.perf_counter() - started) * 1000)
        assert not result.is_error, result.content
    return statistics.median(samples[1:])


async def main(size: str, repeats: int, examples: Path | None, data_dir: Path | None) -> None:
    settings, _ = await seeded_target(size, data_dir)
    env = server_env(settings)
    params = StdioServerParameters(command=sys.executable, env=env, args=[
        "-m", "zava", "serve", "--rls-user", str(company.HEAD_OFFICE_ID)])
    apps = {EXTENSION_ID: {"mimeTypes": [APP_MIME_TYPE]}}
    async with stdio_client(params) as (read, write), \
            ClientSession(read, write, extensions=apps) as session:
        await session.initialize()
        charts: dict[str, Chart] = {}
        for name, (tool, arguments) in CALLS.items():
            result = await session.call_tool(tool, {**arguments, "chart": True})
            assert not result.is_error and result.structured_content is not None
            if examples is not None:
                (image,) = [c for c in result.content if isinstance(c, ImageContent)]
                examples.mkdir(parents=True, exist_ok=True)
                (examples / f"{name}.png").write_bytes(base64.b64decode(image.data))
            charts[name] = (shapes.sales_trend(SalesTrend.model_validate(
                result.structured_content)) if tool == "get_sales_trend" else
                shapes.store_performance(PerformanceReport.model_validate(
                    result.structured_content)))
        print(f"{size} seed, head office, {repeats} renders each (ms)")
        print(f"{'chart':<14} {'points':>6} {'png p50':>8} {'p95':>6} {'cpu':>6} "
              f"{'page p50':>9} {'p95':>6} {'cpu':>6} {'both p50':>9} {'p95':>6} {'cpu':>6} "
              f"{'call p50':>9} {'+chart':>7}")
        for name, chart in charts.items():
            png = percentiles(functools.partial(draw, chart, with_page=False), repeats)
            html = percentiles(functools.partial(page_only, chart), repeats)
            both = percentiles(functools.partial(draw, chart, with_page=True), repeats)
            tool, arguments = CALLS[name]
            plain = await call_ms(session, tool, arguments, 20)
            charted = await call_ms(session, tool, {**arguments, "chart": True}, 20)
            print(f"{name:<14} {len(chart.points):>6} {png[0]:>8.1f} {png[1]:>6.1f} "
                  f"{png[2]:>6.1f} {html[0]:>9.1f} {html[1]:>6.1f} {html[2]:>6.1f} "
                  f"{both[0]:>9.1f} {both[1]:>6.1f} {both[2]:>6.1f} "
                  f"{plain:>9.1f} {charted - plain:>7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "workshop"], default="workshop")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--examples", type=Path)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.size, args.repeats, args.examples, args.data_dir))
