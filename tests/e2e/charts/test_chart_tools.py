"""chart=true through a real `zava serve` over stdio, as the Seattle store manager and as
head office: the PNG decodes at the chart's size with marks drawn, MCP Apps clients also
get the ui:// page (one mark per bar or point), the structured content is the same as
without a chart, and no chart names a store the caller may not see."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from mcp import ClientSession, stdio_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

from tests.e2e.conftest import stdio_server
from tests.support.chart_page import PageContents
from tests.support.png import decode, hex_colour
from zava.charts import specs
from zava.seeding import company

SEATTLE = company.managers()[0]
HEAD_OFFICE = next(m for m in company.managers() if m.scope == "head_office")
APPS = {EXTENSION_ID: {"mimeTypes": [APP_MIME_TYPE]}}
CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("get_sales_trend", {"months": 12}, "point"),
    ("get_store_performance", {"period": "last_12_months"}, "bar"),
    ("query_metrics", {"metrics": ["revenue"], "group_by": ["store"],
                       "period": "last_12_months", "compare_to": "previous_period"}, "bar"),
]


def hidden_stores(manager: company.ManagerDef) -> list[str]:
    visible = company.visible_stores(manager)
    return [s.name for s in company.stores() if s.store_id not in visible]


def same_answer(result: CallToolResult) -> dict[str, Any]:
    """The structured content but its provenance (whose trace id is per call)."""
    assert result.structured_content is not None
    return {k: v for k, v in result.structured_content.items() if k != "provenance"}


def chart_parts(result: CallToolResult) -> tuple[bytes, str | None]:
    """The PNG, and the page when there is one; both come after the text."""
    assert not result.is_error, result.content[0]
    images = [c for c in result.content if isinstance(c, ImageContent)]
    pages = [c.resource for c in result.content if isinstance(c, EmbeddedResource)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert isinstance(result.content[0], TextContent)
    for page in pages:
        assert isinstance(page, TextResourceContents) and page.mime_type == APP_MIME_TYPE
        assert page.uri.startswith("ui://zava/charts/")
    text = pages[0].text if pages and isinstance(pages[0], TextResourceContents) else None
    return base64.b64decode(images[0].data), text


def expected_marks(tool: str, data: dict[str, Any]) -> int:
    if tool == "get_sales_trend":
        return sum(1 + (m["revenue_year_before"] is not None) for m in data["months"])
    if tool == "get_store_performance":
        stores = data["stores"]
        return len(stores[0]["categories"]) if len(stores) == 1 else len(stores)
    return sum((r["revenue"] is not None) + (r["revenue_previous"] is not None)
               for r in data["rows"])


@pytest.mark.slow
@pytest.mark.parametrize("manager", [SEATTLE, HEAD_OFFICE], ids=lambda m: m.name)
async def test_charts_over_stdio(server_env: dict[str, str],
                                 manager: company.ManagerDef) -> None:
    hidden = hidden_stores(manager)
    async with stdio_client(stdio_server(server_env, manager.manager_id)) as (read, write):
        async with ClientSession(read, write, extensions=APPS) as session:
            await session.initialize()
            for tool, arguments, mark in CALLS:
                plain = await session.call_tool(tool, arguments)
                charted = await session.call_tool(tool, {**arguments, "chart": True})
                assert same_answer(charted) == same_answer(plain), tool
                png, page = chart_parts(charted)
                picture = decode(png)
                assert (picture.width, picture.height) == (specs.WIDTH, specs.HEIGHT)
                assert picture.count(hex_colour(specs.PALETTE[0])) > 100, tool
                assert page is not None
                contents = PageContents(page)
                data = charted.structured_content
                assert data is not None
                assert contents.marks.get(mark) == expected_marks(tool, data), tool
                assert not [name for name in hidden if name in page], tool
                if tool == "query_metrics":  # bars labelled with the caller's stores
                    assert all(str(row["store"]) in page for row in data["rows"])


@pytest.mark.slow
async def test_clients_without_apps_get_the_png_only(server_env: dict[str, str]) -> None:
    async with stdio_client(stdio_server(server_env, SEATTLE.manager_id)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("get_sales_trend", {"chart": True})
            png, page = chart_parts(result)
            assert page is None and decode(png).width == specs.WIDTH
            assert not [c for c in result.content if isinstance(c, EmbeddedResource)]
