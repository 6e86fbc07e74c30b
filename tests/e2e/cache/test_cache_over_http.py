"""The shared cache through real HTTP servers and Redis: managers never share an entry,
two servers share what is safe to share, and a Redis outage costs only the caching."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import free_port
from tests.e2e.conftest import http_server as serve_http
from tests.e2e.server.test_observability import metric
from zava.security.identity import hash_token
from zava.seeding import company

SYSTEM_REDIS = "redis://127.0.0.1:6379/0"
TOKENS = {company.SEATTLE_MANAGER_ID: "zava_cache_seattle",
          company.BELLEVUE_MANAGER_ID: "zava_cache_bellevue"}
STORES = "SELECT name FROM retail.stores ORDER BY name"


@contextmanager
def http_server(env: dict[str, str], log: Path, log_level: str = "INFO") -> Iterator[str]:
    """The e2e HTTP server, with tokens for Seattle and Bellevue unless ``env`` sets
    ZAVA_TOKENS."""
    tokens = ",".join(f"{m} {hash_token(t)}" for m, t in TOKENS.items())
    with serve_http({"ZAVA_TOKENS": tokens, **env}, log, log_level) as base:
        yield base


async def call(base: str, manager: uuid.UUID, tool: str, **arguments: Any) -> Any:
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKENS[manager]}"},
                                  timeout=60) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool(tool, arguments)
        assert not result.is_error, result.content[0].text
        return result.structured_content


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the system Redis, removed afterwards."""
    name = f"zava-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(SYSTEM_REDIS)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def keys(prefix: str, url: str = SYSTEM_REDIS) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        return sorted(k.decode() for k in client.scan_iter(f"{prefix}:*"))
    finally:
        client.close()


async def test_two_managers_never_share_an_entry(server_env: dict[str, str], prefix: str,
                                                 tmp_path: Path) -> None:
    env = dict(server_env, ZAVA_REDIS_URL=SYSTEM_REDIS, ZAVA_CACHE_PREFIX=prefix,
               ZAVA_QUERY_CACHE_TTL_S="60")
    with http_server(env, tmp_path / "server.log") as base:
        seen: dict[uuid.UUID, list[Any]] = {}
        for manager in (company.SEATTLE_MANAGER_ID, company.BELLEVUE_MANAGER_ID) * 2:
            schemas = await call(base, manager, "get_multiple_table_schemas", table_names=[])
            rows = await call(base, manager, "execute_sales_query", postgresql_query=STORES)
            seen.setdefault(manager, []).append((schemas["store_names"], rows["rows"]))
        metrics = httpx2.get(base + "/metrics").text
    assert seen[company.SEATTLE_MANAGER_ID] == [(["Seattle"], [["Seattle"]])] * 2
    assert seen[company.BELLEVUE_MANAGER_ID] == [(["Bellevue"], [["Bellevue"]])] * 2
    stored = keys(prefix)
    for namespace in ("schema", "query"):
        owners = {k.split(":")[3] for k in stored if k.split(":")[2] == namespace}
        assert owners == {str(company.SEATTLE_MANAGER_ID), str(company.BELLEVUE_MANAGER_ID)}
    assert metric(metrics, "zava_cache_hits_total", cache="schema") == 2
    assert metric(metrics, "zava_cache_hits_total", cache="query") == 2
    assert metric(metrics, "zava_cache_misses_total", cache="query") == 2


async def test_two_servers_share_query_embeddings(server_env: dict[str, str], prefix: str,
                                                  tmp_path: Path) -> None:
    env = dict(server_env, ZAVA_REDIS_URL=SYSTEM_REDIS, ZAVA_CACHE_PREFIX=prefix)
    question = {"query_description": "keep rain off the patio furniture"}
    with http_server(env, tmp_path / "a.log") as first, \
            http_server(env, tmp_path / "b.log") as second:
        one = await call(first, company.SEATTLE_MANAGER_ID, "semantic_search_products",
                         **question)
        two = await call(second, company.BELLEVUE_MANAGER_ID, "semantic_search_products",
                         **question)
        first_metrics = httpx2.get(first + "/metrics").text
        second_metrics = httpx2.get(second + "/metrics").text
    assert [p["sku"] for p in one["products"]] == [p["sku"] for p in two["products"]]
    assert metric(first_metrics, "zava_embedding_calls_total", model="all-MiniLM-L6-v2") == 1
    assert metric(second_metrics, "zava_embedding_calls_total", model="all-MiniLM-L6-v2") == 0
    assert metric(second_metrics, "zava_cache_hits_total", cache="query_embeddings") == 1
    assert [k.split(":")[2] for k in keys(prefix)] == ["embedding"]


@contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    client.close()
    try:
        yield process
    finally:
        process.kill()
        process.wait()


async def test_a_redis_outage_only_costs_the_cache(server_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = dict(server_env, ZAVA_REDIS_URL=url, ZAVA_CACHE_PREFIX="outage")
    log = tmp_path / "server.log"
    seattle = company.SEATTLE_MANAGER_ID
    with own_redis(port) as first_redis, http_server(env, log) as base:
        await call(base, seattle, "get_multiple_table_schemas", table_names=[])
        assert keys("outage", url)
        first_redis.kill()
        first_redis.wait()
        for _ in range(3):
            schemas = await call(base, seattle, "get_multiple_table_schemas", table_names=[])
            assert schemas["store_names"] == ["Seattle"]
            await call(base, seattle, "semantic_search_products", query_description="drill")
        with own_redis(port):
            time.sleep(5.5)  # the backend retries Redis every 5 s
            await call(base, seattle, "get_multiple_table_schemas", table_names=["retail.stores"])
            assert keys("outage", url)
    text = log.read_text()
    assert text.count("unavailable (") == 1, text
    assert "is back" in text
    audits = [line for line in text.splitlines() if " audit " in line]
    assert len(audits) == 8 and all("outcome=ok" in line for line in audits)
    assert " ERROR " not in text
