"""Typed tools for the questions managers ask most: performance, trend, best sellers,
low stock. Parameterised alternatives to writing SQL."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from zava.charts import shapes
from zava.server import renderers
from zava.server.calls import tool_call
from zava.server.chart_results import ChartFlag, with_chart
from zava.server.sql_tools import READ_ONLY
from zava.server.state import ServerState, ToolContext
from zava.services import analytics, periods
from zava.services.periods import PeriodName
from zava.services.provenance import of_metrics
from zava.services.reports import LowStock, PerformanceReport, SalesTrend, TopProducts

Store = Annotated[str | None, Field(
    description="Your store's name; omit for all", max_length=100)]
Category = Annotated[str | None, Field(description="A category name; omit for all",
                                       max_length=100)]
PeriodArg = Annotated[PeriodName, Field(description="Reporting period, ending today (UTC)")]
PERFORMANCE = ("revenue", "orders", "units", "average_order_value", "gross_margin_percent",
               "customers", "new_customers")
"""The catalog metrics get_store_performance reports (its provenance)."""


def register(server: MCPServer[ServerState]) -> None:
    """Add the business tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def get_store_performance(
        ctx: ToolContext, period: PeriodArg = "last_30_days", store: Store = None,
        chart: ChartFlag = False,
    ) -> Annotated[CallToolResult, PerformanceReport]:
        """Revenue, orders, units, average order value, gross margin, customers and growth
        vs the previous period for each of your stores, with category results and
        plain-language insights."""
        async with tool_call(ctx, "get_store_performance") as call:
            report = await analytics.store_performance(
                call.witnessed_unit(), period=period, today=call.runtime.today(), store=store)
            call.rows = len(report.stores)
            result = call.respond(report, renderers.performance(report), provenance=of_metrics(
                PERFORMANCE, start=report.start, end=report.end, store=store))
            return await with_chart(ctx, result, shapes.store_performance(report)) if chart \
                else result

    @server.tool(annotations=READ_ONLY)
    async def get_sales_trend(
        ctx: ToolContext,
        months: Annotated[int, Field(ge=1, le=60, description="Months back, this one included")]
        = 12,
        store: Store = None, chart: ChartFlag = False,
    ) -> Annotated[CallToolResult, SalesTrend]:
        """Monthly revenue, orders and units with year-over-year change, for your stores
        (or one of them)."""
        async with tool_call(ctx, "get_sales_trend") as call:
            trend = await analytics.sales_trend(
                call.witnessed_unit(), months=months, today=call.runtime.today(), store=store)
            call.rows = len(trend.months)
            result = call.respond(trend, renderers.trend(trend), provenance=of_metrics(
                ("revenue", "orders", "units"), store=store, end=call.runtime.today(),
                start=periods.add_months(call.runtime.today().replace(day=1), 1 - months)))
            return await with_chart(ctx, result, shapes.sales_trend(trend)) if chart else result

    @server.tool(annotations=READ_ONLY)
    async def get_top_products(
        ctx: ToolContext, period: PeriodArg = "last_30_days",
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        store: Store = None, category: Category = None,
    ) -> Annotated[CallToolResult, TopProducts]:
        """Best-selling products by revenue in a period, in your stores."""
        async with tool_call(ctx, "get_top_products") as call:
            top = await analytics.top_products(
                call.witnessed_unit(), period=period, today=call.runtime.today(), limit=limit,
                store=store, category=category)
            call.rows = len(top.products)
            return call.respond(top, renderers.top_products(top), provenance=of_metrics(
                ("revenue", "units"), start=top.start, end=top.end, store=store,
                category=category))

    @server.tool(annotations=READ_ONLY)
    async def get_low_stock(
        ctx: ToolContext,
        threshold: Annotated[int, Field(ge=1, le=10_000, description="Report stock below this")]
        = 10,
        store: Store = None, category: Category = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> Annotated[CallToolResult, LowStock]:
        """Products running low (stock below the threshold) in your stores, lowest first."""
        async with tool_call(ctx, "get_low_stock") as call:
            low = await analytics.low_stock(call.witnessed_unit(), threshold=threshold,
                                            limit=limit, store=store, category=category)
            call.rows = len(low.items)
            return call.respond(low, renderers.low_stock(low), provenance=of_metrics(
                ("stock_on_hand",), store=store, category=category,
                row_cap=limit if low.truncated else None))
