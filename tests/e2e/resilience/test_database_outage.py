"""A real `zava serve` (stdio and HTTP) while its PostgreSQL is stopped, restarted, has a
backend killed under a query, or a call is abandoned by the client: clean errors, no
crash, no leaked connections, and service again without a restart."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.e2e.server.test_http import start_server, stop
from tests.support.embedded_replica import start_postgres, stop_postgres
from tests.support.own_cluster import (
    HEAVY_QUERY,
    admin_connection,
    app_backends,
    heavy_query_running,
    wait_for_heavy_query,
)
from zava.provision.embedded import EmbeddedCluster
from zava.security.identity import hash_token
from zava.seeding import company

COUNT_ORDERS = {"postgresql_query": "SELECT count(*) FROM retail.orders"}
POOL_SIZE = 2


@pytest.fixture(scope="module")
def env(own_cluster: EmbeddedCluster) -> dict[str, str]:
    """A server on the module's cluster (as an external database), retrying for 3 s."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZAVA_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=own_cluster.app_url, ZAVA_LOG_LEVEL="WARNING",
               HF_HUB_OFFLINE="1", ZAVA_CONNECT_RETRY_SECONDS="3",
               ZAVA_POOL_SIZE=str(POOL_SIZE), ZAVA_POOL_MAX_OVERFLOW="0",
               ZAVA_CACHE_TTL_S="0")
    return env


def _stdio(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(company.HEAD_OFFICE_ID)], env=env)


def _text(result: Any) -> str:
    return str(result.content[0].text)


async def _stop(cluster: EmbeddedCluster) -> None:
    await asyncio.to_thread(stop_postgres, cluster.data_dir, "fast")


async def _start(cluster: EmbeddedCluster) -> None:
    await asyncio.to_thread(start_postgres, cluster.data_dir, cluster.socket_dir, cluster.port)


async def test_tools_say_database_unavailable_while_it_is_down_and_serve_again_after(
    own_cluster: EmbeddedCluster, env: dict[str, str]
) -> None:
    async with stdio_client(_stdio(env)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        before = await session.call_tool("execute_sales_query", COUNT_ORDERS)
        assert not before.is_error, _text(before)
        await _stop(own_cluster)
        try:
            for tool, arguments in [("execute_sales_query", COUNT_ORDERS),
                                    ("get_sales_trend", {"months": 3}),
                                    ("execute_sales_query", COUNT_ORDERS)]:
                down = await session.call_tool(tool, arguments)
                assert down.is_error
                assert "database_unavailable: " in _text(down), _text(down)
                assert "try again" in _text(down) and "Traceback" not in _text(down)
            health = await session.call_tool("health_check", {})
            assert not health.is_error and health.structured_content["status"] == "degraded"
        finally:
            await _start(own_cluster)
        after = await session.call_tool("execute_sales_query", COUNT_ORDERS)
        assert not after.is_error, _text(after)
        assert after.structured_content["rows"] == before.structured_content["rows"]
        assert len(await app_backends(own_cluster)) <= POOL_SIZE


async def test_a_call_made_while_it_restarts_succeeds_within_the_retry_window(
    own_cluster: EmbeddedCluster, env: dict[str, str]
) -> None:
    async with stdio_client(_stdio(env)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        assert not (await session.call_tool("execute_sales_query", COUNT_ORDERS)).is_error
        await _stop(own_cluster)
        call = asyncio.create_task(session.call_tool("execute_sales_query", COUNT_ORDERS))
        await asyncio.sleep(0.2)  # the call is now retrying its connection
        await _start(own_cluster)
        result = await call
        assert not result.is_error, _text(result)


async def test_a_backend_killed_under_a_tool_call_fails_that_call_and_the_next_succeeds(
    own_cluster: EmbeddedCluster, env: dict[str, str]
) -> None:
    async with stdio_client(_stdio(env)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        call = asyncio.create_task(
            session.call_tool("execute_sales_query", {"postgresql_query": HEAVY_QUERY}))
        pid = await wait_for_heavy_query(own_cluster)
        admin = await admin_connection(own_cluster)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        killed = await call
        assert killed.is_error
        assert "database_unavailable: the query was interrupted" in _text(killed)
        assert not await heavy_query_running(own_cluster)  # not retried
        after = await session.call_tool("execute_sales_query", COUNT_ORDERS)
        assert not after.is_error, _text(after)


async def test_a_call_the_client_abandons_cancels_its_query(
    own_cluster: EmbeddedCluster, env: dict[str, str]
) -> None:
    async with stdio_client(_stdio(env)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        # The client gives up after 1 s and sends notifications/cancelled.
        with pytest.raises(Exception, match=r"(?i)time"):
            await session.call_tool("execute_sales_query", {"postgresql_query": HEAVY_QUERY},
                                    read_timeout_seconds=1.0)
        async with asyncio.timeout(15):
            while await heavy_query_running(own_cluster):
                await asyncio.sleep(0.05)
        backends = await app_backends(own_cluster)
        assert len(backends) <= POOL_SIZE
        assert set(backends) == set(await app_backends(own_cluster, state="idle"))
        after = await session.call_tool("execute_sales_query", COUNT_ORDERS)
        assert not after.is_error, _text(after)


@pytest.fixture
def http_server(env: dict[str, str]) -> Iterator[str]:
    token_env = dict(env, ZAVA_TOKENS=f"{company.HEAD_OFFICE_ID} {hash_token('t0ken')}")
    process, base = start_server(token_env)
    yield base
    stop(process)
    assert process.returncode == 0


async def test_ready_says_database_unavailable_while_it_is_down(
    own_cluster: EmbeddedCluster, http_server: str
) -> None:
    async with httpx2.AsyncClient(base_url=http_server, timeout=10) as http:
        assert (await http.get("/ready")).status_code == 200
        await _stop(own_cluster)
        try:
            down = await http.get("/ready")
            assert down.status_code == 503
            assert down.json()["status"] == "unavailable"
            assert "database cannot be reached" in down.json()["database"]
            assert (await http.get("/health")).status_code == 200  # the process is up
        finally:
            await _start(own_cluster)
        deadline = time.monotonic() + 30
        while (await http.get("/ready")).status_code != 200:
            assert time.monotonic() < deadline, "not ready 30 s after the database returned"
            await asyncio.sleep(0.1)
