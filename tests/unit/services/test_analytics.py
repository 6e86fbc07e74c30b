"""Service rules with a fake unit of work: no database."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.fakes import FakeUnitOfWork, sales, store
from zava.errors import ValidationError
from zava.repositories.results import CustomerCounts, StockLevel
from zava.services import analytics

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork([store("Bellevue"), store("Redmond")])


async def test_store_performance_computes_growth_margin_and_insights(uow: FakeUnitOfWork) -> None:
    # last_30_days on 2026-11-23: [2026-10-25, 2026-11-24), previous [2026-09-25, 2026-10-25)
    now, before = dt.date(2026, 10, 25), dt.date(2026, 9, 25)
    grouped = uow.metrics.grouped
    grouped[now, ("store",)] = {("Bellevue",): sales("1200.00", orders=10, margin="480")}
    grouped[before, ("store",)] = {("Bellevue",): sales("1000.00")}
    grouped[now, ("store", "category")] = {("Bellevue", "Power Tools"): sales("1000.00"),
                                           ("Bellevue", "Garden & Outdoor"): sales("200.00")}
    grouped[before, ("store", "category")] = {("Bellevue", "Power Tools"): sales("500.00"),
                                              ("Bellevue", "Garden & Outdoor"): sales("500.00")}
    uow.customers.counts = [CustomerCounts("Bellevue", 8, 3, 5)]

    report = await analytics.store_performance(uow, period="last_30_days", today=TODAY)

    assert (report.start, report.end) == (dt.date(2026, 10, 25), TODAY)
    bellevue, redmond = report.stores
    assert bellevue.revenue == 1200.0 and bellevue.average_order_value == 120.0
    assert bellevue.gross_margin_percent == 40.0
    assert bellevue.revenue_growth_percent == 20.0
    assert (bellevue.best_category, bellevue.worst_category) == ("Power Tools", "Garden & Outdoor")
    assert (bellevue.customers, bellevue.new_customers) == (8, 3)
    assert "Revenue is up 20.0% on the previous period." in bellevue.insights
    assert "Power Tools jumped 100% against the previous period." in bellevue.insights
    assert "Garden & Outdoor fell 60% against the previous period." in bellevue.insights
    assert redmond.revenue == 0 and redmond.insights == ["Redmond has no sales in this period."]


async def test_store_filter_is_case_insensitive_and_limited_to_visible(uow: FakeUnitOfWork) -> None:
    report = await analytics.store_performance(
        uow, period="last_month", today=TODAY, store="redmond")
    assert [s.store for s in report.stores] == ["Redmond"]
    with pytest.raises(ValidationError, match="not one of your 2 stores; get_multiple_table_schemas"):
        await analytics.store_performance(uow, period="last_month", today=TODAY, store="Seattle")


async def test_unknown_period_names_the_valid_ones(uow: FakeUnitOfWork) -> None:
    with pytest.raises(ValidationError, match="unknown period 'fortnight'; use one of: last_7_days"):
        await analytics.store_performance(uow, period="fortnight", today=TODAY)


async def test_sales_trend_adds_year_over_year(uow: FakeUnitOfWork) -> None:
    uow.metrics.grouped[dt.date(2025, 10, 1), ("month",)] = {
        (dt.date(2025, 11, 1),): sales("100", 1, 2),
        (dt.date(2026, 11, 1),): sales("150", 2, 3),
        (dt.date(2026, 10, 1),): sales("90", 1, 1),
    }
    trend = await analytics.sales_trend(uow, months=2, today=TODAY)
    assert [p.month for p in trend.months] == ["2026-10", "2026-11"]
    assert trend.months[1].revenue_year_before == 100.0
    assert trend.months[1].year_over_year_percent == 50.0
    assert trend.months[0].year_over_year_percent is None
    assert (trend.months[1].orders, trend.months[1].units) == (2, 3)
    (request,) = uow.metrics.requests
    assert (request.measures, request.dimensions, request.start, request.end,
            request.filters) == (frozenset({"revenue", "orders", "units"}), ("month",),
                                 dt.date(2025, 10, 1), dt.date(2026, 11, 24), {})


async def test_top_products_validates_category_and_limit(uow: FakeUnitOfWork) -> None:
    with pytest.raises(ValidationError, match="unknown category; get_multiple_table_schemas"):
        await analytics.top_products(uow, period="last_month", today=TODAY, category="Toys")
    with pytest.raises(ValidationError, match="limit must be between 1 and 100"):
        await analytics.top_products(uow, period="last_month", today=TODAY, limit=0)
    result = await analytics.top_products(
        uow, period="last_month", today=TODAY, category="power tools")
    assert (result.start, result.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


async def test_low_stock_reports_truncation(uow: FakeUnitOfWork) -> None:
    uow.inventory.levels = [StockLevel("Bellevue", f"SKU-{i}", "x", "Power Tools", i)
                            for i in range(5)]
    result = await analytics.low_stock(uow, threshold=10, limit=3)
    assert [i.sku for i in result.items] == ["SKU-0", "SKU-1", "SKU-2"]
    assert result.truncated is True


async def test_table_schemas_lists_columns_and_valid_values(uow: FakeUnitOfWork) -> None:
    result = await analytics.table_schemas(uow, ["retail.orders", "ORDER_ITEMS"])
    orders, items = result.tables
    assert orders.table == "retail.orders"
    assert {c.name for c in orders.columns} >= {"store_id", "order_id", "order_date"}
    assert next(c for c in items.columns if c.name == "product_id").references == \
        "retail.products.product_id"
    assert result.store_names == ["Bellevue", "Redmond"]
    with pytest.raises(ValidationError, match=r"unknown table 'managers'; valid tables: retail\.stores"):
        await analytics.table_schemas(uow, ["managers"])
