"""Traces: OpenTelemetry spans for each tool call and its parts, and the trace id that
the audit line, error messages and PostgreSQL's ``application_name`` carry.

The MCP SDK already opens a SERVER span per request (``tools/call <tool>``), parented
on the W3C ``traceparent`` of the request's ``_meta`` (``zava.server.trace_context``
adds the HTTP header as the parent when ``_meta`` has none). Zava's spans are its
children: ``zava.tool <tool>``, and under it ``zava.guard``, ``zava.unit`` (with
``zava.unit.enter`` and ``zava.unit.exit``), ``zava.query`` (one per statement) and
``zava.render``.

Spans are recorded when ``configure_tracing`` found or installed an SDK tracer provider:
an OTLP/HTTP exporter behind a batch processor when an OTLP endpoint is configured (or
``ZAVA_TRACES``), or a provider the process already had (a test's in-memory exporter,
``opentelemetry-instrument``). Otherwise every helper here returns at once, with no span
object and no context switch: a call pays one attribute read per helper.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import Token
from dataclasses import dataclass
from functools import wraps
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Span, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from zava.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

TRACER_NAME = "zava"
APPLICATION_NAME_MAX = 63
"""PostgreSQL keeps NAMEDATALEN - 1 bytes of ``application_name``."""
TOOL_CHARS = 16
"""What ``application_name`` keeps of a tool's name: ``zava/`` + 16 + ``/`` + 8 (the
manager) + ``/`` + 32 (the trace id) = 63."""
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_TOOL_CHAR = re.compile(r"[^a-z0-9_]")

_NO_SPAN: nullcontext[None] = nullcontext()


class _Tracing:
    """The tracer spans are made with; None while tracing is off."""

    tracer: Tracer | None = None


_state = _Tracing()


def enabled() -> bool:
    """True when spans are recorded."""
    return _state.tracer is not None


class _Span:
    """``start_as_current_span`` that records a failure as its error code or type only
    (an exception's message can quote the client's query or a database value)."""

    __slots__ = ("_scope", "_span")

    def __init__(self, tracer: Tracer, name: str,
                 attributes: Mapping[str, AttributeValue] | None) -> None:
        self._scope = tracer.start_as_current_span(name, attributes=attributes,
                                                   record_exception=False,
                                                   set_status_on_exception=False)
        self._span: Span | None = None

    def __enter__(self) -> Span:
        self._span = self._scope.__enter__()
        return self._span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        if exc is not None and self._span is not None:
            fail(self._span, exc)
        return self._scope.__exit__(exc_type, exc, tb)


def span(name: str, attributes: Mapping[str, AttributeValue] | None = None,
         ) -> AbstractContextManager[Span | None]:
    """``with span("zava.guard"):`` a child of the current span (None when off)."""
    tracer = _state.tracer
    if tracer is None:
        return _NO_SPAN
    return _Span(tracer, name, attributes)


def tool_span(tool: str, caller: uuid.UUID) -> AbstractContextManager[Span | None]:
    """The span of one tool call, ``zava.tool <tool>``, current until the block ends; its
    outcome is set by ``end_tool_span`` (None when off)."""
    tracer = _state.tracer
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(
        f"zava.tool {tool}", attributes={"zava.tool": tool, "zava.caller": str(caller)},
        record_exception=False, set_status_on_exception=False)


def end_tool_span(span: Span, *, outcome: str, rows: int | None, size: int | None,
                  query_hash: str | None) -> None:
    """What the audit line says about a call, on its span (never a value or query text)."""
    attributes: dict[str, AttributeValue] = {"zava.outcome": outcome}
    if rows is not None:
        attributes["zava.rows"] = rows
    if size is not None:
        attributes["zava.bytes"] = size
    if query_hash is not None:
        attributes["zava.query_hash"] = query_hash
    span.set_attributes(attributes)
    if outcome != "ok":
        span.set_status(StatusCode.ERROR, outcome)


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a plain function so that each call is a span ``name``."""
    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            tracer = _state.tracer
            if tracer is None:
                return function(*args, **kwargs)
            with _Span(tracer, name, None):
                return function(*args, **kwargs)
        return run
    return decorate


