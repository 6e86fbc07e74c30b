"""``query_metrics``: the governed metrics of ``zava.services.metrics_catalog`` by
dimensions, for a period, compared with another; and the catalog as ``zava://metrics``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from zava.charts import shapes
from zava.server import renderers
from zava.server.calls import tool_call
from zava.server.chart_results import ChartFlag, with_chart
from zava.server.exports import export_link
from zava.server.rendering import untrusted_json
from zava.server.sql_tools import READ_ONLY
from zava.server.state import ServerState, ToolContext
from zava.services import metrics as metrics_service
from zava.services import metrics_catalog
from zava.services.exports import MetricsRequest
from zava.services.metrics import CompareTo, MetricsResult
from zava.services.provenance import Provenance, definitions

Names = Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)]
GroupBy = Annotated[tuple[Annotated[str, Field(max_length=40)], ...], Field(max_length=4)]


def register(server: MCPServer[ServerState]) -> None:
    """Add ``query_metrics`` and the ``zava://metrics`` resource to ``server``."""

    @server.tool(annotations=READ_ONLY, description=(
        "Governed metrics for your stores (one definition each; the typed tools' numbers). "
        + metrics_catalog.summary() + " period (as get_store_performance) or start/end "
        "(end included; default last_30_days). filters: {dimension: [values]}, not time. "
        "order_by: a column, optional ' asc'/' desc'."))
    async def query_metrics(
        ctx: ToolContext, metrics: Names, group_by: GroupBy = (),
        filters: dict[str, Annotated[list[Annotated[str, Field(max_length=100)]],
                                     Field(max_length=50)]] | None = None,
        period: Annotated[str | None, Field(max_length=20)] = None,
        start: dt.date | None = None,
        end: dt.date | None = None, compare_to: CompareTo | None = None,
        order_by: Annotated[str | None, Field(max_length=60)] = None,
        limit: Annotated[int, Field(ge=1, le=metrics_service.MAX_LIMIT)] = 100,
        chart: ChartFlag = False,
    ) -> Annotated[CallToolResult, MetricsResult]:
        async with tool_call(ctx, "query_metrics") as call:
            result = await metrics_service.query_metrics(
                call.witnessed_unit(), metrics=metrics, group_by=group_by, filters=filters,
                period=period, start=start, end=end, compare_to=compare_to,
                order_by=order_by, limit=limit, today=call.runtime.today())
            call.rows = len(result.rows)
            made = Provenance(metrics=definitions(result.metrics), start=result.start,
                              end=result.end, filters=result.filters,
                              row_cap=limit if result.truncated else None)
            links = [export_link(call, MetricsRequest(
                metrics=metrics, group_by=list(group_by), filters=filters, period=period,
                start=start, end=end, compare_to=compare_to, order_by=order_by,
                today=call.runtime.today()).model_dump(mode="json"))] if result.truncated else []
            response = call.respond(result, renderers.metrics(result), provenance=made,
                                    links=links)
            return await with_chart(ctx, response, shapes.metrics(result)) if chart else response

    @server.resource("zava://metrics", mime_type="application/json",
                     description="The governed metrics and dimensions of query_metrics")
    def metrics_catalog_resource() -> str:
        return untrusted_json(metrics_catalog.catalog())
