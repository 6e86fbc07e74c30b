"""The chart for a tool result, chosen from the result's shape: a line for a time
series, bars for a ranking, grouped bars for a comparison. A chart holds only what the
result holds (already under row-level security): its labels are the result's own store,
category and period names, never the caller's arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeGuard, TypeVar

from zava.charts.chart import Chart, ChartKind, Point
from zava.services.metrics import MetricsResult, Value
from zava.services.metrics_catalog import DIMENSIONS, METRICS
from zava.services.reports import PerformanceReport, SalesTrend

MAX_BARS = 30
"""Categories drawn at most (the top ones); the subtitle says how many there were."""
MAX_SERIES = 8
"""Lines, or bars in a group, drawn at most (the largest ones)."""
MAX_NAMES = 4
"""Store names spelled out in a subtitle; more are counted."""

T = TypeVar("T")
_UNITS = {"percent": "%", "percentage points": "pp"}
_FORMATS = {"currency": ",.0f", "integer": ",.0f", "percent": ",.1f", "decimal": ",.1f"}
_PREVIOUS = {"previous_period": "Previous period", "same_period_last_year": "A year before"}
CURRENT = "This period"
NONE_LABEL = "(none)"


def value_title(label: str, unit: str) -> str:
    """An axis title with its unit: ``Revenue (USD)``, ``Gross margin %``."""
    shown = _UNITS.get(unit, unit)
    return label if label.endswith(shown) else f"{label} ({shown})"


def store_list(names: Sequence[str]) -> str:
    """Store names for a subtitle: all of a few, or the first ones and how many more."""
    if len(names) <= MAX_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:MAX_NAMES - 1])} and {len(names) - MAX_NAMES + 1} more stores"


def sales_trend(trend: SalesTrend) -> Chart:
    """``get_sales_trend``: monthly revenue as a line, with the year before when known."""
    before = [Point(m.month, m.revenue_year_before, "Revenue a year before")
              for m in trend.months if m.revenue_year_before is not None]
    series = "Revenue" if before else None
    points = [Point(m.month, m.revenue, series) for m in trend.months]
    span = f"{trend.months[0].month} to {trend.months[-1].month}" if trend.months else ""
    return Chart(kind="line", title="Monthly revenue",
                 subtitle=_join(store_list(trend.stores), span),
                 category_title="Month", value_title=value_title("Revenue", "USD"),
                 value_format=_FORMATS["currency"],
                 points=tuple(points + before))


def store_performance(report: PerformanceReport) -> Chart:
    """``get_store_performance``: stores ranked by revenue, or for one store its
    categories ranked by revenue."""
    period = f"{report.start} to {report.end}"
    if len(report.stores) == 1:
        (store,) = report.stores
        ranked = [Point(c.category, c.revenue) for c in store.categories]
        title, axis, subtitle = "Revenue by category", "Category", _join(store.store, period)
    else:
        ranked = [Point(s.store, s.revenue) for s in report.stores]
        title, axis, subtitle = "Revenue by store", "Store", period
    ranked.sort(key=lambda p: -p.y)
    shown, note = _top(ranked)
    return Chart(kind="bars", title=title, subtitle=_join(subtitle, note),
                 category_title=axis, value_title=value_title("Revenue", "USD"),
                 value_format=_FORMATS["currency"], points=tuple(shown))


def metrics(result: MetricsResult) -> Chart:
    """``query_metrics``: the first metric asked for. By a time dimension: a line (one
    per value of the other dimensions, or this period and the one compared with); by
    another dimension: bars ranked by value, grouped by the other dimensions or by
    period when compared; no dimension: one bar (or a pair)."""
    name = result.metrics[0]
    metric = METRICS[name]
    first = result.group_by[0] if result.group_by else None
    others = result.group_by[1:]
    previous = _PREVIOUS.get(result.compare_to or "")
    points: list[Point] = []
    for row in result.rows:
        x = _label(row.get(first)) if first else "Total"
        rest = " / ".join(_label(row.get(d)) for d in others) or None
        points += _row_points(x, rest, row.get(name), row.get(f"{name}_previous"), previous)
    timeline = first is not None and DIMENSIONS[first].time and first != "day_of_week"
    kind: ChartKind = "line" if timeline else (
        "grouped_bars" if others or previous else "bars")
    points, series_note = _largest_series(points)
    note = series_note
    if kind != "line":
        points, note = _ranked_groups(points, keep_order=first == "day_of_week")
        note = _join(note, series_note)
    period = f"{result.start} to {result.end}"
    if previous and result.previous_start and result.previous_end:
        period += f" vs {result.previous_start} to {result.previous_end}"
    return Chart(kind=kind, title=f"{metric.label} by {_dimension_label(first).lower()}"
                 if first else metric.label, subtitle=_join(period, note),
                 category_title=_dimension_label(first) if first else "",
                 value_title=value_title(metric.label, result.units.get(name, metric.unit)),
                 value_format=_FORMATS[metric.format], points=tuple(points),
                 series_title=" / ".join(_dimension_label(d) for d in others) or None)


def _row_points(x: str, series: str | None, now: Value, before: Value,
                previous: str | None) -> list[Point]:
    if series is not None or previous is None:
        return [Point(x, now, series)] if _is_number(now) else []
    return [Point(x, value, name) for name, value in ((CURRENT, now), (previous, before))
            if _is_number(value)]


def _is_number(value: Value) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _largest_series(points: list[Point]) -> tuple[list[Point], str]:
    totals: dict[str, float] = {}
    for p in points:
        if p.series is not None:
            totals[p.series] = totals.get(p.series, 0.0) + p.y
    if len(totals) <= MAX_SERIES:
        return points, ""
    kept = set(sorted(totals, key=lambda s: -totals[s])[:MAX_SERIES])
    return ([p for p in points if p.series in kept],
            f"the {MAX_SERIES} largest of {len(totals)} series")


def _ranked_groups(points: list[Point], keep_order: bool) -> tuple[list[Point], str]:
    """Bars by category, the largest group total first (or in the result's order)."""
    rank: dict[str, float] = {}
    for p in points:
        rank[p.x] = rank.get(p.x, 0.0) + p.y
    order = list(rank) if keep_order else sorted(rank, key=lambda x: -rank[x])
    kept, note = _top(order)
    position = {x: i for i, x in enumerate(kept)}
    chosen = [p for p in points if p.x in position]
    return sorted(chosen, key=lambda p: position[p.x]), note


def _top(items: list[T]) -> tuple[list[T], str]:
    if len(items) <= MAX_BARS:
        return items, ""
    return items[:MAX_BARS], f"top {MAX_BARS} of {len(items)}"


def _label(value: Value) -> str:
    return NONE_LABEL if value is None or value == "" else str(value)


def _dimension_label(name: str | None) -> str:
    return DIMENSIONS[name].label if name else ""


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)
