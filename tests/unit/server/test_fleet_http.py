"""The fleet's HTTP pieces on stand-ins for the SDK's app: cache headers on list
answers only, the request body replayed intact, a call cancelled when its client hangs
up, the drain decision, and the supervisor's descriptor option."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import uvicorn

from zava.server.abandoned import CancelOnDisconnect
from zava.server.cache_hints import LIST_HINTS, ListCacheHeaders, method_of
from zava.server.drain import CloseWhileDraining, Drain, GracefulServer
from zava.server.session_cap import App, Message, Receive, Scope, Send
from zava.server.workers import worker_fds

JSON = [(b"content-type", b"application/json")]


def echo_app(content_type: list[tuple[bytes, bytes]], status: int = 200) -> App:
    """Answers with the request body it read."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
        await send({"type": "http.response.start", "status": status, "headers": content_type})
        await send({"type": "http.response.body", "body": body})

    return app


def body_of(method: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}).encode()


async def call(app: App, chunks: list[bytes], *, method: str = "POST",
               path: str = "/mcp") -> tuple[dict[str, str], bytes]:
    messages: list[Message] = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                               for i, c in enumerate(chunks)]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "headers": []}, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_method_of_a_request_body() -> None:
    assert method_of(body_of("tools/list")) == "tools/list"
    assert method_of(body_of("tools/call")) is None  # no "list" in it: not parsed
    assert method_of(b"[1, 2, 'list'") is None
    assert method_of(b'["tools/list"]') is None


async def test_list_answers_in_json_get_cache_control() -> None:
    app = ListCacheHeaders(echo_app(JSON))
    for method, value in (("tools/list", "public, max-age=300"),
                          ("prompts/list", "public, max-age=300"),
                          ("resources/read", "private, max-age=60")):
        headers, body = await call(app, [body_of(method)])
        assert headers["cache-control"] == value and body == body_of(method)
    assert LIST_HINTS["resources/read"].scope == "private"


async def test_other_answers_get_no_cache_control() -> None:
    headers, _ = await call(ListCacheHeaders(echo_app(JSON)), [body_of("tools/call")])
    assert "cache-control" not in headers
    stream = [(b"content-type", b"text/event-stream")]
    headers, _ = await call(ListCacheHeaders(echo_app(stream)), [body_of("tools/list")])
    assert "cache-control" not in headers
    headers, _ = await call(ListCacheHeaders(echo_app(JSON, 401)), [body_of("tools/list")])
    assert "cache-control" not in headers
    headers, _ = await call(ListCacheHeaders(echo_app(JSON)), [body_of("tools/list")],
                            path="/health")
    assert "cache-control" not in headers


async def test_a_body_in_chunks_reaches_the_app_whole() -> None:
    whole = body_of("tools/list")
    headers, body = await call(ListCacheHeaders(echo_app(JSON)), [whole[:7], whole[7:]])
    assert body == whole and headers["cache-control"].startswith("public")
    big = b"x" * 200_000  # past the peek: passed on untouched, not parsed
    _, body = await call(ListCacheHeaders(echo_app(JSON)), [big[:100_000], big[100_000:]])
    assert body == big


async def test_a_client_that_hangs_up_cancels_its_call() -> None:
    cancelled = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    hang_up = asyncio.Event()
    messages: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent to a client that left")

    serving = asyncio.create_task(CancelOnDisconnect(slow)(
        {"type": "http", "method": "POST", "path": "/mcp", "headers": []}, receive, send))
    await asyncio.sleep(0.05)
    hang_up.set()
    await asyncio.wait_for(serving, 5)
    assert cancelled.is_set()


async def test_an_answered_call_is_not_cancelled() -> None:
    headers, body = await call(CancelOnDisconnect(echo_app(JSON)), [b"{}"])
    assert body == b"{}" and headers["content-type"] == "application/json"


def clock(start: float) -> tuple[list[float], Callable[[], float]]:
    now = [start]
    return now, lambda: now[0]


def test_a_worker_is_watched_while_ready_is_probed() -> None:
    now, tick = clock(1000.0)
    drain = Drain(clock=tick)
    assert not drain.watched()
    drain.probed()
    now[0] += 59
    assert drain.watched()
    now[0] += 2
    assert not drain.watched()


async def test_sigterm_drains_only_a_watched_worker() -> None:
    config = uvicorn.Config(echo_app(JSON), log_config=None)
    alone = GracefulServer(config, Drain(), drain_s=5)
    alone.request_exit()
    assert alone.should_exit and not alone.drain.draining

    watched = Drain()
    watched.probed()
    server = GracefulServer(config, watched, drain_s=0.05)
    server.request_exit()
    assert watched.draining and not server.should_exit
    await asyncio.sleep(0.2)
    assert server.should_exit

    again = Drain()
    again.probed()
    twice = GracefulServer(config, again, drain_s=30)
    twice.request_exit()
    twice.request_exit()  # a second signal: stop now
    assert twice.should_exit

    assert watched.not_ready  # its own port: /ready says 503 while it drains

    shared = Drain(shared_socket=True)  # --workers: drains unwatched, never says 503
    worker = GracefulServer(config, shared, drain_s=0.05)
    worker.request_exit()
    assert shared.draining and not shared.not_ready and not worker.should_exit
    await asyncio.sleep(0.2)
    assert worker.should_exit


async def test_answers_close_their_connection_while_draining() -> None:
    drain = Drain()
    app = CloseWhileDraining(echo_app([*JSON, (b"connection", b"keep-alive")]), drain)
    headers, _ = await call(app, [b"{}"])
    assert headers["connection"] == "keep-alive"
    drain.draining = True
    headers, _ = await call(app, [b"{}"])
    assert headers["connection"] == "close"


def test_worker_fds_option() -> None:
    assert worker_fds("7,9") == (7, 9)
