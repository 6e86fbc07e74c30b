"""Streamable HTTP on 127.0.0.1: bearer tokens scope each caller, anything else gets 401;
/health and /ready; the development identity header and its refusal off loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from zava.security.identity import hash_token
from zava.seeding import company

SEATTLE_TOKEN = "zava_test_seattle_token"
HEAD_OFFICE_TOKEN = "zava_test_head_office_token"
ORDERS_PER_STORE = ("SELECT s.name, count(*) FROM retail.orders o "
                    "JOIN retail.stores s USING (store_id) GROUP BY 1 ORDER BY 1")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "zava", "serve", "--transport", "http", "--host", "127.0.0.1",
         "--port", str(port), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return process, base
        except httpx2.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not become healthy")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def token_server(server_env: dict[str, str]) -> Iterator[str]:
    env = dict(server_env, ZAVA_TOKENS=",".join([
        f"{company.SEATTLE_MANAGER_ID} {hash_token(SEATTLE_TOKEN)}",
        f"{company.HEAD_OFFICE_ID} {hash_token(HEAD_OFFICE_TOKEN)}",
    ]))
    process, base = start_server(env)
    yield base
    stop(process)
    assert process.returncode == 0


async def query(base: str, headers: dict[str, str], sql: str = ORDERS_PER_STORE) -> Any:
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("execute_sales_query", {"postgresql_query": sql})
        assert not result.is_error, result.content[0].text
        return result.structured_content


async def test_tokens_scope_each_caller(token_server: str) -> None:
    seattle = await query(token_server, {"Authorization": f"Bearer {SEATTLE_TOKEN}"})
    head_office = await query(token_server, {"Authorization": f"Bearer {HEAD_OFFICE_TOKEN}"})
    assert [row[0] for row in seattle["rows"]] == ["Seattle"]
    assert len(head_office["rows"]) == 8
    assert ["Seattle", seattle["rows"][0][1]] in head_office["rows"]


async def test_the_header_cannot_widen_a_token(token_server: str) -> None:
    seattle = await query(token_server, {"Authorization": f"Bearer {SEATTLE_TOKEN}",
                                         "x-rls-user-id": str(company.HEAD_OFFICE_ID)})
    assert [row[0] for row in seattle["rows"]] == ["Seattle"]


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": SEATTLE_TOKEN},
    {"x-rls-user-id": str(company.HEAD_OFFICE_ID)},
], ids=["none", "wrong", "not-bearer", "header-only"])
def test_without_a_valid_token_the_answer_is_401(token_server: str,
                                                 headers: dict[str, str]) -> None:
    response = httpx2.post(token_server + "/mcp", headers={
        **headers, "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_health_and_ready(token_server: str) -> None:
    assert httpx2.get(token_server + "/health", timeout=5).json()["status"] == "ok"
    ready = httpx2.get(token_server + "/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_foreign_host_headers_are_refused(token_server: str) -> None:
    response = httpx2.post(token_server + "/mcp", headers={
        "Host": "attacker.example", "Authorization": f"Bearer {SEATTLE_TOKEN}",
        "Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
    assert response.status_code in (400, 403, 421)


async def test_identity_header_mode_for_local_development(server_env: dict[str, str]) -> None:
    process, base = start_server(server_env, "--trust-identity-header")
    try:
        bellevue = await query(base, {"x-rls-user-id": str(company.BELLEVUE_MANAGER_ID)})
        assert [row[0] for row in bellevue["rows"]] == ["Bellevue"]
    finally:
        stop(process)
    assert process.stderr is not None and "TRUSTING THE x-rls-user-id HEADER" in \
        process.stderr.read()


def test_identity_header_is_refused_off_loopback(server_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zava", "serve", "--transport", "http", "--host", "0.0.0.0",
         "--port", str(free_port()), "--trust-identity-header"],
        env=server_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--trust-identity-header" in result.stderr and "refused" in result.stderr


def test_no_tokens_configured_is_a_clear_error(server_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zava", "serve", "--transport", "http", "--port",
         str(free_port())], env=server_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no bearer tokens configured" in result.stderr


async def test_every_tool_over_http_as_head_office(
    token_server: str, seeded_admin_engine: Any
) -> None:
    from tests.e2e.server.expected import Expected
    from tests.e2e.server.test_stdio_tools import exercise

    manager = next(m for m in company.managers() if m.scope == "head_office")
    headers = {"Authorization": f"Bearer {HEAD_OFFICE_TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            streamable_http_client(token_server + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        await exercise(session, Expected(seeded_admin_engine, manager))
