"""query_metrics and zava://metrics through a real `zava serve` over stdio, as the Seattle
store manager and the Eastside regional manager; figures checked against SQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from mcp import ClientSession, stdio_client
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import stdio_server
from tests.e2e.server.expected import COUNTED, Expected
from zava.seeding import company

MANAGERS = [company.managers()[0], next(m for m in company.managers() if m.scope == "region")]


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_query_metrics_over_stdio(
    server_env: dict[str, str], seeded_admin_engine: AsyncEngine, manager: company.ManagerDef
) -> None:
    expected = Expected(seeded_admin_engine, manager)
    async with stdio_client(stdio_server(server_env, manager.manager_id)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            tool = tools["query_metrics"]
            assert tool.annotations and tool.annotations.read_only_hint and tool.output_schema
            assert "revenue" in (tool.description or "") and "zava://metrics" in (
                tool.description or "")

            result = await session.call_tool("query_metrics", {
                "metrics": ["revenue", "orders", "gross_margin_percent"],
                "group_by": ["store"], "period": "last_12_months",
                "compare_to": "previous_period", "order_by": "store"})
            assert not result.is_error, result.content[0].text
            data = result.structured_content
            assert data is not None
            revenue = await expected.revenue_per_store("last_12_months")
            assert {r["store"]: r["revenue"] for r in data["rows"]} == pytest.approx(
                {k: v for k, v in revenue.items() if v})
            assert [r["store"] for r in data["rows"]] == expected.store_names
            assert all("revenue_change_percent" in r for r in data["rows"])
            text = result.content[0].text
            assert "<untrusted-data" in text and "revenue (USD)" in text

            orders = await expected.rows(f"""
                SELECT count(*) FROM retail.orders o WHERE o.store_id = ANY(:ids)
                  AND {COUNTED} AND o.order_date >= :start AND o.order_date <= :end""",
                start=dt.date.fromisoformat(data["start"]),
                end=dt.date.fromisoformat(data["end"]))
            assert sum(r["orders"] for r in data["rows"]) == orders[0][0]

            other = next(s.name for s in company.stores()
                         if s.name not in expected.store_names)
            hidden = await session.call_tool("query_metrics", {
                "metrics": ["revenue", "stock_on_hand"], "filters": {"store": [other]}})
            assert not hidden.is_error
            assert hidden.structured_content is not None
            assert all(not r["revenue"] and not r["stock_on_hand"]
                       for r in hidden.structured_content["rows"])

            typo = await session.call_tool("query_metrics", {"metrics": ["revenu"]})
            assert typo.is_error and "did you mean revenue" in typo.content[0].text
            mismatch = await session.call_tool("query_metrics", {
                "metrics": ["stock_on_hand"], "group_by": ["day_of_week"]})
            assert mismatch.is_error and "no history" in mismatch.content[0].text

            catalog = json.loads((await session.read_resource("zava://metrics")).contents[0].text)
            assert {m["name"] for m in catalog["metrics"]} >= {"revenue", "days_of_stock_cover"}
            assert {d["name"] for d in catalog["dimensions"]} >= {"store", "day_of_week"}
