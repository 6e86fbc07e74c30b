"""No cross-tenant oracle, no leaking logs: ``health_check`` carries no counters; /metrics
needs its own token (or, without one, a loopback client) and, like /health and /ready,
answers only the server's own Host names; plans come without cost or row estimates and
EXPLAIN through free SQL must turn costs off; an exception's log shows no local values."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import http_server
from tests.e2e.server.test_http import start_server, stop
from zava.security.identity import hash_token
from zava.seeding import company

METRICS_TOKEN = "zava_test_metrics_token_3f9a"
SEATTLE_TOKEN = "zava_test_oracle_seattle"
HEAD_OFFICE_TOKEN = "zava_test_oracle_head_office"
TOKENS = ",".join([f"{company.SEATTLE_MANAGER_ID} {hash_token(SEATTLE_TOKEN)}",
                   f"{company.HEAD_OFFICE_ID} {hash_token(HEAD_OFFICE_TOKEN)}"])
HEALTH_FIELDS = {"status", "database", "migrations", "embedder"}
QUERY = "SELECT count(*) FROM retail.orders o JOIN retail.order_items i USING (order_id)"
ESTIMATES = ("cost=", "rows=", "width=", "Total Cost", "Plan Rows", "Plan Width")


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[str]:
    """An HTTP server with a metrics token and two managers' tokens."""
    env = dict(server_env, ZAVA_TOKENS=TOKENS, ZAVA_METRICS_TOKEN=METRICS_TOKEN)
    with http_server(env, tmp_path_factory.mktemp("oracles") / "stderr.log") as base:
        yield base


@asynccontextmanager
async def session(base: str, token: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                  timeout=60) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as client:
        await client.initialize()
        yield client