def fail(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed with ``error``'s code (a ``ZavaError``) or type name."""
    code = getattr(error, "code", None)
    span.set_status(StatusCode.ERROR, code if isinstance(code, str) else type(error).__name__)


@dataclass
class OpenSpan:
    """A span that stays current from ``open_span`` to ``close``, for work whose start
    and end are two calls (a unit of work's ``__aenter__`` and ``__aexit__``, which run
    in the same task)."""

    span: Span
    token: Token[Context]

    def close(self, error: BaseException | None = None) -> None:
        """End the span (failed when ``error``) and restore the context it replaced."""
        if error is not None:
            fail(self.span, error)
        otel_context.detach(self.token)
        self.span.end()


def open_span(name: str, attributes: Mapping[str, AttributeValue] | None = None,
              ) -> OpenSpan | None:
    """Start ``name`` as the current span until ``OpenSpan.close`` (None when off)."""
    tracer = _state.tracer
    if tracer is None:
        return None
    started = tracer.start_span(name, attributes=attributes, record_exception=False,
                                set_status_on_exception=False)
    return OpenSpan(started, otel_context.attach(trace.set_span_in_context(started)))


def current_trace_id() -> str:
    """The W3C trace id of the current span context as 32 hex digits: the caller's
    (a ``traceparent`` in ``_meta`` or the HTTP headers) or the root the server started.
    Without either (tracing off, no ``traceparent``) a new random id of the same form."""
    trace_id = trace.get_current_span().get_span_context().trace_id
    return f"{trace_id:032x}" if trace_id else uuid.uuid4().hex


def incoming_context(headers: Mapping[str, Any]) -> Context | None:
    """The trace context of a request's ``traceparent`` header or ``_meta`` (with its
    ``tracestate``), or None when it has none or an invalid one."""
    if "traceparent" not in headers:
        return None
    try:
        extracted = extract(headers)
    except (ValueError, TypeError):
        return None
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


@contextmanager
def parented(parent: Context) -> Iterator[None]:
    """Make ``parent`` (``incoming_context``) the current trace context in the block."""
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


def application_name(tool: str, caller: uuid.UUID, trace_id: str) -> str:
    """What a call's transactions show PostgreSQL as ``application_name``
    (``pg_stat_activity``, ``%a`` in ``log_line_prefix``):
    ``zava/<tool>/<manager>/<trace id>``: the tool's first 16 characters (letters,
    digits and underscores only), the first 8 hex digits of the manager id, the 32-hex
    trace id (``-`` when it is not one). At most 63 bytes; only ``[a-z0-9_/-]``."""
    short_tool = _TOOL_CHAR.sub("", tool.lower())[:TOOL_CHARS] or "-"
    manager = uuid.UUID(str(caller)).hex[:8]
    trace_part = trace_id if _TRACE_ID.fullmatch(trace_id) else "-"
    return f"zava/{short_tool}/{manager}/{trace_part}"


class Tracing:
    """What ``configure_tracing`` turned on; ``shutdown`` turns it off again."""

    def __init__(self, *, on: bool = False, provider: Any | None = None) -> None:
        self._on = on
        self._provider = provider

    def shutdown(self) -> None:
        """Stop making spans; when the provider was installed here, export the spans
        still queued and stop its exporter (blocks until sent, or the exporter's
        timeout when the collector is away)."""
        if self._on:
            _state.tracer = None
            self._on = False
        if self._provider is not None:
            provider, self._provider = self._provider, None
            provider.shutdown()


def _sdk_provider() -> object | None:
    """The process's tracer provider when it is a real one (not the API's proxy/no-op)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, ProxyTracerProvider | NoOpTracerProvider):
        return None
    return provider


def traces_endpoint(settings: Settings) -> str | None:
    """Where the OTLP/HTTP exporter sends traces (None: the exporter's default)."""
    if settings.otlp_traces_endpoint:
        return settings.otlp_traces_endpoint
    if settings.otlp_endpoint:
        return settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    return None


def configure_tracing(settings: Settings) -> Tracing:
    """Turn tracing on for this process when it is configured (``ZAVA_TRACES``,
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) or when the
    process already has an SDK tracer provider; otherwise leave it off."""
    existing = _sdk_provider()
    if existing is not None:
        _state.tracer = trace.get_tracer(TRACER_NAME)
        return Tracing(on=True)
    if not (settings.traces or settings.otlp_endpoint or settings.otlp_traces_endpoint):
        return Tracing()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from zava import __version__

    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "zava"}))  # OTEL_SERVICE_NAME wins
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint(settings))))
    trace.set_tracer_provider(provider)
    _state.tracer = provider.get_tracer(TRACER_NAME)
    return Tracing(on=True, provider=provider)
