"""The SDK's span middleware is left out while nothing records spans (it would cost a
cheap call a few percent of its CPU), and kept, under Zava's header middleware, when a
tracer provider records them."""

from __future__ import annotations

import uuid

import pytest
from mcp.server._otel import OpenTelemetryMiddleware

from zava.observability import tracing
from zava.server.app import build_server
from zava.server.identity import FixedCaller
from zava.server.runtime import Runtime
from zava.server.trace_context import TraceHeaders


def _kinds(runtime: Runtime) -> list[type]:
    server = build_server(runtime, FixedCaller(uuid.uuid4()))
    return [type(m) for m in server.middleware]


def test_tracing_off_drops_the_sdk_span_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "enabled", lambda: False)
    kinds = _kinds(Runtime.__new__(Runtime))
    assert kinds[0] is TraceHeaders and OpenTelemetryMiddleware not in kinds


def test_tracing_on_keeps_it_inside_the_header_middleware(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "enabled", lambda: True)
    kinds = _kinds(Runtime.__new__(Runtime))
    assert kinds.index(TraceHeaders) < kinds.index(OpenTelemetryMiddleware)
