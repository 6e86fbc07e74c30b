"""A chart as a Vega-Lite spec: a fixed size, the data inline (no URL to load), titles
and axis titles from the chart. Text in a spec is only ever data or a title, never an
expression, so a hostile store name stays text."""

from __future__ import annotations

from typing import Any

from zava.charts.chart import Chart

WIDTH = 720
HEIGHT = 400
"""The image's size in pixels, titles, axes and legend included."""
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
           "#ff9da6")
"""Series colours, in order; a single series is drawn in the first."""
LABEL_LIMIT = 200
"""Longest axis or legend label in pixels (longer ones end with an ellipsis)."""

Spec = dict[str, Any]


def spec(chart: Chart) -> Spec:
    """The Vega-Lite spec that draws ``chart``."""
    values = [{"x": p.x, "y": p.y} | ({"series": p.series} if p.series is not None else {})
              for p in chart.points]
    value: dict[str, Any] = {"field": "y", "type": "quantitative",
                             "title": chart.value_title, "axis": {"format": chart.value_format}}
    category: dict[str, Any] = {
        "field": "x", "type": "ordinal" if chart.kind == "line" else "nominal", "sort": None,
        "title": chart.category_title, "axis": {"labelLimit": LABEL_LIMIT}}
    encoding: dict[str, Any]
    if chart.kind == "line":
        category["axis"] |= {"labelAngle": 0, "labelOverlap": "parity"}
        mark: dict[str, Any] = {"type": "line", "point": True}
        encoding = {"x": category, "y": value}
    else:
        mark = {"type": "bar"}
        encoding = {"y": category, "x": value}
    if chart.series:
        encoding["color"] = {"field": "series", "type": "nominal", "sort": None,
                             "title": chart.series_title,
                             "scale": {"domain": list(chart.series),
                                       "range": list(PALETTE[:len(chart.series)])},
                             "legend": {"orient": "top", "labelLimit": LABEL_LIMIT}}
        if chart.kind == "grouped_bars":
            encoding["yOffset"] = {"field": "series", "sort": list(chart.series)}
    else:
        mark["color"] = PALETTE[0]
    return {
        "width": WIDTH, "height": HEIGHT, "padding": 12, "background": "white",
        "autosize": {"type": "fit", "contains": "padding"},
        "title": {"text": chart.title, "subtitle": chart.subtitle, "anchor": "start"},
        "data": {"values": values}, "mark": mark, "encoding": encoding,
    }
