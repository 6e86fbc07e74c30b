"""W3C trace context from HTTP headers.

The SDK parents its request span on the ``traceparent`` of the request's ``_meta``
(SEP-414) and otherwise on the current context. This middleware, outermost, makes a
``traceparent`` HTTP header (what load balancers, gateways and HTTP clients propagate)
the current context, so the SDK's span, and Zava's spans under it, join that trace when
``_meta`` carries none (``_meta`` wins when both do). Each stateless HTTP request
carries its own header; stdio has none.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from zava.observability.tracing import incoming_context, parented


class TraceHeaders:
    """Server middleware: the request's ``traceparent`` header as the trace parent; with
    ``meta`` (tracing off, so the SDK's span middleware is left out) also, and first, the
    ``traceparent`` of the request's ``_meta``: the trace id of the audit line follows
    the caller's trace either way."""

    def __init__(self, *, meta: bool = False) -> None:
        self._meta = meta

    async def __call__(self, ctx: ServerRequestContext[Any, Any],
                       call_next: CallNext) -> HandlerResult:
        parent = incoming_context(ctx.meta) if self._meta and ctx.meta else None
        if parent is None:
            headers = getattr(ctx.request, "headers", None)
            parent = incoming_context(headers) if headers is not None else None
        if parent is None:
            return await call_next(ctx)
        with parented(parent):
            return await call_next(ctx)
