"""The PNG decodes, has the chart's size, and its marks were drawn: pixels of the mark
colours inside the plot area (and none in an empty chart, so the check can fail)."""

from __future__ import annotations

from tests.support import chart_data as results
from tests.support.png import Image, decode, hex_colour
from zava.charts import shapes, specs
from zava.charts.chart import Chart
from zava.charts.draw import draw

PLOT = (80, 70, specs.WIDTH - 10, specs.HEIGHT - 60)
"""A box well inside the plot area (titles, legend and axes are outside it)."""


def image(chart: Chart) -> Image:
    drawing = draw(chart, with_page=False)
    assert drawing.page is None
    return decode(drawing.png)


def test_bars_are_drawn_in_the_mark_colour() -> None:
    report = results.performance(*(results.store(f"Store {i}", 1000.0 * (i + 1))
                                   for i in range(8)))
    picture = image(shapes.store_performance(report))
    assert (picture.width, picture.height) == (specs.WIDTH, specs.HEIGHT)
    bars = picture.count(hex_colour(specs.PALETTE[0]), PLOT)
    assert bars > 0.2 * (PLOT[2] - PLOT[0]) * (PLOT[3] - PLOT[1])


def test_lines_are_drawn_in_each_series_colour() -> None:
    picture = image(shapes.sales_trend(results.trend(["Seattle"])))
    assert (picture.width, picture.height) == (specs.WIDTH, specs.HEIGHT)
    for colour in specs.PALETTE[:2]:
        assert picture.count(hex_colour(colour), PLOT) > 300


def test_an_empty_chart_draws_no_marks() -> None:
    picture = image(shapes.store_performance(results.performance()))
    assert (picture.width, picture.height) == (specs.WIDTH, specs.HEIGHT)
    assert picture.count(hex_colour(specs.PALETTE[0])) == 0
