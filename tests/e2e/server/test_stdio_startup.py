"""Start-up over pipes (what MCP clients give a server): ``initialize`` is answered while
the runtime opens, a call sent right after it waits for the runtime and succeeds, and a
runtime that cannot open stops the server with the same one-line error (exit 1) as when
it opened before serving, whether or not the handshake was answered."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from zava.provision.embedded import EmbeddedCluster
from zava.seeding import company

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"}}}
CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
    "name": "execute_sales_query", "arguments": {"postgresql_query": "SELECT 1 AS one"}}}


def _line(message: dict[str, object]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _serve(env: dict[str, str], manager: uuid.UUID) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "zava", "serve", "--rls-user",
                                str(manager)], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(_line(INITIALIZE))
    process.stdin.flush()
    return process


def _answer(process: subprocess.Popen[bytes], ident: int) -> dict[str, object] | None:
    """The answer to request ``ident``, or None if stdout closed first."""
    assert process.stdout is not None
    while line := process.stdout.readline():
        message = json.loads(line)
        if message.get("id") == ident:
            return dict(message)
    return None


def _refused(process: subprocess.Popen[bytes]) -> str:
    """The server's stderr once it exited 1 (stdin still open: it stopped by itself)."""
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    text = stderr.decode()
    assert "Traceback" not in text
    return text


def test_a_call_right_after_initialize_waits_for_the_runtime(
        server_env: dict[str, str]) -> None:
    process = _serve(server_env, company.SEATTLE_MANAGER_ID)
    try:
        assert process.stdin is not None
        answer = _answer(process, 1)
        assert answer is not None and "result" in answer
        process.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"})
                            + _line(CALL))
        process.stdin.flush()
        result = _answer(process, 2)
        assert result is not None
        assert result["result"]["structuredContent"]["rows"] == [[1]]  # type: ignore[index]
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unreachable_database_stops_the_server_with_its_error(
        server_env: dict[str, str]) -> None:
    env = dict(server_env, DATABASE_URL="postgresql://zava_app@127.0.0.1:1/zava")
    process = _serve(env, company.SEATTLE_MANAGER_ID)
    stderr = _refused(process)
    assert stderr.startswith("error: ConnectionRefusedError"), stderr


def test_a_privileged_login_is_refused_after_the_handshake_too(
        server_env: dict[str, str], seeded_database: EmbeddedCluster) -> None:
    env = dict(server_env, DATABASE_URL=seeded_database.admin_url)
    process = _serve(env, company.SEATTLE_MANAGER_ID)
    stderr = _refused(process)
    assert stderr.startswith("error: refusing to serve as postgres"), stderr


def test_an_unknown_manager_is_refused_after_the_handshake_too(
        server_env: dict[str, str]) -> None:
    unknown = uuid.UUID("c0ffee00-0000-4000-8000-0000000000ff")
    process = _serve(server_env, unknown)
    stderr = _refused(process)
    assert f"error: unknown caller {unknown}" in stderr
