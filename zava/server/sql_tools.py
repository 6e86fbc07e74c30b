"""The Zava-compatible SQL tools: table schemas, guarded queries, query plans."""

from __future__ import annotations

import time
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from zava.provision import migrations
from zava.repositories.queries import QueryResult
from zava.server import cached_results, renderers
from zava.server.calls import ToolCall, tool_call
from zava.server.exports import export_link
from zava.server.rendering import fence
from zava.server.state import ServerState, ToolContext
from zava.services.provenance import Provenance, ProvenanceField
from zava.services.queries import QueryLimits, explain_query, run_query
from zava.services.reports import TableSchemas

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MAX_QUERY_CHARS = 100_000


class QueryOutput(BaseModel):
    """Rows of a read-only query, in the caller's stores only."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
    provenance: ProvenanceField = None


class CachedOutput(BaseModel):
    """A query's output as the result cache keeps it, with when it was made."""

    output: QueryOutput
    made_at: float = Field(description="Unix seconds")


class QueryPlan(BaseModel):
    """PostgreSQL's plan for a query (estimated; the query is not run)."""

    plan: list[str]


def _limits(call: ToolCall, *, max_rows: int) -> QueryLimits:
    settings = call.runtime.settings
    return QueryLimits(max_rows=max_rows, max_bytes=settings.max_result_bytes,
                       slow_query_ms=settings.slow_query_ms, max_cost=settings.max_query_cost,
                       max_depth=settings.max_result_depth,
                       log_query_text=settings.log_queries)


async def _run(call: ToolCall, sql: str, *, max_rows: int) -> QueryResult:
    """The free-SQL use case for this call's caller, with the audit facts recorded."""
    result = await run_query(call.witnessed_unit(), call.runtime.guard, sql,
                             _limits(call, max_rows=max_rows),
                             cheap=(call.runtime.cheap_queries, call.caller))
    if result.slow:
        call.runtime.metrics.slow_queries.inc()
    call.rows = result.row_count
    return result


def register(server: MCPServer[ServerState]) -> None:
    """Add the SQL tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def get_multiple_table_schemas(
        table_names: Annotated[list[str], Field(
            description="Tables to describe, e.g. ['retail.orders', 'retail.order_items']; "
                        "empty for all", max_length=20)],
        ctx: ToolContext,
    ) -> Annotated[CallToolResult, TableSchemas]:
        """Describe retail tables before writing SQL: columns, types, keys, foreign keys,
        and valid values (your store names, category names, years with orders)."""
        async with tool_call(ctx, "get_multiple_table_schemas") as call:
            schemas = await cached_results.table_schemas(call, table_names)
            return call.respond(schemas, renderers.table_schemas(schemas))

    @server.tool(annotations=READ_ONLY)
    async def execute_sales_query(
        postgresql_query: Annotated[str, Field(
            description="One PostgreSQL SELECT over the retail.* tables",
            min_length=1, max_length=MAX_QUERY_CHARS)],
        ctx: ToolContext,
    ) -> Annotated[CallToolResult, QueryOutput]:
        """Run one read-only SELECT (WITH, UNION, subqueries allowed) on the retail tables;
        only your stores' rows are visible. Results are capped (truncated=true when cut):
        aggregate in SQL. Call get_multiple_table_schemas first."""
        async with tool_call(ctx, "execute_sales_query") as call:
            runtime = call.runtime
            max_rows = runtime.settings.max_rows

            async def run() -> CachedOutput:
                result = await _run(call, postgresql_query, max_rows=max_rows)
                made = call.stamped(Provenance(sql_hash=call.query_hash, row_cap=(
                    max_rows if result.truncated else None)))
                return CachedOutput(made_at=time.time(), output=QueryOutput(
                    columns=result.columns, rows=result.rows, row_count=result.row_count,
                    truncated=result.truncated, elapsed_ms=round(result.elapsed_ms, 2),
                    provenance=made))

            call.record_query(postgresql_query)
            cached = await runtime.cache.get_or_compute(
                "query", CachedOutput, (migrations.head_revision(), max_rows, postgresql_query),
                runtime.settings.query_cache_ttl_s, run, caller=call.caller)
            output, provenance = cached.output, cached.output.provenance or Provenance()
            if call.witness is None:  # served from the cache
                provenance = provenance.model_copy(update={
                    "cached": True, "cache_age_s": round(time.time() - cached.made_at, 1)})
            call.rows = output.row_count
            links = [export_link(call, {"sql": postgresql_query})] if output.truncated else []
            return call.respond(output, renderers.query_rows(
                output.columns, output.rows, truncated=output.truncated,
                elapsed_ms=output.elapsed_ms), provenance=provenance, links=links)

    @server.tool(annotations=READ_ONLY)
    async def explain_sales_query(
        postgresql_query: Annotated[str, Field(
            description="The SELECT to explain (without EXPLAIN)",
            min_length=1, max_length=MAX_QUERY_CHARS)],
        ctx: ToolContext,
    ) -> Annotated[CallToolResult, QueryPlan]:
        """PostgreSQL's plan for a SELECT, without running it: check that a heavy query
        uses indexes before execute_sales_query. Its shape (scans, joins, indexes) only,
        without cost or row estimates (they would reflect every store, not only yours)."""
        async with tool_call(ctx, "explain_sales_query") as call:
            call.record_query(postgresql_query)
            plan = QueryPlan(plan=await explain_query(call.unit(), call.runtime.guard,
                                                      postgresql_query))
            call.rows = len(plan.plan)
            return call.respond(plan, fence("\n".join(plan.plan)))
