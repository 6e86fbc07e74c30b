"""The per-caller session cap, on a stand-in for the SDK's app (the stand-in is the
point: it opens a session on every POST without a session id, as the SDK does)."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

from zava.server.session_cap import Message, Receive, Scope, Send, SessionCap

SEATTLE = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
BELLEVUE = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
_ids = itertools.count(1)


async def opening_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json")]
    if scope["method"] == "POST" and not any(k == b"mcp-session-id" for k, _ in scope["headers"]):
        headers.append((b"mcp-session-id", f"s{next(_ids)}".encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def by_header(headers: dict[str, str]) -> uuid.UUID | None:
    value = headers.get("x-caller")
    return uuid.UUID(value) if value else None


async def request(cap: SessionCap, caller: uuid.UUID | None, *, method: str = "POST",
                  session: str | None = None, path: str = "/mcp") -> tuple[int, dict[str, str], bytes]:
    headers = [] if caller is None else [(b"x-caller", str(caller).encode())]
    if session is not None:
        headers.append((b"mcp-session-id", session.encode()))
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await cap({"type": "http", "method": method, "path": path, "headers": headers},
              receive, send)
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


async def test_the_session_over_the_limit_gets_429_with_retry_after() -> None:
    cap = SessionCap(opening_app, by_header, limit=3)
    for _ in range(3):
        status, headers, _ = await request(cap, SEATTLE)
        assert status == 200 and "mcp-session-id" in headers
    status, headers, body = await request(cap, SEATTLE)
    assert status == 429 and headers["retry-after"] == "60"
    error = json.loads(body)["error"]["message"]
    assert error.startswith("rate_limited:") and "3 open sessions" in error


async def test_one_callers_sessions_never_lock_out_another() -> None:
    cap = SessionCap(opening_app, by_header, limit=2)
    for _ in range(2):
        await request(cap, SEATTLE)
    assert (await request(cap, SEATTLE))[0] == 429
    assert (await request(cap, BELLEVUE))[0] == 200


async def test_requests_inside_an_open_session_are_never_refused() -> None:
    cap = SessionCap(opening_app, by_header, limit=1)
    _, headers, _ = await request(cap, SEATTLE)
    session = headers["mcp-session-id"]
    for _ in range(5):
        assert (await request(cap, SEATTLE, session=session))[0] == 200


async def test_delete_frees_a_slot() -> None:
    cap = SessionCap(opening_app, by_header, limit=1)
    _, headers, _ = await request(cap, SEATTLE)
    assert (await request(cap, SEATTLE))[0] == 429
    await request(cap, SEATTLE, method="DELETE", session=headers["mcp-session-id"])
    assert (await request(cap, SEATTLE))[0] == 200


async def test_idle_sessions_expire_like_the_sdks() -> None:
    now = [1000.0]
    cap = SessionCap(opening_app, by_header, limit=1, idle_timeout_s=60, clock=lambda: now[0])
    _, headers, _ = await request(cap, SEATTLE)
    now[0] += 59
    await request(cap, SEATTLE, session=headers["mcp-session-id"])  # used: stays open
    now[0] += 59
    assert (await request(cap, SEATTLE))[0] == 429
    now[0] += 61
    assert (await request(cap, SEATTLE))[0] == 200


async def test_unattributed_requests_and_other_paths_pass_through() -> None:
    cap = SessionCap(opening_app, by_header, limit=1)
    for _ in range(3):
        assert (await request(cap, None))[0] == 200  # the SDK's auth answers these
        assert (await request(cap, SEATTLE, path="/health"))[0] == 200
    assert cap.open_sessions(SEATTLE, 0.0) == 0