def text_of(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


# health_check: health only.

async def test_health_check_carries_no_counters(server: str) -> None:
    async with session(server, SEATTLE_TOKEN) as client:
        # make the caches count something first
        for _ in range(2):
            assert not (await client.call_tool("semantic_search_products", {
                "query_description": "patio umbrella"})).is_error
        tool = next(t for t in (await client.list_tools()).tools if t.name == "health_check")
        assert set(tool.output_schema["properties"]) == HEALTH_FIELDS
        result = await client.call_tool("health_check", {})
    assert not result.is_error
    assert set(result.structured_content) == HEALTH_FIELDS
    assert result.structured_content["status"] == "ok"
    text = text_of(result).lower()
    assert not any(word in text for word in ("hit", "miss", "cache", "calls", "count"))


# /metrics: its own credential.

def get(url: str, **headers: str) -> httpx2.Response:
    return httpx2.get(url, headers=headers, timeout=10)


@pytest.mark.parametrize("authorization", [
    None, "Bearer wrong", f"Bearer {METRICS_TOKEN}x", f"Bearer {SEATTLE_TOKEN}",
    f"Bearer {HEAD_OFFICE_TOKEN}", f"Basic {METRICS_TOKEN}", "Bearer",
], ids=["none", "wrong", "longer", "tenant", "head-office-tenant", "basic", "empty"])
def test_metrics_refuses_anything_but_its_token(server: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = get(server + "/metrics", **headers)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert "zava_" not in response.text


def test_metrics_answers_its_token(server: str) -> None:
    response = get(server + "/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert "zava_tool_calls_total" in response.text


def stats(base: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ZAVA_METRICS_TOKEN"}
    return subprocess.run([sys.executable, "-m", "zava", "stats", "--url", base, *options],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_zava_stats_with_the_token(server: str) -> None:
    done = stats(server, "--token", METRICS_TOKEN)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tool") and "pool:" in done.stdout
    refused = stats(server)
    assert refused.returncode != 0 and "zava_tool" not in refused.stdout
    wrong = stats(server, "--token", "wrong")
    assert wrong.returncode != 0 and "pool:" not in wrong.stdout


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one."""
    for target in ("198.51.100.1", "10.255.255.255"):  # UDP connect sends no packet
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
            except OSError:
                continue
            address = str(probe.getsockname()[0])
            if not address.startswith("127."):
                return address
    return None


def test_without_a_token_metrics_answers_loopback_only(server_env: dict[str, str]) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address to call from")
    env = dict(server_env, ZAVA_TOKENS=TOKENS)
    process, base = start_server(env, "--host", "0.0.0.0", "--allowed-host", address)
    port = base.rsplit(":", 1)[1]
    try:
        assert get(base + "/metrics").status_code == 200
        remote = f"http://{address}:{port}"
        assert get(remote + "/health").status_code == 200  # an allowed Host, not loopback
        refused = get(remote + "/metrics")
        assert refused.status_code == 403 and "ZAVA_METRICS_TOKEN" in refused.text
        assert "zava_" not in refused.text
    finally:
        stop(process)


# Every route answers only the server's own names.

@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}",
                                  "127.0.0.1.nip.io:{port}", "localhost.:{port}", ""])
def test_a_foreign_host_gets_421(server: str, path: str, host: str) -> None:
    port = server.rsplit(":", 1)[1]
    response = get(server + path, Host=host.format(port=port),
                   Authorization=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 421
    assert "zava_" not in response.text and "uptime" not in response.text


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}"])
def test_own_host_names_are_answered(server: str, path: str, host: str) -> None:
    port = server.rsplit(":", 1)[1]
    response = get(server + path, Host=host.format(port=port),
                   Authorization=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200


# Plans without other tenants' volumes.

@pytest.mark.parametrize("token", [SEATTLE_TOKEN, HEAD_OFFICE_TOKEN],
                         ids=["store", "head_office"])
async def test_plans_show_no_estimates(server: str, token: str) -> None:
    async with session(server, token) as client:
        tool = next(t for t in (await client.list_tools()).tools
                    if t.name == "explain_sales_query")
        assert "without cost or row estimates" in (tool.description or "")
        result = await client.call_tool("explain_sales_query", {"postgresql_query": QUERY})
        assert not result.is_error, text_of(result)
        plan = result.structured_content["plan"]
        assert plan and "Aggregate" in plan[0]
        for shown in ("\n".join(plan), text_of(result)):
            assert not any(estimate in shown for estimate in ESTIMATES), shown
        assert "<untrusted-data id=" in text_of(result)  # the plan is fenced

        for sql in (f"EXPLAIN (COSTS OFF) {QUERY}", f"EXPLAIN (COSTS false) {QUERY}",
                    f"EXPLAIN (COSTS ON, COSTS OFF) {QUERY}",
                    f"EXPLAIN (FORMAT JSON, COSTS OFF) {QUERY}",
                    f"EXPLAIN (VERBOSE, COSTS OFF) {QUERY}"):
            ran = await client.call_tool("execute_sales_query", {"postgresql_query": sql})
            assert not ran.is_error, f"{sql}: {text_of(ran)}"
            rows = json.dumps(ran.structured_content["rows"])
            assert not any(estimate in rows for estimate in ESTIMATES), f"{sql}: {rows}"


@pytest.mark.parametrize("sql", [
    f"EXPLAIN {QUERY}", f"explain {QUERY}", f"EXPLAIN VERBOSE {QUERY}",
    f"EXPLAIN (COSTS) {QUERY}", f"EXPLAIN (COSTS ON) {QUERY}", f"EXPLAIN (COSTS true) {QUERY}",
    f"EXPLAIN (COSTS OFF, COSTS ON) {QUERY}", f"EXPLAIN (FORMAT JSON) {QUERY}",
    f"EXPLAIN (FORMAT YAML) {QUERY}", f"EXPLAIN (SUMMARY) {QUERY}",
], ids=["plain", "lower", "verbose", "costs", "costs-on", "costs-true", "off-then-on",
        "json", "yaml", "summary"])
async def test_explain_with_costs_is_rejected(server: str, sql: str) -> None:
    async with session(server, SEATTLE_TOKEN) as client:
        result = await client.call_tool("execute_sales_query", {"postgresql_query": sql})
    assert result.is_error
    text = text_of(result)
    assert "query_rejected" in text and "COSTS OFF" in text
    assert not any(estimate in text for estimate in ESTIMATES)


async def test_explain_of_an_explain_is_rejected(server: str) -> None:
    async with session(server, SEATTLE_TOKEN) as client:
        result = await client.call_tool("explain_sales_query",
                                        {"postgresql_query": f"EXPLAIN {QUERY}"})
    assert result.is_error and "query_rejected" in text_of(result)


# Logs: no local variables (no query text) in tracebacks.

FAILING = textwrap.dedent("""
    import sys
    from loguru import logger
    from zava.observability.logging import configure_logging

    configure_logging("INFO", json=sys.argv[1] == "json")

    def run(postgresql_query):
        secret_total = "local-value-73194"
        raise RuntimeError("the call failed")

    def call(tool):
        sql = "SELECT secret_column_5521 FROM retail.orders WHERE note = 'hidden-literal'"
        try:
            run(sql)
        except Exception as exc:
            logger.opt(exception=exc).error("tool {} failed (trace {})", tool, "abc123")
        try:
            run(sql)
        except Exception:
            logger.exception("again")

    call("execute_sales_query")
    logger.complete()
""")


@pytest.mark.parametrize("mode", ["json", "text"])
def test_an_exception_log_shows_no_local_values(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert "RuntimeError" in log and "the call failed" in log  # the error itself is logged
    assert "tool execute_sales_query failed" in log
    for secret in ("secret_column_5521", "hidden-literal", "local-value-73194"):
        assert secret not in log, f"a local value reached the log ({mode}):\n{log}"
