"""What tracing adds to one tool call's CPU, measured on the code it adds (in-process,
no database): the trace-related steps of an `execute_sales_query` call as the server
runs them (tool span, trace id, application_name label and its check, unit span with
enter and exit, guard span, two statements, the render wrapper), against the same steps
before tracing (a 12-hex uuid4 trace id, no label, no spans). Three ways: tracing off
(no exporter configured), on with a batch processor and an exporter that drops
everything (the SDK's own cost), and on with the SDK's in-memory exporter.

    python -m benchmarks.tracing_overhead [--calls 20000]

End-to-end server CPU per call: `benchmarks.server_cpu` with and without
OTEL_EXPORTER_OTLP_ENDPOINT (a sink that answers 200 will do); on a loaded machine its
noise is larger than these differences.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zava.db import transaction
from zava.db.errors import translate_errors
from zava.observability import tracing

CALLER = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
ENTER_VALUES = {"caller": CALLER, "statement_timeout": 30000, "lock_timeout": 1000,
                "idle_timeout": 60000, "work_mem": "16MB"}


@contextlib.contextmanager
def _plain_errors() -> Iterator[None]:
    """``translate_errors`` as it was: a generator context manager, no span."""
    yield


def _render(rows: int) -> str:
    return str(rows)


_traced_render = tracing.traced("zava.render")(_render)


def before() -> None:
    """The same steps without tracing."""
    trace_id = uuid.uuid4().hex[:12]
    transaction._ENTER.format(label="", **ENTER_VALUES)
    with _plain_errors():
        pass
    with _plain_errors():
        pass
    _render(3)
    assert trace_id


def after() -> None:
    """The steps of one call with tracing (on or off)."""
    with tracing.tool_span("execute_sales_query", CALLER) as span:
        trace_id = tracing.current_trace_id()
        label = tracing.application_name("execute_sales_query", CALLER, trace_id)
        assert transaction._LABEL.fullmatch(label)
        with tracing.span("zava.guard"):
            pass
        unit = tracing.open_span("zava.unit", {"zava.write": False})
        with tracing.span("zava.unit.enter"):
            transaction._ENTER.format(label=transaction._SET_LABEL.format(label=label),
                                      **ENTER_VALUES)
        with translate_errors():
            pass
        with translate_errors():
            pass
        with tracing.span("zava.unit.exit"):
            pass
        if unit is not None:
            unit.close(None)
        _traced_render(3)
        if span is not None:
            tracing.end_tool_span(span, outcome="ok", rows=3, size=400,
                                  query_hash="dbd4a7d329cc1885")


def per_call_us(step: Callable[[], None], calls: int) -> float:
    """Median of 5 runs of CPU time per call, in microseconds."""
    samples = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(calls):
            step()
        samples.append((time.process_time() - started) / calls * 1e6)
    return sorted(samples)[2]


class _Dropping(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main(calls: int) -> None:
    base = per_call_us(before, calls)
    off = per_call_us(after, calls)
    print(f"tracing steps of one call: before {base:.1f} us, tracing off {off:.1f} us "
          f"(+{off - base:.1f} us = +{(off - base) / 1000:.4f} ms per call)")
    for name, processor in (("batch, dropping exporter", BatchSpanProcessor(_Dropping())),
                            ("in-memory exporter", SimpleSpanProcessor(InMemorySpanExporter()))):
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracing._state.tracer = provider.get_tracer("zava")
        on = per_call_us(after, calls // 4)
        tracing._state.tracer = None
        provider.shutdown()
        print(f"tracing on ({name}): {on:.1f} us (+{(on - base) / 1000:.3f} ms per call, "
              "8 spans)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    main(parser.parse_args().calls)
