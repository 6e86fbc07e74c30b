"""Running one tool call: the caller's identity, timing, the audit line, and errors
turned into tool errors the model can act on (never a stack trace or server internals)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, ResourceLink, TextContent
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.errors import ZavaError
from zava.observability import tracing
from zava.server.renderers import provenance_line
from zava.server.state import ServerState, ToolContext
from zava.services import queries
from zava.services.provenance import Provenance, WitnessedUnitOfWork, witnessed
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

if TYPE_CHECKING:
    from zava.server.runtime import Runtime


@dataclass
class ToolCall:
    """What the audit line records about a call (never the values)."""

    tool: str
    caller: uuid.UUID
    runtime: Runtime
    trace_id: str = field(default_factory=tracing.current_trace_id)
    """The W3C trace id (32 hex) of the call's trace: the client's ``traceparent``, or
    the root the server started, or a random one when neither exists."""
    query_hash: str | None = None
    query_text: str | None = None
    rows: int | None = None
    bytes: int | None = None
    witness: WitnessedUnitOfWork | None = None

    def record_query(self, sql: str) -> None:
        """Remember a hash of the query text (and, with --log-queries, the text)."""
        self.query_hash = queries.query_hash(sql)
        if self.runtime.settings.log_queries:
            self.query_text = sql

    def unit(self) -> SqlAlchemyUnitOfWork:
        """A read unit of work for this call's caller, for a service to enter. PostgreSQL
        shows it with the call's ``label`` as its application_name."""
        return self.runtime.unit(self.caller, label=self.label)

    @property
    def label(self) -> str:
        """``zava/<tool>/<manager>/<trace id>``: what a DBA sees of this call."""
        return tracing.application_name(self.tool, self.caller, self.trace_id)

    def witnessed_unit(self) -> WitnessedUnitOfWork:
        """``unit()`` that also notes the data's freshness for this call's provenance."""
        self.witness = witnessed(self.runtime.units, self.caller, label=self.label,
                                 memory=self.runtime.freshness)
        return self.witness

    def stamped(self, provenance: Provenance) -> Provenance:
        """``provenance`` with this call's trace id and, when a witnessed unit ran, the
        newest visible order's date and the serving replica's lag."""
        update: dict[str, object] = {"trace_id": self.trace_id}
        freshness = self.witness.freshness if self.witness is not None else None
        if freshness is not None:
            update.update(as_of=freshness.as_of,
                          replica_lag_s=_replica_lag(self.runtime, freshness.engine))
        return provenance.model_copy(update=update)

    def respond(self, model: BaseModel, text: str, *, provenance: Provenance | None = None,
                links: Sequence[ResourceLink] = ()) -> CallToolResult:
        """The tool's result: ``model`` as structured content, ``text`` for the model to
        read, then any resource ``links``; the text's size goes into the audit line. With
        ``provenance`` (stamped here), the structured content carries it and the text
        ends with its one-line summary."""
        structured = model.model_dump(mode="json")
        if provenance is not None:
            provenance = self.stamped(provenance)
            structured["provenance"] = provenance.model_dump(mode="json", exclude_defaults=True)
            text += "\n" + provenance_line(provenance)
        self.bytes = len(text.encode())
        content: list[ContentBlock] = [TextContent(type="text", text=text), *links]
        return CallToolResult(content=content, structured_content=structured)


def _replica_lag(runtime: Runtime, engine: AsyncEngine) -> float | None:
    """The last measured lag of the replica behind ``engine``; None for the primary."""
    lag = runtime.replicas.lag_of(engine) if runtime.replicas is not None else None
    return round(lag, 3) if lag is not None else None


async def runtime_of(ctx: ToolContext) -> Runtime:
    """The runtime the server's lifespan created (once open; ``ToolError`` with the
    runtime's error if it could not open)."""
    try:
        return await ctx.request_context.lifespan_context.opened()
    except ZavaError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc


def tool_call(ctx: ToolContext, tool: str) -> AbstractAsyncContextManager[ToolCall]:
    """``call_as`` for a tool: the server state comes from the request context."""
    return call_as(ctx.request_context.lifespan_context, ctx, tool)


@asynccontextmanager
async def call_as(state: ServerState, ctx: ToolContext | None,
                  tool: str) -> AsyncIterator[ToolCall]:
    """Resolve the caller, then run the body; log one audit line whatever happens. Log
    lines written during the call (the slow-query line) carry its trace id. The call is
    the trace span ``zava.tool <tool>``, a child of the SDK's request span."""
    try:
        caller = state.identity.caller(ctx)
        if state.opening:
            await state.opened()  # a call made while the runtime opens waits for it
    except ZavaError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc
    with tracing.tool_span(tool, caller) as span:
        call = ToolCall(tool=tool, caller=caller, runtime=state.runtime)
        started = time.perf_counter()
        outcome = "ok"
        try:
            with logger.contextualize(trace_id=call.trace_id):
                async with state.runtime.admitted(caller):
                    yield call
        except ZavaError as exc:
            outcome = exc.code
            raise ToolError(f"{exc.code}: {exc.message}") from exc
        except ToolError:
            outcome = "tool_error"
            raise
        except Exception as exc:
            outcome = "internal_error"
            logger.opt(exception=exc).error("tool {} failed (trace {})", tool, call.trace_id)
            raise ToolError(
                f"internal_error: the call failed unexpectedly (trace id {call.trace_id}); "
                "try again, or report the trace id"
            ) from exc
        finally:
            seconds = time.perf_counter() - started
            state.runtime.metrics.observe_call(tool, outcome, seconds, call.rows, call.bytes)
            fields = {"trace_id": call.trace_id, "caller": str(caller), "tool": tool,
                      "query_hash": call.query_hash, "rows": call.rows, "bytes": call.bytes,
                      "ms": round(seconds * 1000, 1), "outcome": outcome}
            fields.update(_principal())
            if call.query_text is not None:
                fields["query"] = call.query_text
            logger.bind(audit=True, **fields).info(
                "audit " + " ".join(f"{k}={v}" for k, v in fields.items()))
            if span is not None:
                tracing.end_tool_span(span, outcome=outcome, rows=call.rows, size=call.bytes,
                                      query_hash=call.query_hash)


def _principal() -> dict[str, str]:
    """The OAuth issuer and subject of the request's verified token (never the token
    itself); nothing for static tokens, headers and stdio."""
    token = get_access_token()
    issuer = (token.claims or {}).get("iss") if token is not None else None
    if token is None or issuer is None or token.subject is None:
        return {}
    return {"issuer": str(issuer), "subject": token.subject}
