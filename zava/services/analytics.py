"""Analytics use cases: store performance, sales trend, top products, low stock, schema.

Each function receives a unit of work (it never makes one), enters it, and takes a
``today`` date, so the rules can be tested with a fake unit of work and a fixed date.
Store performance and the sales trend read the governed metrics
(``zava.services.sales_figures``); top products and low stock say why they do not.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

from zava.errors import ValidationError
from zava.repositories.results import StoreInfo
from zava.services import periods, sales_figures
from zava.services.insights import category_results, store_insights
from zava.services.reports import (
    ColumnDescription,
    LowStock,
    LowStockItem,
    MonthPoint,
    PerformanceReport,
    SalesTrend,
    StorePerformance,
    TableDescription,
    TableSchemas,
    TopProduct,
    TopProducts,
)
from zava.services.sales_figures import SalesFigures
from zava.services.unit_of_work import UnitOfWork


def _percent_change(now: Decimal, before: Decimal) -> float | None:
    if not before:
        return None
    return round(float((now - before) * 100 / before), 1)


async def _stores_in_scope(uow: UnitOfWork, store: str | None) -> list[StoreInfo]:
    """The caller's stores, or the one named (case-insensitive) if it is among them."""
    visible = await uow.stores.visible()
    if store is None:
        return visible
    chosen = [s for s in visible if s.name.lower() == store.strip().lower()]
    if not chosen:
        # Neither the database's names nor the argument go into an error: errors reach the
        # model outside the untrusted-data fence.
        raise ValidationError(
            f"that store is not one of your {len(visible)} stores; "
            "get_multiple_table_schemas lists their names")
    return chosen


def _ids(stores: list[StoreInfo]) -> list[uuid.UUID]:
    return [s.store_id for s in stores]


async def caller_scope(uow: UnitOfWork) -> str:
    """store, region or head_office: how far the caller sees."""
    async with uow:
        return await uow.stores.caller_scope()


async def visible_stores(uow: UnitOfWork) -> list[StoreInfo]:
    """The caller's stores, by name."""
    async with uow:
        return await uow.stores.visible()


async def store_performance(
    uow: UnitOfWork, *, period: str, today: dt.date, store: str | None = None
) -> PerformanceReport:
    """Revenue, orders, units, margin, growth and insights per store in scope.

    The sales figures are the catalog's metrics (revenue, orders, units, average order
    value, gross margin %) by store and by store and category, read through the metrics
    layer. Customers and new customers are not: they keep this tool's own definition
    (``CustomerRepository.activity``: customers with an order of any status, new if
    their first order of any status at the store is in the period), where the catalog's
    customer metrics count counted orders only, so its answers stay what they were.
    """
    async with uow:
        current, previous = periods.resolve(period, today)
        stores = await _stores_in_scope(uow, store)
        names = None if store is None else [s.name for s in stores]
        now = await sales_figures.read(uow, sales_figures.SALES, by=["store"],
                                       start=current.start, end=current.end, stores=names)
        before = await sales_figures.read(uow, ["revenue"], by=["store"],
                                          start=previous.start, end=previous.end, stores=names)
        categories_now = await _by_category(uow, current, names)
        categories_before = await _by_category(uow, previous, names)
        customers = {c.store: c for c in await uow.customers.activity(current.start, current.end)}
        days = (current.end - current.start).days
        report = []
        for s in stores:
            measures = now.get((s.name,))
            figures = sales_figures.figures(s.name, measures)
            previous_revenue = before.get((s.name,), {}).get("revenue", Decimal(0))
            categories = category_results(categories_now[s.name], categories_before[s.name])
            activity = customers.get(s.name)
            growth = _percent_change(figures.revenue, previous_revenue)
            report.append(StorePerformance(
                store=s.name,
                revenue=float(figures.revenue),
                orders=figures.orders,
                units=figures.units,
                average_order_value=float(
                    sales_figures.value("average_order_value", measures, days)),
                gross_margin_percent=float(
                    sales_figures.value("gross_margin_percent", measures, days)),
                previous_revenue=float(previous_revenue),
                revenue_growth_percent=growth,
                customers=activity.customers if activity else 0,
                new_customers=activity.new_customers if activity else 0,
                best_category=categories[0].category if categories else None,
                worst_category=categories[-1].category if len(categories) > 1 else None,
                categories=categories,
                insights=store_insights(s.name, figures, growth, categories),
            ))
        return PerformanceReport(
            period=current.name, start=current.start, end=current.end - dt.timedelta(days=1),
            previous_start=previous.start, previous_end=previous.end - dt.timedelta(days=1),
            stores=report,
        )


async def _by_category(uow: UnitOfWork, period: periods.Period,
                       stores: list[str] | None) -> dict[str, list[SalesFigures]]:
    """Each store's figures per category in ``period`` (revenue: the lines' totals)."""
    by_store: dict[str, list[SalesFigures]] = defaultdict(list)
    groups = await sales_figures.read(uow, sales_figures.SALES, by=["store", "category"],
                                      start=period.start, end=period.end, stores=stores)
    for (store, category), measures in groups.items():
        by_store[store].append(sales_figures.figures(category, measures))
    return by_store


