"""Cache hints for the list methods, in the result and in HTTP.

2026-07-28 results of ``tools/list``, ``prompts/list``, ``resources/list`` and
``resources/templates/list`` carry ``ttlMs`` / ``cacheScope`` (the SDK fills them from
``LIST_HINTS``): the lists are the same for every caller and change only with a deploy,
so they are public. ``resources/read`` is private: ``zava://stores`` is the caller's own.
Over HTTP, a plain-JSON answer (never an event stream) to one of these methods also gets
``Cache-Control: <scope>, max-age=<ttl>`` from ``ListCacheHeaders``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mcp.server.caching import CacheableMethod, CacheHint

from zava.server.session_cap import App, Message, Receive, Scope, Send, posts_to

LIST_TTL_MS = 300_000
"""Five minutes: the tools, prompts and resources change only when the server is deployed."""

LIST_HINTS: Mapping[CacheableMethod, CacheHint] = {
    "tools/list": CacheHint(ttl_ms=LIST_TTL_MS, scope="public"),
    "prompts/list": CacheHint(ttl_ms=LIST_TTL_MS, scope="public"),
    "resources/list": CacheHint(ttl_ms=LIST_TTL_MS, scope="public"),
    "resources/templates/list": CacheHint(ttl_ms=LIST_TTL_MS, scope="public"),
    "resources/read": CacheHint(ttl_ms=60_000, scope="private"),
}

_PEEK_BYTES = 64 * 1024
"""Request bodies are read this far for their method; a list request is far smaller."""


def cache_control(hint: CacheHint) -> bytes:
    """The Cache-Control value of ``hint``."""
    return f"{hint.scope}, max-age={hint.ttl_ms // 1000}".encode()


def method_of(body: bytes) -> str | None:
    """The JSON-RPC method of a request body, when it is one cacheable request."""
    if b"list" not in body and b"resources/read" not in body:
        return None
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    method = decoded.get("method") if isinstance(decoded, dict) else None
    return method if isinstance(method, str) else None


class ListCacheHeaders:
    """Adds Cache-Control to JSON answers of the cacheable methods on POST ``path``."""

    def __init__(self, app: App, hints: Mapping[CacheableMethod, CacheHint] = LIST_HINTS, *,
                 path: str = "/mcp") -> None:
        self.app = app
        self.hints: dict[str, CacheHint] = {str(method): hint for method, hint in hints.items()}
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not posts_to(scope, self.path):
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        size, more = 0, True
        while more and size <= _PEEK_BYTES:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(m.get("body", b"") for m in read) if not more else b""
        method = method_of(body)
        hint = self.hints.get(method) if method else None

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        if hint is None:
            await self.app(scope, replay, send)
            return

        async def hinted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = list(message.get("headers", []))
                if any(k.lower() == b"content-type" and v.startswith(b"application/json")
                       for k, v in headers):
                    headers.append((b"cache-control", cache_control(hint)))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, replay, hinted)
