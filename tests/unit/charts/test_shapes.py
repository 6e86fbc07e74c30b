"""The chart chosen from a result's shape: a line for a time series, bars for a ranking,
grouped bars for a comparison; titles with units; only the result's own labels."""

from __future__ import annotations

from tests.support import chart_data as results
from zava.charts import shapes
from zava.charts.chart import Chart, Point


def texts(chart: Chart) -> str:
    """Every piece of text a chart shows."""
    return " ".join([chart.title, chart.subtitle, chart.category_title, chart.value_title,
                     chart.series_title or "", *(p.x for p in chart.points),
                     *(p.series or "" for p in chart.points)])


def test_a_sales_trend_is_a_line_per_month_with_the_year_before() -> None:
    chart = shapes.sales_trend(results.trend(["Seattle"]))
    assert chart.kind == "line"
    assert chart.value_title == "Revenue (USD)" and chart.category_title == "Month"
    assert chart.series == ("Revenue", "Revenue a year before")
    assert [p.x for p in chart.points if p.series == "Revenue"][:2] == ["2025-01", "2025-02"]
    assert len(chart.points) == 24
    assert chart.subtitle == "Seattle · 2025-01 to 2025-12"


def test_a_trend_without_history_is_one_line() -> None:
    chart = shapes.sales_trend(results.trend(["Seattle"], year_before=False))
    assert chart.series == () and len(chart.points) == 12


def test_many_stores_are_counted_in_the_subtitle() -> None:
    names = ["Seattle", "Bellevue", "Tacoma", "Spokane", "Everett", "Redmond"]
    chart = shapes.sales_trend(results.trend(names))
    assert chart.subtitle.startswith("Seattle, Bellevue, Tacoma and 3 more stores")


def test_store_performance_ranks_stores_by_revenue() -> None:
    report = results.performance(results.store("Tacoma", 50.0), results.store("Seattle", 90.0),
                                 results.store("Kirkland", 70.0))
    chart = shapes.store_performance(report)
    assert chart.kind == "bars" and chart.category_title == "Store"
    assert chart.points == (Point("Seattle", 90.0), Point("Kirkland", 70.0),
                            Point("Tacoma", 50.0))


def test_one_store_ranks_its_categories() -> None:
    report = results.performance(results.store("Seattle", 90.0, {"Paint": 10.0,
                                                                  "Power Tools": 60.0}))
    chart = shapes.store_performance(report)
    assert chart.title == "Revenue by category" and "Seattle" in chart.subtitle
    assert [p.x for p in chart.points] == ["Power Tools", "Paint"]


def test_metrics_by_month_are_a_line() -> None:
    chart = shapes.metrics(results.metrics(["revenue"], ["month"], [
        {"month": "2025-01", "revenue": 5.0}, {"month": "2025-02", "revenue": 7.0}]))
    assert chart.kind == "line" and chart.title == "Revenue by month"
    assert chart.points == (Point("2025-01", 5.0), Point("2025-02", 7.0))


def test_metrics_by_month_and_store_are_a_line_per_store() -> None:
    chart = shapes.metrics(results.metrics(["orders"], ["month", "store"], [
        {"month": "2025-01", "store": "Seattle", "orders": 5},
        {"month": "2025-01", "store": "Tacoma", "orders": 3},
        {"month": "2025-02", "store": "Seattle", "orders": 6}], units={"orders": "orders"}))
    assert chart.kind == "line" and chart.series == ("Seattle", "Tacoma")
    assert chart.value_title == "Orders (orders)" and chart.series_title == "Store"


def test_metrics_by_store_are_ranked_bars() -> None:
    chart = shapes.metrics(results.metrics(["revenue"], ["store"], [
        {"store": "Bellevue", "revenue": 5.0}, {"store": "Seattle", "revenue": 9.0},
        {"store": "Tacoma", "revenue": None}]))
    assert chart.kind == "bars"
    assert chart.points == (Point("Seattle", 9.0), Point("Bellevue", 5.0))


def test_a_comparison_is_grouped_bars_by_period() -> None:
    chart = shapes.metrics(results.metrics(["gross_margin_percent"], ["store"], [
        {"store": "Seattle", "gross_margin_percent": 31.5,
         "gross_margin_percent_previous": 29.0},
        {"store": "Tacoma", "gross_margin_percent": 40.0,
         "gross_margin_percent_previous": None}],
        compare_to="previous_period", units={"gross_margin_percent": "percent"}))
    assert chart.kind == "grouped_bars" and chart.value_title == "Gross margin %"
    assert chart.series == (shapes.CURRENT, "Previous period")
    assert [p.x for p in chart.points] == ["Seattle", "Seattle", "Tacoma"]
    assert "vs 2024-01-01 to 2024-12-31" in chart.subtitle


def test_two_categorical_dimensions_are_grouped_bars() -> None:
    chart = shapes.metrics(results.metrics(["revenue"], ["store", "channel"], [
        {"store": "Seattle", "channel": "physical", "revenue": 5.0},
        {"store": "Online", "channel": "online", "revenue": 8.0}]))
    assert chart.kind == "grouped_bars" and chart.series == ("online", "physical")
    assert chart.series_title == "Online vs physical"


def test_weekdays_keep_their_order() -> None:
    rows: list[dict[str, str | int | float | None]] = [
        {"day_of_week": day, "revenue": value}
        for day, value in (("Monday", 1.0), ("Tuesday", 9.0), ("Wednesday", 4.0))]
    chart = shapes.metrics(results.metrics(["revenue"], ["day_of_week"], rows))
    assert chart.kind == "bars"
    assert [p.x for p in chart.points] == ["Monday", "Tuesday", "Wednesday"]


def test_no_dimension_is_one_bar_or_a_pair() -> None:
    assert shapes.metrics(results.metrics(["revenue"], [], [{"revenue": 3.0}])).points == (
        Point("Total", 3.0),)
    pair = shapes.metrics(results.metrics(["revenue"], [], [
        {"revenue": 3.0, "revenue_previous": 2.0}], compare_to="same_period_last_year"))
    assert pair.kind == "grouped_bars" and pair.series == (shapes.CURRENT, "A year before")


def test_long_rankings_keep_the_top_bars_and_say_so() -> None:
    rows: list[dict[str, str | int | float | None]] = [
        {"product": f"Product {i}", "revenue": float(i)} for i in range(50)]
    chart = shapes.metrics(results.metrics(["revenue"], ["product"], rows))
    assert len(chart.points) == shapes.MAX_BARS and chart.points[0].x == "Product 49"
    assert f"top {shapes.MAX_BARS} of 50" in chart.subtitle


def test_many_series_keep_the_largest() -> None:
    rows: list[dict[str, str | int | float | None]] = [
        {"month": "2025-01", "product": f"Product {i}", "revenue": float(i)} for i in range(12)]
    chart = shapes.metrics(results.metrics(["revenue"], ["month", "product"], rows))
    assert len(chart.series) == shapes.MAX_SERIES and "Product 0" not in chart.series
    assert f"the {shapes.MAX_SERIES} largest of 12 series" in chart.subtitle


def test_a_chart_shows_the_results_labels_never_the_callers_filters() -> None:
    chart = shapes.metrics(results.metrics(["revenue"], ["category"], [
        {"category": "Paint", "revenue": 4.0}], filters={"store": ["Bellevue"]}))
    assert "Bellevue" not in texts(chart) and "Paint" in texts(chart)