async def sales_trend(
    uow: UnitOfWork, *, months: int, today: dt.date, store: str | None = None
) -> SalesTrend:
    """Monthly totals for the last ``months`` months (this one included), with YoY: the
    catalog's revenue, orders and units by month through the metrics layer, read once
    from a year before the first month so each month finds the same month a year back."""
    async with uow:
        if not 1 <= months <= 60:
            raise ValidationError("months must be between 1 and 60")
        stores = await _stores_in_scope(uow, store)
        first = periods.add_months(today.replace(day=1), -(months - 1))
        by_month = {key[0]: figures for key, figures in (await sales_figures.read(
            uow, ["revenue", "orders", "units"], by=["month"],
            start=periods.add_months(first, -12), end=today + dt.timedelta(days=1),
            stores=None if store is None else [s.name for s in stores])).items()}
        points = []
        for month in sorted(m for m in by_month if m >= first):
            now = by_month[month]
            year_before = by_month.get(month.replace(year=month.year - 1))
            points.append(MonthPoint(
                month=month.strftime("%Y-%m"),
                revenue=float(now["revenue"]),
                orders=int(now["orders"]),
                units=int(now["units"]),
                revenue_year_before=float(year_before["revenue"]) if year_before else None,
                year_over_year_percent=(
                    _percent_change(now["revenue"], year_before["revenue"])
                    if year_before else None),
            ))
        return SalesTrend(stores=[s.name for s in stores], months=points)


async def top_products(
    uow: UnitOfWork, *, period: str, today: dt.date, limit: int = 10,
    store: str | None = None, category: str | None = None,
) -> TopProducts:
    """The best-selling products by revenue in the period: the catalog's revenue and
    units at line grain (counted orders' lines), per SKU.

    Not read through the metrics layer: a best seller is a SKU, while the catalog's
    product dimension is the product's name (names are not unique), and the ranking is
    an ORDER BY ... LIMIT in SQL, where the layer would read every product sold and
    rank them here."""
    async with uow:
        if not 1 <= limit <= 100:
            raise ValidationError("limit must be between 1 and 100")
        current, _ = periods.resolve(period, today)
        stores = await _stores_in_scope(uow, store)
        if category is not None:
            await _require_category(uow, category)
        sales = await uow.sales.top_products(current.start, current.end, limit=limit,
                                             store_ids=_ids(stores), category=category)
        return TopProducts(
            period=current.name, start=current.start, end=current.end - dt.timedelta(days=1),
            stores=[s.name for s in stores],
            products=[TopProduct(rank=i, sku=p.sku, name=p.name, category=p.category,
                                 units=p.units, revenue=float(p.revenue))
                      for i, p in enumerate(sales, start=1)],
        )


async def low_stock(
    uow: UnitOfWork, *, threshold: int = 10, limit: int = 50,
    store: str | None = None, category: str | None = None,
) -> LowStock:
    """Products with fewer than ``threshold`` units on hand in the caller's stores.

    Not read through the metrics layer: these are inventory rows under a threshold,
    lowest first, cut at ``limit``; the layer sums stock by dimensions and neither
    filters nor orders on a measure, so it would read every store x product row (at
    head office beyond its 20,000-group cap) to keep a few."""
    async with uow:
        if not 1 <= threshold <= 10_000 or not 1 <= limit <= 500:
            raise ValidationError("threshold must be 1-10000 and limit 1-500")
        stores = await _stores_in_scope(uow, store)
        if category is not None:
            await _require_category(uow, category)
        rows = await uow.inventory.low_stock(below=threshold, limit=limit + 1,
                                             store_ids=_ids(stores), category=category)
        return LowStock(
            threshold=threshold,
            items=[LowStockItem(store=r.store, sku=r.sku, name=r.name, category=r.category,
                                stock_level=r.stock_level) for r in rows[:limit]],
            truncated=len(rows) > limit,
        )


async def _require_category(uow: UnitOfWork, category: str) -> None:
    names = await uow.products.categories()
    if category.strip().lower() not in {n.lower() for n in names}:
        raise ValidationError(
            f"unknown category; get_multiple_table_schemas lists the {len(names)} "
            "category names")


async def table_schemas(uow: UnitOfWork, table_names: list[str]) -> TableSchemas:
    """Columns, keys and valid values for the named tables, as the caller sees them."""
    async with uow:
        if not table_names:
            table_names = uow.schema.table_names()
        tables = uow.schema.describe(table_names)
        stores = await uow.stores.visible()
        return TableSchemas(
            tables=[
                TableDescription(
                    table=t.name, description=t.description,
                    columns=[ColumnDescription(name=c.name, type=c.data_type, nullable=c.nullable,
                                               primary_key=c.primary_key, references=c.references)
                             for c in t.columns],
                )
                for t in tables
            ],
            store_names=[s.name for s in stores],
            category_names=await uow.products.categories(),
            order_years=await uow.sales.order_years(),
        )
