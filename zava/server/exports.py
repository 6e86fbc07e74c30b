"""Export links for results the row cap cut, and the ``zava://exports/{id}.csv``
resource that serves them.

A link is a signed grant (``zava.security.export_links``) made for the caller: reading it
checks the signature, the expiry and that the reader is that caller, then runs the
request again under the reader's identity in a read-only unit of work, with the export
caps (``ZAVA_EXPORT_MAX_ROWS``, ``ZAVA_EXPORT_MAX_BYTES``), and returns the CSV built
chunk by chunk. Nothing is stored: any worker with the same ``ZAVA_EXPORT_SECRET`` can
serve any link (without it each process signs with its own key, and only that process
can serve its links).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ResourceLink

from zava.errors import ExportRefusedError
from zava.security.export_links import ExportGrant, sign, verify
from zava.server.calls import ToolCall, call_as
from zava.server.state import ServerState, ToolContext
from zava.services.exports import MetricsRequest, metrics_csv, query_csv
from zava.services.queries import QueryLimits

if TYPE_CHECKING:
    from zava.server.runtime import Runtime

SQL_TOOL = "execute_sales_query"
METRICS_TOOL = "query_metrics"


def export_key(runtime: Runtime) -> bytes:
    """``ZAVA_EXPORT_SECRET``, or this process's own key when it is unset."""
    secret = runtime.settings.export_secret
    return secret.get_secret_value().encode() if secret is not None else runtime.process_key


def export_link(call: ToolCall, arguments: dict[str, Any]) -> ResourceLink:
    """A link to every row of ``call`` run again with ``arguments``, for its caller only,
    until ``ZAVA_EXPORT_TTL_S`` from now."""
    settings = call.runtime.settings
    expires = int(time.time() + settings.export_ttl_s)
    grant = ExportGrant(caller=call.caller, tool=call.tool, arguments=arguments,
                        expires=expires)
    until = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%H:%M UTC")
    return ResourceLink(
        type="resource_link", uri=f"zava://exports/{sign(grant, export_key(call.runtime))}.csv",
        name="export.csv", mime_type="text/csv",
        description=f"Every row (up to {settings.export_max_rows:,}) as CSV; readable by you "
                    f"only, until {until}")


def _chunks(call: ToolCall, grant: ExportGrant) -> AsyncGenerator[str]:
    """The CSV chunks of ``grant``'s request, run for ``call``'s caller."""
    settings = call.runtime.settings
    if grant.tool == SQL_TOOL:
        sql = str(grant.arguments["sql"])
        call.record_query(sql)
        limits = QueryLimits(max_rows=settings.export_max_rows,
                             max_bytes=settings.max_result_bytes,
                             slow_query_ms=settings.slow_query_ms,
                             max_cost=settings.max_query_cost,
                             max_depth=settings.max_result_depth)
        return query_csv(call.unit(), call.runtime.guard, sql, limits,
                         max_bytes=settings.export_max_bytes)
    if grant.tool == METRICS_TOOL:
        return metrics_csv(call.unit(), MetricsRequest.model_validate(grant.arguments),
                           max_rows=settings.export_max_rows,
                           max_bytes=settings.export_max_bytes)
    raise ExportRefusedError("this export link names no exportable tool; run the tool again")


async def read_export(state: ServerState, ctx: ToolContext | None, export_id: str) -> str:
    """The CSV of the export ``export_id`` for the caller of ``ctx``, or ``ToolError``
    (refused link, or the re-run failed) with the code and what to do."""
    async with call_as(state, ctx, "resource:export") as call:
        grant = verify(export_id, export_key(call.runtime), reader=call.caller,
                       now=time.time())
        async with aclosing(_chunks(call, grant)) as chunks:
            parts = [chunk async for chunk in chunks]
        call.bytes = sum(len(part.encode()) for part in parts)
        return "".join(parts)


def register(server: MCPServer[ServerState], state: ServerState) -> None:
    """Add the ``zava://exports/{id}.csv`` resource template to ``server``."""

    @server.resource("zava://exports/{export_id}.csv", mime_type="text/csv",
                     description="All rows of a capped result, from the link its tool gave")
    async def export_csv(export_id: str, ctx: ToolContext) -> str:
        try:
            return await read_export(state, ctx, export_id)
        except ToolError as exc:  # a resource read reports a ResourceError's text
            raise ResourceError(str(exc)) from exc
