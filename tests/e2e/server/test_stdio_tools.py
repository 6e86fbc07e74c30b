"""Every tool, resource and prompt through a real `zava serve` subprocess over stdio, as
three scopes, on both protocol versions; answers checked against independent SQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from mcp import Client, ClientSession, stdio_client
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import stdio_server
from tests.e2e.server.expected import Expected
from zava.seeding import company

SCOPES = [
    company.managers()[0],  # Seattle store manager
    next(m for m in company.managers() if m.scope == "region"),
    next(m for m in company.managers() if m.scope == "head_office"),
]
TOOLS = {
    "get_multiple_table_schemas", "execute_sales_query", "explain_sales_query",
    "semantic_search_products", "get_current_utc_date", "get_store_performance",
    "get_sales_trend", "get_top_products", "get_low_stock", "health_check", "query_metrics",
}


async def call(session: Any, name: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content  # type: ignore[no-any-return]


async def exercise(session: Any, expected: Expected) -> None:
    tools = (await session.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    assert all(t.annotations and t.annotations.read_only_hint for t in tools)
    assert all(t.output_schema for t in tools)

    schemas = await call(session, "get_multiple_table_schemas", table_names=["retail.orders"])
    assert schemas["store_names"] == expected.store_names
    assert [t["table"] for t in schemas["tables"]] == ["retail.orders"]

    query = await call(session, "execute_sales_query", postgresql_query=(
        "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id) "
        "GROUP BY s.name ORDER BY s.name"))
    assert query["rows"] == await expected.orders_per_store()
    assert query["truncated"] is False and query["row_count"] == len(query["rows"])

    plan = await call(session, "explain_sales_query",
                      postgresql_query="SELECT count(*) FROM retail.orders")
    assert plan["plan"] and "Aggregate" in plan["plan"][0]

    performance = await call(session, "get_store_performance", period="last_12_months")
    revenue = await expected.revenue_per_store("last_12_months")
    assert {s["store"]: s["revenue"] for s in performance["stores"]} == pytest.approx(revenue)

    top = await call(session, "get_top_products", period="last_12_months", limit=5)
    assert [p["sku"] for p in top["products"]] == await expected.top_skus("last_12_months", 5)

    low = await call(session, "get_low_stock", threshold=10)
    assert [[i["store"], i["sku"], i["stock_level"]] for i in low["items"]] == \
        await expected.low_stock(10)

    trend = await call(session, "get_sales_trend", months=3)
    assert trend["stores"] == expected.store_names and len(trend["months"]) <= 3

    found = await call(session, "semantic_search_products",
                       query_description="something to keep rain off the patio furniture",
                       max_rows=5, similarity_threshold=10)
    assert found["products"]
    stock = await expected.units_on_hand([p["sku"] for p in found["products"]])
    assert all(p["units_in_your_stores"] == stock.get(p["sku"], 0) for p in found["products"])

    today = await call(session, "get_current_utc_date")
    assert today["utc_date"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert (await call(session, "health_check"))["status"] == "ok"

    stores = await session.read_resource("zava://stores")
    assert expected.store_names == sorted(s["name"] for s in json.loads(stores.contents[0].text))
    prompts = (await session.list_prompts()).prompts
    assert {p.name for p in prompts} == {
        "store_performance_review", "category_deep_dive", "find_similar_products"}
    templates = (await session.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [
        "zava://schema/{table}", "zava://exports/{export_id}.csv"]


@pytest.mark.parametrize("manager", SCOPES, ids=lambda m: m.name)
async def test_every_tool_over_stdio_2025_11_25(
    server_env: dict[str, str], seeded_admin_engine: AsyncEngine, manager: company.ManagerDef
) -> None:
    async with stdio_client(stdio_server(server_env, manager.manager_id)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await exercise(session, Expected(seeded_admin_engine, manager))


@pytest.mark.parametrize("manager", SCOPES, ids=lambda m: m.name)
async def test_every_tool_over_stdio_2026_07_28(
    server_env: dict[str, str], seeded_admin_engine: AsyncEngine, manager: company.ManagerDef
) -> None:
    async with Client(stdio_server(server_env, manager.manager_id)) as client:
        await exercise(client, Expected(seeded_admin_engine, manager))
