"""Traces over real HTTP: `zava serve --transport http` exports its spans over OTLP/HTTP
to a collector (a small one here, decoding what it is sent) and flushes them on exit; a
``traceparent`` HTTP header (what a load balancer passes through) or one in the request's
``_meta`` (which wins) puts the call in the client's trace, and the audit line names
that trace. Without an exporter the audit line still follows the caller's trace id."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import http_server
from zava.security.identity import hash_token
from zava.seeding import company

TOKEN = "zava_test_traces_token"
QUERY = "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id) " \
        "GROUP BY 1"
HEADER_TRACE = "0af7651916cd43dd8448eb211c80319c"
META_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "b7ad6b7169203331"


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{PARENT_SPAN}-01"


class Collector:
    """An OTLP/HTTP traces endpoint that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value
                               for a in resource.resource.attributes}["service.name"]
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append({
                                "service": service, "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "attributes": {a.key: a.value for a in span.attributes}})
                collector.paths.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def in_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()


def call(base: str, *, header: str | None = None, meta: str | None = None) -> None:
    """One stateless 2026-07-28 tools/call, as a load balancer forwards it."""
    headers = {"authorization": f"Bearer {TOKEN}",
               "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
               "mcp-name": "execute_sales_query"}
    if header is not None:
        headers["traceparent"] = header
    request_meta: dict[str, Any] = {PROTOCOL_VERSION_META_KEY: "2026-07-28",
                                    CLIENT_CAPABILITIES_META_KEY: {}}
    if meta is not None:
        request_meta["traceparent"] = meta
    response = httpx2.post(base + "/mcp", headers=headers, timeout=60, json={
        "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "_meta": request_meta, "name": "execute_sales_query",
            "arguments": {"postgresql_query": QUERY}}})
    assert response.status_code == 200, response.text
    assert not response.json()["result"].get("isError"), response.text


def audit_trace_ids(log: Path) -> list[str]:
    ids = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            extra = json.loads(line)["record"]["extra"]
            if "audit" in extra:
                ids.append(extra["trace_id"])
    return ids


def serve(server_env: dict[str, str], log: Path, **extra: str) -> Any:
    env = dict(server_env, ZAVA_TOKENS=f"{company.SEATTLE_MANAGER_ID} {hash_token(TOKEN)}",
               ZAVA_LOG_JSON="true", **extra)
    return http_server(env, log)


def test_spans_go_to_the_collector_in_the_callers_trace(
        server_env: dict[str, str], collector: Collector, tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    with serve(server_env, log, OTEL_EXPORTER_OTLP_ENDPOINT=collector.url) as base:
        call(base, header=traceparent(HEADER_TRACE))
        call(base, header=traceparent("1" * 32), meta=traceparent(META_TRACE))
    # the server exited: what was still queued was flushed on the way out
    assert set(collector.paths) == {"/v1/traces"}
    for trace_id in (HEADER_TRACE, META_TRACE):
        spans = collector.in_trace(trace_id)
        names = {s["name"] for s in spans}
        assert {"tools/call execute_sales_query", "zava.tool execute_sales_query",
                "zava.guard", "zava.unit", "zava.unit.enter", "zava.query",
                "zava.unit.exit", "zava.render"} <= names, names
        (request,) = [s for s in spans if s["name"] == "tools/call execute_sales_query"]
        assert request["parent"] == PARENT_SPAN and request["service"] == "zava"
        (tool,) = [s for s in spans if s["name"] == "zava.tool execute_sales_query"]
        assert tool["parent"] == request["span_id"]
        assert tool["attributes"]["zava.outcome"].string_value == "ok"
    assert not collector.in_trace("1" * 32)  # _meta wins over the header
    assert audit_trace_ids(log) == [HEADER_TRACE, META_TRACE]


def test_without_an_exporter_the_audit_line_follows_the_caller(
        server_env: dict[str, str], collector: Collector, tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    with serve(server_env, log) as base:
        call(base, header=traceparent(HEADER_TRACE))
        call(base, meta=traceparent(META_TRACE))
        call(base, header=traceparent("1" * 32), meta=traceparent(META_TRACE))
        call(base)
    first, second, both, neither = audit_trace_ids(log)
    assert (first, second, both) == (HEADER_TRACE, META_TRACE, META_TRACE)  # _meta wins
    assert len(neither) == 32 and neither not in (HEADER_TRACE, META_TRACE)
    assert not collector.spans
