"""What operators see: JSON audit lines, the slow-query log, /metrics moving with the
calls, `zava stats`, /ready, and standard-library logging routed through loguru."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from loguru import logger
from mcp import ClientSession, stdio_client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import free_port, stdio_server
from tests.e2e.conftest import http_server as serve_http
from zava.observability.logging import configure_logging
from zava.security.identity import hash_token
from zava.seeding import company

TOKEN = "zava_test_observability_token"
QUERY = "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id) " \
        "GROUP BY 1"
REJECTED = "DELETE FROM retail.orders"


def records(stderr: Path, key: str) -> list[dict[str, Any]]:
    """The JSON log records whose extra fields include ``key``."""
    found = []
    for line in stderr.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)["record"]
            if key in record["extra"]:
                found.append(record)
    return found


async def call_over_stdio(env: dict[str, str], stderr: Path, *options: str) -> None:
    with stderr.open("w") as errlog:
        params = stdio_server(env, company.SEATTLE_MANAGER_ID)
        params.args = ["-m", "zava", *options, *params.args[2:]]
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            assert not (await session.call_tool("execute_sales_query",
                                                {"postgresql_query": QUERY})).is_error
            assert (await session.call_tool("execute_sales_query",
                                            {"postgresql_query": REJECTED})).is_error
    time.sleep(0.5)  # the log thread flushes after the process exits


async def test_json_audit_lines_without_query_text(server_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.log"
    await call_over_stdio(dict(server_env, ZAVA_LOG_LEVEL="INFO"), stderr, "--log-json",
                          "--slow-query-ms", "0")
    audits = [r["extra"] for r in records(stderr, "audit")]
    ok, rejected = audits
    assert ok["tool"] == "execute_sales_query" and ok["outcome"] == "ok"
    assert ok["caller"] == str(company.SEATTLE_MANAGER_ID) and ok["rows"] == 1
    assert ok["bytes"] > 0 and ok["ms"] > 0 and len(ok["trace_id"]) == 32
    assert len(ok["query_hash"]) == 16 and "query" not in ok
    assert rejected["outcome"] == "query_rejected" and rejected["rows"] is None
    text = stderr.read_text()
    assert "retail.orders" not in text and "Seattle" not in text  # no query text, no values
    (slow,) = [r["extra"] for r in records(stderr, "slow_query")]
    assert slow["query_hash"] == ok["query_hash"]
    assert slow["plan"].split()[0] in {"Limit", "Subquery", "HashAggregate", "GroupAggregate"}
    assert "cost=" in slow["plan"]


async def test_log_queries_adds_the_text(server_env: dict[str, str], tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.log"
    await call_over_stdio(dict(server_env, ZAVA_LOG_LEVEL="INFO"), stderr, "--log-json",
                          "--log-queries")
    queries = [r["extra"].get("query") for r in records(stderr, "audit")]
    assert queries == [QUERY, REJECTED]
    assert records(stderr, "slow_query") == []  # the default threshold is 1 s


def test_standard_library_logging_goes_through_loguru() -> None:
    seen: list[str] = []
    configure_logging("INFO")
    sink = logger.add(lambda message: seen.append(str(message)), level="INFO")
    try:
        logging.getLogger("uvicorn.error").warning("port already in use")
        logging.getLogger("asyncpg").error("connection lost")
        logger.complete()
    finally:
        logger.remove(sink)
    assert any("port already in use" in line for line in seen)
    assert any("connection lost" in line for line in seen)


@pytest.fixture(scope="module")
def http_server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                ) -> Iterator[str]:
    env = dict(server_env, ZAVA_TOKENS=f"{company.EASTSIDE_REGIONAL_ID} {hash_token(TOKEN)}")
    with serve_http(env, tmp_path_factory.mktemp("http") / "stderr.log") as base:
        yield base


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition, 0 if absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def test_metrics_move_with_the_calls(http_server: str) -> None:
    before = httpx2.get(http_server + "/metrics").text
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"},
                                  timeout=60) as http, \
            streamable_http_client(http_server + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        for _ in range(3):
            assert not (await session.call_tool("execute_sales_query",
                                                {"postgresql_query": QUERY})).is_error
        assert (await session.call_tool("execute_sales_query",
                                        {"postgresql_query": REJECTED})).is_error
        for _ in range(2):
            assert not (await session.call_tool(
                "semantic_search_products", {"query_description": "patio umbrella"})).is_error
    after = httpx2.get(http_server + "/metrics").text
    tool = {"tool": "execute_sales_query"}
    assert metric(after, "zava_tool_calls_total", tool="execute_sales_query", outcome="ok") \
        - metric(before, "zava_tool_calls_total", tool="execute_sales_query", outcome="ok") == 3
    assert metric(after, "zava_tool_errors_total", tool="execute_sales_query",
                  error="query_rejected") == 1
    assert metric(after, "zava_rows_returned_total", **tool) == 9  # 3 stores, 3 times
    assert metric(after, "zava_bytes_returned_total", **tool) > 0
    assert metric(after, "zava_tool_duration_seconds_count", **tool) == 4
    assert metric(after, "zava_cache_hits_total", cache="query_embeddings") == 1
    assert metric(after, "zava_cache_misses_total", cache="query_embeddings") == 1
    assert metric(after, "zava_embedding_calls_total", model="all-MiniLM-L6-v2") == 1
    assert metric(after, "zava_pool_size") >= 1 and metric(after, "zava_pool_checked_out") == 0
    assert "zava_pool_waiting 0.0" in after

    printed = subprocess.run([sys.executable, "-m", "zava", "stats", "--url", http_server],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    line = next(x for x in printed.splitlines() if x.startswith("execute_sales_query"))
    assert line.split()[1:3] == ["3", "1"] and "query_rejected 1" in line
    assert "cache query_embeddings: 1 hits, 1 misses (50% hit rate)" in printed
    assert "embedding provider calls: 1" in printed
    assert "0 waiting" in printed


def test_ready_and_health(http_server: str) -> None:
    ready = httpx2.get(http_server + "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert httpx2.get(http_server + "/health").json()["status"] == "ok"


def test_stats_names_an_unreachable_server() -> None:
    done = subprocess.run([sys.executable, "-m", "zava", "stats", "--url",
                           f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and "is `zava serve --transport http` running there?" in \
        done.stderr
