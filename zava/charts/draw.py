"""A chart drawn: the PNG for every client, and the HTML page for MCP Apps hosts."""

from __future__ import annotations

from dataclasses import dataclass

from zava.charts import page, render, specs
from zava.charts.chart import Chart


@dataclass(frozen=True)
class Drawing:
    """The chart's PNG, and its page when one was asked for."""

    png: bytes
    page: str | None


def draw(chart: Chart, *, with_page: bool) -> Drawing:
    """Render ``chart`` once as SVG, then the PNG from it (and the page around it)."""
    document = render.svg(specs.spec(chart))
    return Drawing(png=render.png(document),
                   page=page.page(chart.title, document) if with_page else None)
