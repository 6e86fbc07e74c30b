"""Typed tools for the questions managers ask most: performance, trend, best sellers,
low stock. Parameterised alternatives to writing SQL."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from zava.server.calls import tool_call
from zava.server.rendering import fence, table
from zava.server.sql_tools import READ_ONLY
from zava.services import analytics
from zava.services.periods import PeriodName
from zava.services.reports import LowStock, PerformanceReport, SalesTrend, TopProducts

Store = Annotated[str | None, Field(
    description="One of your store names; omit for all your stores", max_length=100)]
Category = Annotated[str | None, Field(description="A category name; omit for all",
                                       max_length=100)]
PeriodArg = Annotated[PeriodName, Field(description="Reporting period, ending today (UTC)")]


def _growth(percent: float | None) -> str:
    return "n/a" if percent is None else f"{percent:+.1f}%"


def register(server: MCPServer) -> None:
    """Add the business tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def get_store_performance(
        ctx: Context, period: PeriodArg = "last_30_days", store: Store = None,
    ) -> Annotated[CallToolResult, PerformanceReport]:
        """Revenue, orders, units, average order value, gross margin, customers and growth
        vs the previous period for each of your stores, with category results and
        plain-language insights."""
        async with tool_call(ctx, "get_store_performance") as call:
            async with call.runtime.unit(call.caller) as uow:
                report = await analytics.store_performance(
                    uow, period=period, today=call.runtime.today(), store=store)
            call.rows = len(report.stores)
            rows = [[s.store, f"{s.revenue:.2f}", s.orders, s.units,
                     f"{s.average_order_value:.2f}", f"{s.gross_margin_percent:.1f}%",
                     _growth(s.revenue_growth_percent), " ".join(s.insights)]
                    for s in report.stores]
            text = f"{report.period}: {report.start} to {report.end}\n" + table(
                ["store", "revenue", "orders", "units", "avg order", "margin", "growth",
                 "insights"], rows)
            return call.respond(report, fence(text))

    @server.tool(annotations=READ_ONLY)
    async def get_sales_trend(
        ctx: Context,
        months: Annotated[int, Field(ge=1, le=60, description="Months back, this one included")]
        = 12,
        store: Store = None,
    ) -> Annotated[CallToolResult, SalesTrend]:
        """Monthly revenue, orders and units with year-over-year change, for your stores
        (or one of them)."""
        async with tool_call(ctx, "get_sales_trend") as call:
            async with call.runtime.unit(call.caller) as uow:
                trend = await analytics.sales_trend(
                    uow, months=months, today=call.runtime.today(), store=store)
            call.rows = len(trend.months)
            rows = [[m.month, f"{m.revenue:.2f}", m.orders, m.units,
                     _growth(m.year_over_year_percent)] for m in trend.months]
            return call.respond(
                trend, fence(table(["month", "revenue", "orders", "units", "yoy"], rows)))

    @server.tool(annotations=READ_ONLY)
    async def get_top_products(
        ctx: Context, period: PeriodArg = "last_30_days",
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        store: Store = None, category: Category = None,
    ) -> Annotated[CallToolResult, TopProducts]:
        """Best-selling products by revenue in a period, in your stores."""
        async with tool_call(ctx, "get_top_products") as call:
            async with call.runtime.unit(call.caller) as uow:
                top = await analytics.top_products(
                    uow, period=period, today=call.runtime.today(), limit=limit,
                    store=store, category=category)
            call.rows = len(top.products)
            rows = [[p.rank, p.sku, p.name, p.category, p.units, f"{p.revenue:.2f}"]
                    for p in top.products]
            return call.respond(top, fence(f"{top.period}: {top.start} to {top.end}\n" + table(
                ["rank", "sku", "name", "category", "units", "revenue"], rows)))

    @server.tool(annotations=READ_ONLY)
    async def get_low_stock(
        ctx: Context,
        threshold: Annotated[int, Field(ge=1, le=10_000, description="Report stock below this")]
        = 10,
        store: Store = None, category: Category = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> Annotated[CallToolResult, LowStock]:
        """Products running low (stock below the threshold) in your stores, lowest first."""
        async with tool_call(ctx, "get_low_stock") as call:
            async with call.runtime.unit(call.caller) as uow:
                low = await analytics.low_stock(uow, threshold=threshold, limit=limit,
                                                store=store, category=category)
            call.rows = len(low.items)
            rows = [[i.store, i.sku, i.name, i.category, i.stock_level] for i in low.items]
            return call.respond(
                low, fence(table(["store", "sku", "name", "category", "stock"], rows)))
