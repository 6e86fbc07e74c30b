"""Sessions per caller over real HTTP with ZAVA_HTTP_STATEFUL (stateless HTTP, the default,
keeps no sessions): one token opening sessions in a loop is refused with 429 once it has
its share, and every other manager can still open theirs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.e2e.conftest import http_server
from zava.security.identity import hash_token
from zava.seeding import company

SEATTLE_TOKEN = "zava_cap_seattle_token"
HEAD_OFFICE_TOKEN = "zava_cap_head_office_token"
LIMIT = 3
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "session-cap-test", "version": "1"}}}


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[str]:
    tokens = ",".join([f"{company.SEATTLE_MANAGER_ID} {hash_token(SEATTLE_TOKEN)}",
                       f"{company.HEAD_OFFICE_ID} {hash_token(HEAD_OFFICE_TOKEN)}"])
    env = dict(server_env, ZAVA_TOKENS=tokens, ZAVA_MAX_SESSIONS_PER_CALLER=str(LIMIT),
               ZAVA_HTTP_STATEFUL="true")
    with http_server(env, tmp_path_factory.mktemp("cap") / "server.log") as base:
        yield base


def initialize(base: str, token: str) -> httpx2.Response:
    return httpx2.post(base + "/mcp", json=INITIALIZE, timeout=30, headers={
        "authorization": f"Bearer {token}", "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25"})


def test_one_token_cannot_lock_the_others_out(server: str) -> None:
    opened = [initialize(server, SEATTLE_TOKEN) for _ in range(LIMIT)]
    assert all(r.status_code == 200 and r.headers.get("mcp-session-id") for r in opened)
    refused = initialize(server, SEATTLE_TOKEN)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"]["message"].startswith("rate_limited:")
    other = initialize(server, HEAD_OFFICE_TOKEN)
    assert other.status_code == 200 and other.headers.get("mcp-session-id")


def test_closing_a_session_frees_its_slot(server: str) -> None:
    sessions = []
    while (response := initialize(server, HEAD_OFFICE_TOKEN)).status_code == 200:
        sessions.append(response.headers["mcp-session-id"])
    assert response.status_code == 429 and sessions
    closed = httpx2.delete(server + "/mcp", timeout=30, headers={
        "authorization": f"Bearer {HEAD_OFFICE_TOKEN}", "mcp-session-id": sessions[-1],
        "mcp-protocol-version": "2025-11-25"})
    assert closed.status_code in (200, 204)
    assert initialize(server, HEAD_OFFICE_TOKEN).status_code == 200


def test_stateless_http_opens_no_sessions(server_env: dict[str, str],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    tokens = f"{company.SEATTLE_MANAGER_ID} {hash_token(SEATTLE_TOKEN)}"
    env = dict(server_env, ZAVA_TOKENS=tokens, ZAVA_MAX_SESSIONS_PER_CALLER="1")
    with http_server(env, tmp_path_factory.mktemp("stateless") / "server.log") as base:
        for _ in range(3):  # no session id, so nothing to count or cap
            response = initialize(base, SEATTLE_TOKEN)
            assert response.status_code == 200 and "mcp-session-id" not in response.headers
            assert response.headers["content-type"].startswith("application/json")
