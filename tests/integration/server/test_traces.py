"""Traces of real tool calls, in-process: the SDK's in-memory exporter receives one trace
per call (the SDK's request span, Zava's tool span, and the guard, unit of work, query
and rendering under it), a client's trace context carries over, the audit line names the
same trace id, and a DBA reading pg_stat_activity during a slow call sees the tool, the
manager and the trace id in the caller's backend (and no longer once it is over), and in
PostgreSQL's log with ``%a`` in log_line_prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from loguru import logger
from mcp import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.observability import tracing
from zava.provision.embedded import EmbeddedCluster
from zava.seeding import company
from zava.server.app import build_server
from zava.server.identity import FixedCaller
from zava.server.runtime import Runtime, open_runtime

QUERY = "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id) " \
        "GROUP BY 1"
SLOW = "SELECT count(*) FROM generate_series(1, 100000000000)"
"""Runs until the statement timeout (2.5 s here) whatever the machine's speed."""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter on the process's SDK tracer provider (installed here when
    the process has none yet; a provider can be set once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert isinstance(provider, TracerProvider)
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    yield exported
    exported.shutdown()  # spans of later modules are dropped, not kept in memory


@pytest.fixture(scope="module")
async def runtime(seeded_database: EmbeddedCluster, settings: Settings,
                  exporter: InMemorySpanExporter) -> AsyncIterator[Runtime]:
    served = settings.model_copy(update={"database_url": seeded_database.app_url,
                                         "max_query_cost": 0.0,
                                         "statement_timeout_ms": 2500})
    async with open_runtime(served, shared=False) as opened:
        assert tracing.enabled()  # the runtime adopted the process's provider
        yield opened
    assert not tracing.enabled()


@pytest.fixture
def audits() -> Iterator[list[dict[str, Any]]]:
    """The audit lines logged during the test (their fields)."""
    lines: list[dict[str, Any]] = []
    sink = logger.add(lambda message: lines.append(dict(message.record["extra"])),
                      level="INFO", filter=lambda record: "audit" in record["extra"])
    yield lines
    logger.remove(sink)


def _tree(spans: tuple[ReadableSpan, ...], root: ReadableSpan) -> dict[str, list[str]]:
    """Span name -> names of its children, from ``root`` down."""
    children: dict[str, list[str]] = {}
    todo = [root]
    while todo:
        span = todo.pop()
        assert span.context is not None
        kids = [s for s in spans
                if s.parent is not None and s.parent.span_id == span.context.span_id]
        children[span.name] = sorted(s.name for s in kids)
        todo.extend(kids)
    return children


def _named(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    (found,) = [s for s in spans if s.name == name]
    return found


async def test_one_call_is_one_trace_with_its_parts(
        runtime: Runtime, exporter: InMemorySpanExporter,
        audits: list[dict[str, Any]]) -> None:
    server = build_server(runtime, FixedCaller(company.SEATTLE_MANAGER_ID))
    async with Client(server) as client:
        exporter.clear()
        result = await client.call_tool("execute_sales_query", {"postgresql_query": QUERY})
    assert not result.is_error
    spans = exporter.get_finished_spans()
    request = _named(spans, "tools/call execute_sales_query")  # the SDK's SERVER span
    tool = _named(spans, "zava.tool execute_sales_query")
    assert tool.parent is not None and request.context is not None
    assert tool.parent.span_id == request.context.span_id
    tree = _tree(spans, tool)
    assert tree["zava.tool execute_sales_query"] == [
        "zava.guard", "zava.render", "zava.unit"]
    unit = tree["zava.unit"]  # the query (and any other statement of the unit)
    assert {"zava.unit.enter", "zava.query", "zava.unit.exit"} == set(unit)
    assert tool.context is not None
    trace_ids = {s.context.trace_id for s in spans
                 if s.context is not None and s.name != "tools/list"}
    assert trace_ids == {tool.context.trace_id}
    attributes = dict(tool.attributes or {})
    assert attributes["zava.tool"] == "execute_sales_query"
    assert attributes["zava.caller"] == str(company.SEATTLE_MANAGER_ID)
    assert attributes["zava.outcome"] == "ok" and attributes["zava.rows"] == 1
    assert isinstance(attributes["zava.bytes"], int) and attributes["zava.bytes"] > 0
    assert len(str(attributes["zava.query_hash"])) == 16
    (audit,) = audits
    assert audit["trace_id"] == f"{tool.context.trace_id:032x}"
    assert "retail.orders" not in str([dict(s.attributes or {}) for s in spans])


async def test_the_clients_trace_context_is_the_parent(
        runtime: Runtime, exporter: InMemorySpanExporter,
        audits: list[dict[str, Any]]) -> None:
    # An instrumented client in a trace (here: one started from a traceparent header)
    # sends its context in _meta; the server's spans join that trace.
    server = build_server(runtime, FixedCaller(company.SEATTLE_MANAGER_ID))
    parent = tracing.incoming_context({"traceparent": TRACEPARENT})
    assert parent is not None
    async with Client(server) as client:
        exporter.clear()
        with tracing.parented(parent):
            result = await client.call_tool("get_store_performance", {"period": "last_30_days"})
    assert not result.is_error, result.content
    spans = exporter.get_finished_spans()
    tool = _named(spans, "zava.tool get_store_performance")
    assert tool.context is not None and f"{tool.context.trace_id:032x}" == TRACE_ID
    names = {s.name for s in spans if s.context is not None
             and f"{s.context.trace_id:032x}" == TRACE_ID}
    assert {"zava.unit", "zava.query", "zava.render"} <= names
    (audit,) = audits
    assert audit["trace_id"] == TRACE_ID


async def test_a_refused_query_fails_its_span_without_the_query_text(
        runtime: Runtime, exporter: InMemorySpanExporter) -> None:
    server = build_server(runtime, FixedCaller(company.SEATTLE_MANAGER_ID))
    async with Client(server) as client:
        exporter.clear()
        result = await client.call_tool("execute_sales_query",
                                        {"postgresql_query": "DELETE FROM retail.orders"})
    assert result.is_error
    spans = exporter.get_finished_spans()
    tool = _named(spans, "zava.tool execute_sales_query")
    guard = _named(spans, "zava.guard")
    assert tool.status.description == "query_rejected"
    assert guard.status.description == "query_rejected"
    assert not [s for s in spans if s.name == "zava.unit"]  # no connection was taken
    assert "DELETE" not in str([(s.attributes, s.status.description, s.events)
                                for s in spans])


async def _backends(admin: AsyncEngine) -> list[tuple[int, str, str]]:
    async with admin.connect() as connection:
        rows = await connection.execute(text(
            "SELECT pid, application_name, state FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND usename = 'zava_app'"))
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def _log_line_prefix(admin: AsyncEngine, prefix: str | None) -> None:
    """Set the cluster's log_line_prefix (None: back to the default) and reload."""
    async with admin.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if prefix is None:
            await autocommit.execute(text("ALTER SYSTEM RESET log_line_prefix"))
        else:
            await autocommit.execute(text(f"ALTER SYSTEM SET log_line_prefix = '{prefix}'"))
        await autocommit.execute(text("SELECT pg_reload_conf()"))


async def test_a_dba_sees_the_call_in_pg_stat_activity_and_the_log(
        runtime: Runtime, seeded_admin_engine: AsyncEngine, seeded_database: EmbeddedCluster,
        audits: list[dict[str, Any]]) -> None:
    server = build_server(runtime, FixedCaller(company.SEATTLE_MANAGER_ID))
    seen: list[tuple[int, str, str]] = []
    log = seeded_database.data_dir / "log"  # the embedded cluster's server log
    logged_before = log.stat().st_size
    await _log_line_prefix(seeded_admin_engine, "%m [%p] %a ")  # what README advises
    async with Client(server) as client:
        call = asyncio.create_task(
            client.call_tool("execute_sales_query", {"postgresql_query": SLOW}))
        while not call.done() and not seen:
            seen = [b for b in await _backends(seeded_admin_engine)
                    if b[1].startswith("zava/") and b[2] == "active"]
            await asyncio.sleep(0.02)
        result = await call
    assert result.is_error  # the statement timeout ended it
    (audit,) = audits
    assert audit["outcome"] == "query_timeout"
    ((pid, name, _),) = seen
    manager = uuid.UUID(str(company.SEATTLE_MANAGER_ID)).hex[:8]
    assert name == f"zava/execute_sales_qu/{manager}/{audit['trace_id']}"
    assert len(name.encode()) <= 63
    after = {b[0]: b[1] for b in await _backends(seeded_admin_engine)}
    assert after[pid] == runtime.settings.application_name  # idle in the pool: "zava"
    await _log_line_prefix(seeded_admin_engine, None)
    with log.open("rb") as lines:
        lines.seek(logged_before)
        logged = lines.read().decode(errors="replace")
    assert f"[{pid}] {name} ERROR:  canceling statement due to statement timeout" in logged
