"""The Zava-compatible SQL tools: table schemas, guarded queries, query plans."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from zava.db import migrations
from zava.db.unit_of_work import UnitOfWork
from zava.security.query_executor import QueryResult, execute_guarded, plan_top_line
from zava.security.sql_guard import GuardedQuery
from zava.server import cached_results
from zava.server.calls import ToolCall, tool_call
from zava.server.rendering import fence, table
from zava.services.reports import TableSchemas

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MAX_QUERY_CHARS = 100_000


class QueryOutput(BaseModel):
    """Rows of a read-only query, in the caller's stores only."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="True when the row or size cap cut the result")
    elapsed_ms: float


class QueryPlan(BaseModel):
    """PostgreSQL's plan for a query (estimated; the query is not run)."""

    plan: list[str]


async def _log_slow_query(call: ToolCall, uow: UnitOfWork, query: GuardedQuery,
                          elapsed_ms: float) -> None:
    """One warning with the plan's top line (the query text only with --log-queries)."""
    call.runtime.metrics.slow_queries.inc()
    plan = await plan_top_line(uow, query)
    fields = {"trace_id": call.trace_id, "query_hash": call.query_hash,
              "ms": round(elapsed_ms, 1), "plan": plan}
    if call.query_text is not None:
        fields["query"] = call.query_text
    logger.bind(slow_query=True, **fields).warning(
        "slow query " + " ".join(f"{k}={v}" for k, v in fields.items()))


async def _run_guarded(call: ToolCall, sql: str, *, max_rows: int) -> QueryResult:
    """Guard ``sql``, run it in a read unit of work for the caller, record the audit facts."""
    call.record_query(sql)
    runtime = call.runtime
    guarded = runtime.guard.check(sql)
    async with runtime.unit(call.caller) as uow:
        result = await execute_guarded(uow, guarded, max_rows=max_rows,
                                       max_bytes=runtime.settings.max_result_bytes)
        if result.elapsed_ms >= runtime.settings.slow_query_ms:
            await _log_slow_query(call, uow, guarded, result.elapsed_ms)
    call.rows = result.row_count
    return result


def register(server: MCPServer) -> None:
    """Add the SQL tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def get_multiple_table_schemas(
        table_names: Annotated[list[str], Field(
            description="Tables to describe, e.g. ['retail.orders', 'retail.order_items']; "
                        "empty for all", max_length=20)],
        ctx: Context,
    ) -> Annotated[CallToolResult, TableSchemas]:
        """Describe retail tables before writing SQL: columns, types, keys, foreign keys,
        and valid values (your store names, category names, years with orders)."""
        async with tool_call(ctx, "get_multiple_table_schemas") as call:
            schemas = await cached_results.table_schemas(call, table_names)
            lines = []
            for t in schemas.tables:
                cols = ", ".join(f"{c.name} {c.type}{' PK' if c.primary_key else ''}"
                                 f"{' -> ' + c.references if c.references else ''}"
                                 for c in t.columns)
                lines.append(f"{t.table}: {t.description}\n  {cols}")
            values = (f"stores: {', '.join(schemas.store_names)}\n"
                      f"categories: {', '.join(schemas.category_names)}\n"
                      f"order years: {', '.join(map(str, schemas.order_years))}")
            return call.respond(schemas, "\n".join(lines) + "\n" + fence(values))

    @server.tool(annotations=READ_ONLY)
    async def execute_sales_query(
        postgresql_query: Annotated[str, Field(
            description="One PostgreSQL SELECT over the retail.* tables",
            min_length=1, max_length=MAX_QUERY_CHARS)],
        ctx: Context,
    ) -> Annotated[CallToolResult, QueryOutput]:
        """Run one read-only SELECT (WITH/UNION/subqueries allowed) on the retail tables.
        Only your stores' rows are visible. Results are capped (truncated=true when cut);
        aggregate in SQL rather than fetching raw rows. Call get_multiple_table_schemas first."""
        async with tool_call(ctx, "execute_sales_query") as call:
            runtime = call.runtime
            max_rows = runtime.settings.max_rows

            async def run() -> QueryOutput:
                result = await _run_guarded(call, postgresql_query, max_rows=max_rows)
                return QueryOutput(columns=result.columns, rows=result.rows,
                                   row_count=result.row_count, truncated=result.truncated,
                                   elapsed_ms=round(result.elapsed_ms, 2))

            call.record_query(postgresql_query)
            output = await runtime.cache.get_or_compute(
                "query", QueryOutput, (migrations.head_revision(), max_rows, postgresql_query),
                runtime.settings.query_cache_ttl_s, run, caller=call.caller)
            call.rows = output.row_count
            summary = (f"{output.row_count} rows{' (truncated)' if output.truncated else ''}, "
                       f"{output.elapsed_ms} ms")
            return call.respond(output, summary + "\n" + fence(table(output.columns, output.rows)))

    @server.tool(annotations=READ_ONLY)
    async def explain_sales_query(
        postgresql_query: Annotated[str, Field(
            description="The SELECT to explain (without EXPLAIN)",
            min_length=1, max_length=MAX_QUERY_CHARS)],
        ctx: Context,
    ) -> Annotated[CallToolResult, QueryPlan]:
        """Show PostgreSQL's estimated plan for a SELECT without running it, to check
        that a heavy query will use indexes before calling execute_sales_query."""
        async with tool_call(ctx, "explain_sales_query") as call:
            result = await _run_guarded(call, f"EXPLAIN {postgresql_query}", max_rows=1000)
            plan = QueryPlan(plan=[str(row[0]) for row in result.rows])
            return call.respond(plan, "\n".join(plan.plan))
