"""The stdio server on each kind of standard stream a client may give it: Unix sockets
(what Node clients such as Claude Desktop pass), one socket for both directions, and
files (left to the SDK's own transport). Each answers, exits 0 when its input ends, and
writes only the protocol on stdout."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from zava.seeding import company

SEATTLE = str(company.SEATTLE_MANAGER_ID)
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
QUERY = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
    "name": "execute_sales_query",
    "arguments": {"postgresql_query": "SELECT count(*) AS n FROM retail.stores"}}}
REQUESTS = b"".join(json.dumps(m).encode() + b"\n" for m in (INITIALIZE, INITIALIZED, QUERY))


def _serve(env: dict[str, str], stdin: Any, stdout: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "zava", "serve", "--rls-user", SEATTLE],
                            env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)


def _check(lines: list[bytes]) -> None:
    messages = [json.loads(line) for line in lines]  # only JSON-RPC on stdout
    by_id = {m.get("id"): m for m in messages}
    assert "result" in by_id[1]
    assert by_id[2]["result"]["structuredContent"]["rows"] == [[1]]


def test_unix_sockets_as_stdin_and_stdout(server_env: dict[str, str]) -> None:
    client_in, server_in = socket.socketpair()
    client_out, server_out = socket.socketpair()
    process = _serve(server_env, server_in.fileno(), server_out.fileno())
    server_in.close()
    server_out.close()
    with client_in, client_out, client_out.makefile("rb") as replies:
        client_in.sendall(REQUESTS)
        lines = [replies.readline(), replies.readline()]
        client_in.shutdown(socket.SHUT_WR)
        assert process.wait(timeout=60) == 0
    _check(lines)
    assert process.stderr is not None and b"Traceback" not in process.stderr.read()


def test_one_socket_for_both_directions(server_env: dict[str, str]) -> None:
    client, server = socket.socketpair()
    process = _serve(server_env, server.fileno(), server.fileno())
    server.close()
    with client, client.makefile("rb") as replies:
        client.sendall(REQUESTS)
        lines = [replies.readline(), replies.readline()]
        client.shutdown(socket.SHUT_WR)
        assert process.wait(timeout=60) == 0
    _check(lines)


def test_files_as_stdin_and_stdout(server_env: dict[str, str], tmp_path: Path) -> None:
    """The SDK's transport: input ends at once, so calls still running are cancelled
    (the SDK answers them "Connection closed"); initialize is answered."""
    requests, replies = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    requests.write_bytes(REQUESTS)
    with requests.open("rb") as stdin, replies.open("wb") as stdout:
        process = _serve(server_env, stdin, stdout)
        assert process.wait(timeout=60) == 0
    messages = [json.loads(line) for line in replies.read_bytes().splitlines()]
    assert "result" in messages[0] and messages[0]["id"] == 1
