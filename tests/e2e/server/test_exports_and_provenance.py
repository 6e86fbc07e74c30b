"""Provenance on every typed result and export links for capped ones, through real
`zava serve` processes over stdio sharing one ZAVA_EXPORT_SECRET (as a fleet's workers
do): the caller reads every row of their link under RLS, another manager is refused,
an expired or altered link is refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import ClientSession, stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ResourceLink, TextContent
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import stdio_server
from tests.e2e.server.expected import COUNTED, Expected
from zava.security.export_links import ExportGrant, sign
from zava.seeding import company

SECRET = "e2e-export-secret-0123456789abcdef"
MAX_ROWS = 5
STORE_MANAGER, OTHER_MANAGER = company.managers()[0], company.managers()[1]
REGIONAL = next(m for m in company.managers() if m.scope == "region")
ORDERS_SQL = "SELECT order_id, order_date, total_amount FROM retail.orders"


@asynccontextmanager
async def session_as(env: dict[str, str], manager: company.ManagerDef,
                     **settings: str) -> AsyncIterator[ClientSession]:
    """An initialised session with a `zava serve` acting for ``manager`` (``settings``:
    more ZAVA_ variables)."""
    env = {**env, "ZAVA_EXPORT_SECRET": SECRET, "ZAVA_MAX_ROWS": str(MAX_ROWS), **settings}
    async with stdio_client(stdio_server(env, manager.manager_id)) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, **arguments: Any) -> CallToolResult:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content[0]
    assert result.structured_content is not None
    return result


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def link_of(result: CallToolResult) -> str:
    links = [c for c in result.content if isinstance(c, ResourceLink)]
    assert len(links) == 1 and links[0].mime_type == "text/csv"
    uri = str(links[0].uri)
    assert uri.startswith("zava://exports/") and uri.endswith(".csv")
    return uri


async def read_csv(session: ClientSession, uri: str) -> list[list[str]]:
    contents = (await session.read_resource(uri)).contents
    body = getattr(contents[0], "text", None)
    assert isinstance(body, str)
    return list(csv.reader(io.StringIO(body, newline="")))


async def newest_order(expected: Expected) -> str:
    rows = await expected.rows(
        "SELECT max(order_date) FROM retail.orders o WHERE o.store_id = ANY(:ids)")
    return str(rows[0][0])


@pytest.mark.parametrize("manager", [STORE_MANAGER, REGIONAL], ids=lambda m: m.name)
async def test_every_typed_result_carries_provenance(
        server_env: dict[str, str], seeded_admin_engine: AsyncEngine,
        manager: company.ManagerDef) -> None:
    expected = Expected(seeded_admin_engine, manager)
    as_of = await newest_order(expected)
    today = dt.datetime.now(dt.UTC).date()
    calls: list[tuple[str, dict[str, Any], set[str]]] = [
        ("get_store_performance", {"period": "last_30_days"}, {"start", "end"}),
        ("get_sales_trend", {"months": 3}, {"start", "end"}),
        ("get_top_products", {"period": "year_to_date", "category": "Power Tools"},
         {"start", "end", "filters"}),
        ("get_low_stock", {"threshold": 5}, set()),
        ("query_metrics", {"metrics": ["revenue", "orders"], "period": "last_7_days"},
         {"start", "end"}),
        ("execute_sales_query", {"postgresql_query": "SELECT 1 AS one"}, {"sql_hash"}),
    ]
    async with session_as(server_env, manager) as session:
        for tool, arguments, dated in calls:
            result = await call(session, tool, **arguments)
            assert result.structured_content is not None
            made = result.structured_content["provenance"]
            assert made["as_of"] == as_of, tool
            assert len(made["trace_id"]) >= 12 and dated <= made.keys(), (tool, made)
            if "end" in dated:
                assert dt.date.fromisoformat(made["start"]) <= today
                assert made["end"] == str(today)
            assert bool(made.get("metrics")) != ("sql_hash" in made), made
            last = text_of(result).splitlines()[-1]
            assert last.startswith("source: ") and last.endswith(f"trace {made['trace_id']}")
            assert f"data as of {as_of}" in last
            assert not any(isinstance(c, ResourceLink) for c in result.content)
        top = await call(session, "get_top_products", category="Power Tools")
        assert top.structured_content is not None
        assert top.structured_content["provenance"]["filters"] == {"category": ["Power Tools"]}
        assert "Power Tools" not in text_of(top).splitlines()[-1]


async def test_a_cached_answer_says_so_with_its_age(server_env: dict[str, str]) -> None:
    async with session_as(server_env, STORE_MANAGER, ZAVA_QUERY_CACHE_TTL_S="300") as session:
        first, again = [await call(session, "execute_sales_query",
                                   postgresql_query="SELECT count(*) FROM retail.orders")
                        for _ in range(2)]
    assert first.structured_content is not None and again.structured_content is not None
    made, reused = first.structured_content["provenance"], again.structured_content["provenance"]
    assert "cached" not in made and reused["cached"] is True and reused["cache_age_s"] >= 0
    assert reused["as_of"] == made["as_of"] and reused["sql_hash"] == made["sql_hash"]
    assert reused["trace_id"] != made["trace_id"]
    assert " · cached " in text_of(again).splitlines()[-1]


async def test_a_capped_query_exports_every_row_to_its_caller_only(
        server_env: dict[str, str], seeded_admin_engine: AsyncEngine) -> None:
    expected = Expected(seeded_admin_engine, STORE_MANAGER)
    mine = {str(r[0]) for r in await expected.rows(
        "SELECT order_id FROM retail.orders o WHERE o.store_id = ANY(:ids)")}
    assert len(mine) > MAX_ROWS
    async with session_as(server_env, STORE_MANAGER) as session:
        result = await call(session, "execute_sales_query", postgresql_query=ORDERS_SQL)
        assert result.structured_content is not None
        assert result.structured_content["truncated"]
        assert result.structured_content["row_count"] == MAX_ROWS
        assert result.structured_content["provenance"]["row_cap"] == MAX_ROWS
        assert f"cut at {MAX_ROWS} rows" in text_of(result).splitlines()[-1]
        uri = link_of(result)
        table = await read_csv(session, uri)
        assert table[0] == ["order_id", "order_date", "total_amount"]
        assert len(table) - 1 == len(mine) and {r[0] for r in table[1:]} == mine
        assert await read_csv(session, uri) == table  # readable again until it expires

        expired = sign(ExportGrant(STORE_MANAGER.manager_id, "execute_sales_query",
                                   {"sql": ORDERS_SQL}, int(time.time()) - 1), SECRET.encode())
        with pytest.raises(MCPError, match="export_refused: this export link has expired"):
            await read_csv(session, f"zava://exports/{expired}.csv")
        altered = uri.replace("zava://exports/", "zava://exports/A", 1)
        with pytest.raises(MCPError, match=r"export_refused: .*not valid"):
            await read_csv(session, altered)

    async with session_as(server_env, STORE_MANAGER) as another_worker:
        assert await read_csv(another_worker, uri) == table  # any process with the key
    async with session_as(server_env, OTHER_MANAGER) as other:
        with pytest.raises(MCPError, match=r"export_refused: .*made for another manager"):
            await read_csv(other, uri)


async def test_the_guard_runs_again_when_a_link_is_read(
        server_env: dict[str, str]) -> None:
    """A link signed with the fleet's key for a statement the guard refuses (only a key
    holder could make one) still runs nothing."""
    grant = ExportGrant(STORE_MANAGER.manager_id, "execute_sales_query",
                        {"sql": "DELETE FROM retail.orders"}, int(time.time()) + 60)
    async with session_as(server_env, STORE_MANAGER) as session:
        with pytest.raises(MCPError, match="query_rejected"):
            await read_csv(session, f"zava://exports/{sign(grant, SECRET.encode())}.csv")


async def test_capped_metrics_export_every_group(
        server_env: dict[str, str], seeded_admin_engine: AsyncEngine) -> None:
    expected = Expected(seeded_admin_engine, REGIONAL)
    async with session_as(server_env, REGIONAL) as session:
        result = await call(session, "query_metrics", metrics=["orders", "revenue"],
                            group_by=["store", "month"], period="last_12_months", limit=2)
        data = result.structured_content
        assert data is not None and data["truncated"] and len(data["rows"]) == 2
        assert data["provenance"]["row_cap"] == 2
        table = await read_csv(session, link_of(result))
    assert table[0] == ["store", "month", "orders", "revenue"]
    groups = await expected.rows(f"""
        SELECT count(*), sum(n) FROM (
            SELECT o.store_id, date_trunc('month', o.order_date), count(*) AS n
            FROM retail.orders o WHERE o.store_id = ANY(:ids) AND {COUNTED}
              AND o.order_date >= :start AND o.order_date <= :end GROUP BY 1, 2) AS g""",
        start=dt.date.fromisoformat(data["start"]), end=dt.date.fromisoformat(data["end"]))
    assert len(table) - 1 == groups[0][0]
    assert sum(int(row[2]) for row in table[1:]) == groups[0][1]
    assert {row[0] for row in table[1:]} <= set(expected.store_names)
