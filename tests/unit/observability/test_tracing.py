"""Traces without a database: the trace id's form, where it comes from, the
application_name a call's transactions carry (format, 63-byte bound, no way for input to
change its shape), what a unit of work accepts as a label, and what a failed span says."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy.ext.asyncio import create_async_engine

from zava.config import Settings
from zava.db.transaction import Transaction
from zava.errors import QueryRejectedError
from zava.observability import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
MANAGER = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
SHAPE = re.compile(r"zava/[a-z0-9_-]{1,16}/[0-9a-f]{8}/([0-9a-f]{32}|-)")
TOOLS = ["execute_sales_query", "get_multiple_table_schemas", "explain_sales_query",
         "get_store_performance", "get_sales_trend", "get_top_products", "get_low_stock",
         "semantic_search_products", "health_check", "query_metrics"]


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans on a provider of this test only (the process's provider is left alone)."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing._state, "tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_without_a_trace_context_the_id_is_new_random_32_hex() -> None:
    first, second = tracing.current_trace_id(), tracing.current_trace_id()
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_the_callers_traceparent_is_the_trace_id() -> None:
    parent = tracing.incoming_context({"traceparent": TRACEPARENT})
    assert parent is not None
    with tracing.parented(parent):
        assert tracing.current_trace_id() == TRACE_ID
    assert tracing.current_trace_id() != TRACE_ID


@pytest.mark.parametrize("header", [
    "", "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-{TRACE_ID}-{'0' * 16}-01",
    f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01", f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01'",
])
def test_an_invalid_traceparent_is_no_parent(header: str) -> None:
    assert tracing.incoming_context({"traceparent": header}) is None
    assert tracing.incoming_context({}) is None


def test_application_name_names_the_tool_the_manager_and_the_trace() -> None:
    assert tracing.application_name("execute_sales_query", MANAGER, TRACE_ID) == \
        f"zava/execute_sales_qu/f47ac10b/{TRACE_ID}"
    assert tracing.application_name("health_check", MANAGER, TRACE_ID) == \
        f"zava/health_check/f47ac10b/{TRACE_ID}"


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tools_name_fits_in_63_bytes(tool: str) -> None:
    name = tracing.application_name(tool, MANAGER, TRACE_ID)
    assert len(name.encode()) <= tracing.APPLICATION_NAME_MAX == 63
    assert name.split("/")[1] == tool[:16] and name.endswith(TRACE_ID)


@pytest.mark.parametrize(("tool", "trace_id"), [
    ("x', true); SELECT set_config('role', 'postgres', true); --", TRACE_ID),
    ("execute_sales_query", "'); RESET ROLE; --"),
    ("tool\nwith\\breaks \"and\" quotes", TRACE_ID.upper()),
    ("", ""),
])
def test_hostile_input_cannot_change_its_shape(tool: str, trace_id: str) -> None:
    name = tracing.application_name(tool, MANAGER, trace_id)
    assert SHAPE.fullmatch(name), name
    assert "'" not in name and "\\" not in name and " " not in name


@given(st.text(max_size=200), st.uuids(), st.text(max_size=64))
def test_any_input_gives_the_shape(tool: str, manager: uuid.UUID, trace_id: str) -> None:
    name = tracing.application_name(tool, manager, trace_id)
    assert SHAPE.fullmatch(name) and len(name.encode()) <= 63


def _unit(label: str | None) -> Transaction:
    engine = create_async_engine("postgresql+asyncpg://nobody@localhost/nothing")
    return Transaction(engine, Settings(data_dir=Path("/nonexistent")), MANAGER, label=label)


@pytest.mark.parametrize("label", ["a'b", "zava/x y", "", "x" * 64, "a\\b", "zava/é"])
def test_a_unit_refuses_a_label_that_could_reach_the_script(label: str) -> None:
    with pytest.raises(ValueError, match="label"):
        _unit(label)


def test_a_unit_takes_a_calls_label() -> None:
    _unit(tracing.application_name("get_store_performance", MANAGER, TRACE_ID))
    _unit(None)


def test_traces_are_off_unless_configured() -> None:
    settings = Settings(data_dir=Path("/nonexistent"))
    assert not settings.traces and settings.otlp_endpoint is None
    assert tracing.traces_endpoint(settings) is None
    with tracing.span("zava.guard") as span:
        assert span is None or tracing.enabled()


def test_the_otlp_endpoint_settings() -> None:
    base = Settings(data_dir=Path("/nonexistent"), otlp_endpoint="http://collector:4318/")
    assert tracing.traces_endpoint(base) == "http://collector:4318/v1/traces"
    exact = base.model_copy(update={"otlp_traces_endpoint": "http://c:4318/custom"})
    assert tracing.traces_endpoint(exact) == "http://c:4318/custom"


def test_the_environment_names_of_the_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/t")
    settings = Settings(data_dir=Path("/nonexistent"))
    assert settings.otlp_endpoint == "http://collector:4318"
    assert tracing.traces_endpoint(settings) == "http://collector:4318/t"


def test_a_failed_span_says_its_code_not_its_message(exported: InMemorySpanExporter) -> None:
    with pytest.raises(QueryRejectedError), tracing.span("zava.guard"):
        raise QueryRejectedError("secret text of the query")
    with pytest.raises(KeyError), tracing.span("zava.query"):
        raise KeyError("a value")
    guard, query = exported.get_finished_spans()
    assert guard.status.status_code is StatusCode.ERROR
    assert guard.status.description == "query_rejected" and not guard.events
    assert query.status.description == "KeyError" and not query.events


def test_the_tool_span_carries_the_audit_facts(exported: InMemorySpanExporter) -> None:
    with tracing.tool_span("execute_sales_query", MANAGER) as span:
        assert span is not None
        assert tracing.current_trace_id() == f"{span.get_span_context().trace_id:032x}"
        with tracing.span("zava.guard"):
            pass
        tracing.end_tool_span(span, outcome="query_timeout", rows=None, size=12,
                              query_hash="dbd4a7d329cc1885")
    guard, tool = exported.get_finished_spans()
    assert tool.name == "zava.tool execute_sales_query"
    assert guard.parent is not None and tool.context is not None
    assert guard.parent.span_id == tool.context.span_id
    assert dict(tool.attributes or {}) == {
        "zava.tool": "execute_sales_query", "zava.caller": str(MANAGER),
        "zava.outcome": "query_timeout", "zava.bytes": 12,
        "zava.query_hash": "dbd4a7d329cc1885"}
    assert tool.status.description == "query_timeout"


def test_an_open_span_is_current_until_closed(exported: InMemorySpanExporter) -> None:
    opened = tracing.open_span("zava.unit")
    assert opened is not None
    with tracing.span("zava.query"):
        pass
    opened.close(QueryRejectedError("x"))
    query, unit = exported.get_finished_spans()
    assert query.parent is not None and unit.context is not None
    assert query.parent.span_id == unit.context.span_id
    assert unit.status.description == "query_rejected"


def test_a_traced_renderer_is_a_span(exported: InMemorySpanExporter) -> None:
    @tracing.traced("zava.render")
    def render(value: int) -> str:
        return str(value)

    assert render(3) == "3"
    (span,) = exported.get_finished_spans()
    assert span.name == "zava.render"
