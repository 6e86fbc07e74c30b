"""At most so many open MCP sessions per caller over HTTP.

The SDK caps sessions for the whole server (10,000) and closes a session after 30 idle
minutes, so one token opening sessions in a loop used to lock every other manager out
with 503 for half an hour. This ASGI wrapper counts each caller's sessions: it learns a
session from the ``mcp-session-id`` header of the response that opened it, forgets it on
``DELETE`` or after the SDK's idle timeout, and answers a caller who would open one more
than ``limit`` with 429 and a ``Retry-After``. Requests it cannot attribute to a caller
pass through (the SDK's own authentication answers them).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def posts_to(scope: Scope, path: str) -> bool:
    """True for an HTTP POST to ``path`` (a trailing slash ignored)."""
    return bool(scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].rstrip("/") == path)
Identify = Callable[[dict[str, str]], uuid.UUID | None]

SESSION_HEADER = "mcp-session-id"


def mcp_request_headers(scope: Scope, path: str) -> dict[str, str] | None:
    """The lower-cased headers of an HTTP request to ``path``; None for anything else."""
    if scope["type"] != "http" or not scope["path"].rstrip("/").endswith(path):
        return None
    return {k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", [])}


class SessionCap:
    """Wraps the MCP app; ``identify`` maps request headers to a caller (or None)."""

    def __init__(self, app: App, identify: Identify, *, limit: int,
                 idle_timeout_s: float = 30 * 60, path: str = "/mcp",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.identify = identify
        self.limit = limit
        self.idle_timeout_s = idle_timeout_s
        self.path = path
        self.sessions: dict[uuid.UUID, dict[str, float]] = {}
        """Per caller: session id -> when it was last used."""

    def open_sessions(self, caller: uuid.UUID, now: float) -> int:
        """The caller's sessions not idle past the timeout (expired ones are dropped)."""
        sessions = self.sessions.get(caller, {})
        for session, seen in list(sessions.items()):
            if now - seen > self.idle_timeout_s:
                del sessions[session]
        return len(sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = mcp_request_headers(scope, self.path)
        if headers is None:
            await self.app(scope, receive, send)
            return
        caller = self.identify(headers)
        if caller is None:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        sessions = self.sessions.setdefault(caller, {})
        session = headers.get(SESSION_HEADER)
        if session is not None:
            if scope["method"] == "DELETE":
                sessions.pop(session, None)
            elif session in sessions:
                sessions[session] = now
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and self.open_sessions(caller, now) >= self.limit:
            await _too_many(send, self.limit)
            return

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.decode("latin-1").lower() == SESSION_HEADER:
                        sessions[value.decode("latin-1")] = self.clock()
            await send(message)

        await self.app(scope, receive, record)


async def _too_many(send: Send, limit: int) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {
        "code": -32000,
        "message": f"rate_limited: you have {limit} open sessions, the most one caller may "
                   "have; reuse one, or close one (DELETE /mcp) and retry"}}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", b"60"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
