"""The stdio server under abuse: malformed JSON-RPC, unknown tools, wrong argument types,
a 1 MB query, 100 concurrent calls; clean shutdown on stdin EOF and SIGTERM; refusal to
start with an unknown identity; stdout carries only the protocol."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

from mcp import ClientSession, stdio_client

from tests.e2e.conftest import stdio_server
from zava.seeding import company

SEATTLE = company.SEATTLE_MANAGER_ID


async def test_bad_calls_get_clear_errors_and_the_server_keeps_serving(
    server_env: dict[str, str],
) -> None:
    async with stdio_client(stdio_server(server_env, SEATTLE)) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        unknown = await session.call_tool("drop_everything", {})
        assert unknown.is_error and "Unknown tool" in unknown.content[0].text
        wrong_type = await session.call_tool("get_sales_trend", {"months": "many"})
        assert wrong_type.is_error and "months" in wrong_type.content[0].text
        out_of_range = await session.call_tool("get_sales_trend", {"months": 0})
        assert out_of_range.is_error
        huge = await session.call_tool("execute_sales_query",
                                       {"postgresql_query": "SELECT 1 " + " " * 1_000_000})
        assert huge.is_error and "100000" in huge.content[0].text
        bad_sql = await session.call_tool("execute_sales_query",
                                          {"postgresql_query": "SELECT nope FROM retail.orders"})
        assert bad_sql.is_error
        assert "column \"nope\" does not exist; call get_multiple_table_schemas" in \
            bad_sql.content[0].text
        many = await asyncio.gather(*(
            session.call_tool("execute_sales_query", {
                "postgresql_query": f"SELECT {i} AS n, count(*) FROM retail.orders"})
            for i in range(100)))
        assert all(not r.is_error for r in many)
        assert sorted(r.structured_content["rows"][0][0] for r in many) == list(range(100))
        still = await session.call_tool("get_current_utc_date", {})
        assert not still.is_error


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "zava", "serve", *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _initialize(process: subprocess.Popen[bytes]) -> dict[str, object]:
    assert process.stdin is not None and process.stdout is not None
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}
    process.stdin.write(b"{this is not json}\n" + json.dumps(request).encode() + b"\n")
    process.stdin.flush()
    lines = []
    while True:
        line = process.stdout.readline()
        assert line, "server closed stdout"
        message = json.loads(line)  # stdout carries only JSON-RPC
        lines.append(message)
        if message.get("id") == 1:
            return message


def test_malformed_json_then_initialize_then_stdin_eof_exits_cleanly(
    server_env: dict[str, str],
) -> None:
    process = _spawn(server_env, "--rls-user", str(SEATTLE))
    response = _initialize(process)
    assert "result" in response
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None and b"Traceback" not in process.stderr.read()


def test_sigterm_shuts_down_cleanly(server_env: dict[str, str]) -> None:
    process = _spawn(server_env, "--rls-user", str(SEATTLE))
    _initialize(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None and b"Traceback" not in process.stderr.read()


def test_an_unknown_identity_is_refused_before_serving(server_env: dict[str, str]) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "zava", "serve", "--rls-user",
         "c0ffee00-0000-4000-8000-0000000000ff"],
        env=server_env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and result.stdout == ""
    assert "unknown caller c0ffee00-0000-4000-8000-0000000000ff" in result.stderr
    assert time.monotonic() - started < 60


def test_no_identity_is_a_usage_error(server_env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "zava", "serve"], env=server_env,
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "--rls-user" in result.stderr
