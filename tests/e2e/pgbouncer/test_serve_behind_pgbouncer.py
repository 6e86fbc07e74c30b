"""`zava serve` with DATABASE_URL pointing at a real PgBouncer in transaction mode (two
server connections): tool calls from several managers at once, each answered with only
that manager's stores, over HTTP and over stdio."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import http_server, stdio_server
from tests.support.pgbouncer import PgBouncer, running_pgbouncer
from zava.provision.embedded import APP_ROLE, EmbeddedCluster
from zava.security.identity import hash_token
from zava.seeding import company

TOKENS = {company.SEATTLE_MANAGER_ID: "zava_test_pgb_seattle",
          company.BELLEVUE_MANAGER_ID: "zava_test_pgb_bellevue",
          company.HEAD_OFFICE_ID: "zava_test_pgb_head_office"}
ORDERS_PER_STORE = ("SELECT s.name, count(*) FROM retail.orders o "
                    "JOIN retail.stores s USING (store_id) GROUP BY s.name ORDER BY s.name")


@pytest.fixture(scope="module")
def bouncer(seeded_database: EmbeddedCluster) -> Iterator[PgBouncer]:
    with running_pgbouncer(seeded_database, pool_size=2) as running:
        yield running


@pytest.fixture(scope="module")
def pooled_env(server_env: dict[str, str], bouncer: PgBouncer,
               seeded_database: EmbeddedCluster) -> dict[str, str]:
    """The server's environment with its database behind PgBouncer."""
    url = bouncer.url(APP_ROLE, seeded_database.database).replace("+asyncpg", "")
    return dict(server_env, DATABASE_URL=url, ZAVA_DATABASE_POOLER="pgbouncer",
                ZAVA_POOL_SIZE="6", ZAVA_POOL_MAX_OVERFLOW="0")


async def _orders_per_store(base: str, token: str) -> list[list[Any]]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                  timeout=60) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("execute_sales_query",
                                         {"postgresql_query": ORDERS_PER_STORE})
        assert not result.is_error, result.content[0].text
        assert result.structured_content is not None
        rows: list[list[Any]] = result.structured_content["rows"]
        return rows


async def test_http_tool_calls_of_several_managers_at_once(
    pooled_env: dict[str, str], tmp_path: Path, bouncer: PgBouncer,
    seeded_database: EmbeddedCluster
) -> None:
    env = dict(pooled_env, ZAVA_TOKENS=",".join(
        f"{manager} {hash_token(token)}" for manager, token in TOKENS.items()))
    with http_server(env, tmp_path / "serve.log") as base:
        assert httpx2.get(base + "/ready", timeout=10).status_code == 200
        callers = list(TOKENS.items()) * 4
        answers = await asyncio.gather(*(_orders_per_store(base, token)
                                         for _, token in callers))
    for (manager, _), rows in zip(callers, answers, strict=True):
        names = [row[0] for row in rows]
        if manager == company.HEAD_OFFICE_ID:
            assert len(names) == len(company.stores())
        else:
            assert names == ["Seattle" if manager == company.SEATTLE_MANAGER_ID
                             else "Bellevue"]
    # They went through PgBouncer (not around it, to the embedded cluster's socket).
    assert f"login attempt: db={seeded_database.database} user={APP_ROLE}" in \
        bouncer.log.read_text()


async def test_stdio_tool_call(pooled_env: dict[str, str]) -> None:
    server = stdio_server(pooled_env, company.SEATTLE_MANAGER_ID)
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("get_store_performance",
                                         {"period": "last_12_months"})
        assert not result.is_error, result.content[0].text
        assert result.structured_content is not None
        assert [s["store"] for s in result.structured_content["stores"]] == ["Seattle"]
